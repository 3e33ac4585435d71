"""A real redis-server for the shared rate-limit tests: started on a free loopback port
with its own temp dir and no persistence (never the system service), optionally with
TLS and a password."""

from __future__ import annotations

import socket
import ssl
import subprocess
import time
from pathlib import Path
from typing import Optional

from gh_upstream import free_port


class RedisServer:
    def __init__(self, workdir: Path, tls_pki=None, password: Optional[str] = None,
                 port: Optional[int] = None):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.tls_pki = tls_pki
        self.password = password
        self.proc: Optional[subprocess.Popen] = None

    def start(self) -> "RedisServer":
        cmd = ["redis-server", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
               "--dir", str(self.workdir), "--daemonize", "no", "--protected-mode", "no"]
        if self.tls_pki:
            cmd += ["--port", "0", "--tls-port", str(self.port),
                    "--tls-cert-file", str(self.tls_pki.cert_file),
                    "--tls-key-file", str(self.tls_pki.key_file),
                    "--tls-ca-cert-file", str(self.tls_pki.ca_file),
                    "--tls-auth-clients", "no"]
        else:
            cmd += ["--port", str(self.port)]
        if self.password:
            cmd += ["--requirepass", self.password]
        self.log = open(self.workdir / "redis.log", "ab")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)
        end = time.monotonic() + 10
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise AssertionError("redis-server exited:\n" + (self.workdir / "redis.log").read_text())
            try:
                if self.command("PING") in (b"+PONG", b"-NOAUTH Authentication required."):
                    return self
            except OSError:
                pass
            time.sleep(0.02)
        raise AssertionError("redis-server did not answer PING within 10 s")

    def _connect(self):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=2)
        if self.tls_pki:
            ctx = ssl.create_default_context(cafile=str(self.tls_pki.ca_file))
            s = ctx.wrap_socket(s, server_hostname="localhost")
        return s

    def command(self, *args: str) -> bytes:
        """One command (after AUTH when a password is set); the first reply line."""
        with self._connect() as s:
            cmds = ([("AUTH", self.password)] if self.password else []) + [args]
            for cmd in cmds:
                wire = f"*{len(cmd)}\r\n".encode()
                for a in cmd:
                    b = a.encode()
                    wire += b"$%d\r\n%s\r\n" % (len(b), b)
                s.sendall(wire)
                data = b""
                while b"\r\n" not in data:
                    chunk = s.recv(4096)
                    if not chunk:
                        raise OSError("closed")
                    data += chunk
            return data.split(b"\r\n")[0]

    def info(self, section: str) -> dict:
        """INFO SECTION as a dict of its "name:value" lines."""
        with self._connect() as s:
            cmds = ([("AUTH", self.password)] if self.password else []) + [("INFO", section)]
            wire = b""
            for cmd in cmds:
                wire += f"*{len(cmd)}\r\n".encode()
                for a in cmd:
                    b = a.encode()
                    wire += b"$%d\r\n%s\r\n" % (len(b), b)
            s.sendall(wire)
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    raise OSError("closed")
                data += chunk
                head, sep, rest = data.rpartition(b"$")
                if sep and b"\r\n" in rest:
                    size = int(rest.split(b"\r\n")[0])
                    body = rest.split(b"\r\n", 1)[1]
                    if len(body) >= size + 2:
                        break
        text = body[:size].decode()
        return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        if getattr(self, "log", None):
            self.log.close()
