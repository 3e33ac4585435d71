"""Helpers for bench/proxy.py: child processes, /proc readings, wrk output, JWT minting.

Standard library only (plus the openssl command for ES256 signatures).
"""

import base64
import hashlib
import hmac
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import time


# ---------------------------------------------------------------- processes ----

class Proc:
    """A child in its own process group, so stopping it stops whatever it forked."""

    def __init__(self, name, argv, stdout=None, stderr=None, cwd=None, env=None):
        self.name = name
        self.argv = argv
        self.popen = subprocess.Popen(argv, stdout=stdout or subprocess.DEVNULL,
                                      stderr=stderr or subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                                      cwd=cwd, env=env, start_new_session=True)
        self.pid = self.popen.pid

    def alive(self):
        return self.popen.poll() is None

    def stop(self):
        if self.popen.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, 5), (signal.SIGKILL, 5)):
            try:
                os.killpg(self.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.popen.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue


def read_stat(pid):
    """(ppid, utime+stime ticks) of one process (all its threads), or None if gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return None
    rest = s[s.rfind(")") + 2:].split()  # rest[0] is field 3 (state)
    return int(rest[1]), int(rest[11]) + int(rest[12])


def children(pid):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = read_stat(int(d))
            if st and st[0] == pid:
                out.append(int(d))
    return out


def cpu_times():
    """{cpu: (busy, total)} jiffies per CPU from /proc/stat."""
    out = {}
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("cpu") and line[3].isdigit():
                name, *vals = line.split()
                vals = [int(v) for v in vals[:8]]  # user nice system idle iowait irq softirq steal
                out[name[3:]] = (sum(vals) - vals[3] - vals[4], sum(vals))
    return out


def busy_percent(before, after, cpu):
    (b0, t0), (b1, t1) = before[cpu], after[cpu]
    return 100.0 * (b1 - b0) / (t1 - t0) if t1 > t0 else None


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def free_ports(n):
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def http_get(port, path, headers=None, timeout=2.0):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers or {})
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def wait_ready(port, path, proc, timeout=60.0, ok=(200,)):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if proc is not None and not proc.alive():
            raise RuntimeError(f"{proc.name} exited with status {proc.popen.returncode}")
        try:
            status, _ = http_get(port, path)
            if status in ok:
                return
            last = f"status {status}"
        except OSError as e:
            last = str(e)
        time.sleep(0.1)
    raise RuntimeError(f"port {port} not ready after {timeout:.0f}s ({last})")


def fill(path, **values):
    text = path.read_text()
    for k, v in values.items():
        text = text.replace(f"@{k}@", str(v))
    left = re.findall(r"@[A-Z_]+@", text)
    if left:
        raise RuntimeError(f"{path.name}: unfilled placeholders {left}")
    return text


# ---------------------------------------------------------------- wrk output ----

UNIT_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def to_ms(text):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    if not m:
        raise ValueError(f"unknown wrk duration {text!r}")
    return float(m.group(1)) * UNIT_MS[m.group(2)]


def parse_wrk(out):
    def grab(pattern, conv=float, default=None):
        m = re.search(pattern, out, re.M)
        return conv(m.group(1)) if m else default

    res = {
        "rps": grab(r"^Requests/sec:\s+([\d.]+)"),
        "requests": grab(r"^\s*(\d+) requests in", int, 0),
        "seconds": grab(r"^\s*\d+ requests in ([\d.]+(?:us|ms|s|m|h))", lambda t: to_ms(t) / 1e3),
        "p50": grab(r"^\s+50%\s+(\S+)", to_ms),
        "p99": grab(r"^\s+99%\s+(\S+)", to_ms),
        "non2xx": grab(r"Non-2xx or 3xx responses:\s+(\d+)", int, 0),
    }
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    res["sock_errors"] = sum(int(x) for x in m.groups()) if m else 0
    if res["rps"] is None or res["p50"] is None:
        raise RuntimeError(f"cannot parse wrk output:\n{out}")
    return res


# ---------------------------------------------------------------- jwt ----

def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt_signing_input(alg, claims):
    header = b64url(json.dumps({"alg": alg, "typ": "JWT"}, separators=(",", ":")).encode())
    payload = b64url(json.dumps(claims, separators=(",", ":")).encode())
    return f"{header}.{payload}"


def make_jwt_hs256(claims, secret):
    si = jwt_signing_input("HS256", claims)
    return f"{si}.{b64url(hmac.new(secret, si.encode(), hashlib.sha256).digest())}"


def make_jwt_es256(claims, key_pem):
    si = jwt_signing_input("ES256", claims)
    der = subprocess.run(["openssl", "dgst", "-sha256", "-sign", str(key_pem)], input=si.encode(),
                         capture_output=True, check=True).stdout
    # DER: SEQUENCE { INTEGER r, INTEGER s } -> JOSE: r || s, 32 bytes each.
    assert der[0] == 0x30
    i = 2 if der[1] < 0x80 else 2 + (der[1] & 0x7F)
    ints = []
    for _ in range(2):
        assert der[i] == 0x02
        n = der[i + 1]
        ints.append(int.from_bytes(der[i + 2:i + 2 + n], "big").to_bytes(32, "big"))
        i += 2 + n
    return f"{si}.{b64url(ints[0] + ints[1])}"
