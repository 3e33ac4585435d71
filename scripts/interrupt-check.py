#!/usr/bin/python3
"""Presses Ctrl-C on `make run` the way a terminal does, and checks it ends cleanly.

    /usr/bin/python3 scripts/interrupt-check.py [--timeout S] -- make run

Runs the command in a new session on a pseudo-terminal (so it is the foreground process
group there, as in a shell), with DEMO_FREE_PORTS=1 so that it can run beside a real
`make run`. Once the demo's gatehouse answers /readyz, writes ^C (0x03) to the terminal:
the line discipline sends SIGINT to the terminal's foreground process group, exactly as
a key press would. Then checks that the command exits 0, that make printed no
"Interrupt"/"Error", and that gatehouse and the upstreams are gone (their ports refuse
connections). Exit status 0 when all holds; else 1, with the command's output.
"""

import argparse
import os
import pty
import re
import select
import signal
import socket
import sys
import time
import urllib.request


class Terminal:
    def __init__(self, argv, env):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            try:
                os.execvpe(argv[0], argv, env)
            finally:
                os._exit(127)
        self.output = b""

    def pump(self, seconds):
        """Reads what the command writes for up to `seconds`; False once it closed the pty."""
        end = time.monotonic() + seconds
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return True
            ready, _, _ = select.select([self.fd], [], [], left)
            if not ready:
                return True
            try:
                data = os.read(self.fd, 65536)
            except OSError:      # EIO: every process holding the pty has gone
                return False
            if not data:
                return False
            self.output += data

    def text(self):
        return self.output.decode(errors="replace").replace("\r\n", "\n")

    def wait(self, seconds):
        """The command's exit status, or None if it is still running after `seconds`."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.pump(0.2)
                return os.waitstatus_to_exitcode(status)
            self.pump(0.1)
        return None

    def kill(self):
        """SIGKILLs whatever is left of the command: every process of its session."""
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == self.pid:     # field 6, the session id
                try:
                    os.kill(int(entry), signal.SIGKILL)
                except ProcessLookupError:
                    pass
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass


def ready(address):
    try:
        with urllib.request.urlopen(f"http://{address}/readyz", timeout=1) as r:
            return r.status == 200
    except OSError:
        return False


def port_closed(port):
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) != 0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--timeout", type=float, default=120, help="for the demo to start")
    parser.add_argument("command", nargs="+")
    args = parser.parse_args()

    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    env["DEMO_FREE_PORTS"] = "1"
    term = Terminal(args.command, env)
    problems = []
    try:
        deadline = time.monotonic() + args.timeout
        address = None
        while time.monotonic() < deadline and address is None:
            if not term.pump(0.2):
                break
            m = re.search(r"gatehouse will listen on (\d+\.\d+\.\d+\.\d+:\d+)", term.text())
            if m:
                address = m.group(1)
        while address and time.monotonic() < deadline and not ready(address):
            term.pump(0.1)
        if not address or not ready(address):
            print("interrupt-check: the demo did not come up; its output:")
            print(term.text())
            return 1
        upstreams = [int(p) for p in re.findall(r"=(\d+)", re.search(
            r"Demo upstreams: (.*)", term.text()).group(1))]

        os.write(term.fd, b"\x03")     # Ctrl-C
        status = term.wait(30)
        if status is None:
            problems.append("still running 30 s after Ctrl-C")
        elif status != 0:
            problems.append(f"exit status {status} after Ctrl-C, expected 0")
        for word in ("Interrupt", "Error"):
            if re.search(rf"make(\[\d+\])?: \*\*\*.*{word}", term.text()):
                problems.append(f"make reported {word!r}")
        ports = [int(address.rsplit(":", 1)[1])] + upstreams
        still = [p for p in ports if not port_closed(p)]
        if still:
            problems.append(f"ports still open after the demo ended: {still}")
        if "gatehouse stopped" not in term.text():
            problems.append("gatehouse did not log 'gatehouse stopped' (no clean drain)")
    finally:
        term.kill()

    if problems:
        print("interrupt-check: " + "; ".join(problems) + "; the output was:")
        print(term.text())
        return 1
    if os.environ.get("INTERRUPT_CHECK_VERBOSE"):
        print(term.text())
    print(f"interrupt-check: Ctrl-C on '{' '.join(args.command)}': exit 0, "
          f"no make Interrupt, gatehouse and {len(upstreams)} upstreams stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
