"""Starting and stopping the real gatehouse binary."""

from __future__ import annotations

import copy
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Optional, Union

import yaml

from gh_raw import RawConn, RawResponse, build_request, ConnectionClosed

REPO = Path(__file__).resolve().parents[2]
READY_DEADLINE = 10.0
STOP_DEADLINE = 10.0


def gatehouse_bin() -> str:
    return os.environ.get("GATEHOUSE_BIN") or str(REPO / "build" / "gatehouse")


def pick_port() -> int:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def endpoint(url: str, **kw) -> dict:
    """An endpoint mapping; health checks are off unless the test asks for them, so
    that upstreams only see the requests a test sends."""
    ep = {"url": url}
    ep.update(kw)
    ep.setdefault("health_check", False)
    return ep


def build_config(cfg: dict, port: int) -> dict:
    cfg = copy.deepcopy(cfg)
    cfg.setdefault("listen", f"127.0.0.1:{port}")
    cfg.setdefault("threads", 2)
    cfg.setdefault("shutdown_grace", "5s")
    d = cfg.setdefault("defaults", {})
    d.setdefault("connect_timeout", "500ms")
    d.setdefault("timeout", "10s")
    for ep in cfg.get("endpoints", []) or []:
        if isinstance(ep, dict):
            ep.setdefault("health_check", False)
    return cfg


class Gateway:
    def __init__(self, config: Union[dict, str], workdir: Path, args=(), env=None,
                 style: str = "run", name: str = "gatehouse", client_tls=None):
        # client_tls: an ssl.SSLContext for a gateway whose listener speaks TLS; every
        # helper below (readiness included) then talks TLS.
        self.client_tls = client_tls
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = pick_port()
        self.config_path = self.workdir / f"{name}.yaml"
        if isinstance(config, str):
            text = config.replace("@PORT@", str(self.port))
            if not any(line.startswith("listen:") for line in text.splitlines()):
                text = f"listen: 127.0.0.1:{self.port}\n" + text
        else:
            text = yaml.safe_dump(build_config(config, self.port), sort_keys=False)
        self.config_text = text
        self.config_path.write_text(text)
        self.stderr_path = self.workdir / f"{name}.stderr.log"
        self.stdout_path = self.workdir / f"{name}.stdout.log"
        self.args = list(args)
        self.env = dict(os.environ)
        self.env.pop("GATEHOUSE_LOG_LEVEL", None)
        self.env.update(env or {})
        self.style = style
        self.proc: Optional[subprocess.Popen] = None
        self.returncode: Optional[int] = None

    # -- lifecycle -------------------------------------------------------------
    def start(self, wait: bool = True) -> "Gateway":
        cmd = [gatehouse_bin()]
        if self.style == "run":
            cmd += ["run"]
        cmd += ["-c", str(self.config_path)] + self.args
        self._err = open(self.stderr_path, "wb")
        self._out = open(self.stdout_path, "wb")
        self.proc = subprocess.Popen(cmd, stdout=self._out, stderr=self._err,
                                     stdin=subprocess.DEVNULL, env=self.env, cwd=self.workdir)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, deadline: float = READY_DEADLINE) -> None:
        end = time.monotonic() + deadline
        last = None
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"gatehouse exited with {self.proc.returncode} before it was ready\n"
                    f"config:\n{self.config_text}\nlog:\n{self.log_text()}")
            try:
                with RawConn(self.port, timeout=1.0, tls=self.client_tls) as c:
                    r = c.request(build_request("GET", "/readyz"))
                    if r.status == 200:
                        return
                    last = r
            except (OSError, ConnectionClosed) as e:
                last = e
            time.sleep(0.01)
        raise AssertionError(f"gatehouse not ready within {deadline}s (last: {last!r})\n"
                             f"log:\n{self.log_text()}")

    def signal(self, sig=signal.SIGTERM) -> None:
        self.proc.send_signal(sig)

    def wait_exit(self, timeout: float = STOP_DEADLINE) -> int:
        try:
            self.returncode = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            raise AssertionError(f"gatehouse did not exit within {timeout}s\nlog:\n{self.log_text()}")
        return self.returncode

    def stop(self, timeout: float = STOP_DEADLINE) -> int:
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        rc = self.wait_exit(timeout)
        self._close_files()
        return rc

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        self._close_files()

    def _close_files(self) -> None:
        for f in (getattr(self, "_err", None), getattr(self, "_out", None)):
            if f is not None and not f.closed:
                f.close()

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    # -- talking to it ---------------------------------------------------------
    def url(self, path: str = "/") -> str:
        scheme = "https" if self.client_tls else "http"
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def connect(self, timeout: float = 5.0) -> RawConn:
        return RawConn(self.port, timeout, tls=self.client_tls)

    def request(self, method: str, target: str, headers=None, body: Optional[bytes] = None,
                timeout: float = 5.0, **kw) -> RawResponse:
        """One request on a fresh connection (Connection: close)."""
        with RawConn(self.port, timeout, tls=self.client_tls) as c:
            return c.request(build_request(method, target, headers, body, **kw),
                             head_request=(method == "HEAD"))

    def get(self, target: str, headers=None, **kw) -> RawResponse:
        return self.request("GET", target, headers, **kw)

    def raw(self, data: bytes, timeout: float = 5.0) -> RawResponse:
        with RawConn(self.port, timeout, tls=self.client_tls) as c:
            c.send(data)
            return c.read_response()

    def log_text(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stdout_text(self) -> str:
        try:
            return self.stdout_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_log(self, predicate, timeout: float = 5.0) -> str:
        """Polls the log until predicate(text) is true; returns the text."""
        end = time.monotonic() + timeout
        while True:
            text = self.log_text()
            if predicate(text):
                return text
            if time.monotonic() > end:
                raise AssertionError(f"log condition not met within {timeout}s; log:\n{text}")
            time.sleep(0.02)

    # -- memory ----------------------------------------------------------------
    def _status_kib(self, key: str) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
        raise KeyError(key)

    def rss_kib(self) -> int:
        return self._status_kib("VmRSS")

    def hwm_kib(self) -> int:
        return self._status_kib("VmHWM")

    def reset_hwm(self) -> bool:
        """Resets VmHWM to the current RSS (Linux clear_refs 5); False if not allowed."""
        try:
            Path(f"/proc/{self.proc.pid}/clear_refs").write_text("5")
            return True
        except OSError:
            return False


def run_cli(args, timeout: float = 15.0, env=None, cwd=None) -> subprocess.CompletedProcess:
    e = dict(os.environ)
    e.pop("GATEHOUSE_LOG_LEVEL", None)
    e.update(env or {})
    return subprocess.run([gatehouse_bin()] + list(args), capture_output=True, text=True,
                          timeout=timeout, env=e, cwd=cwd, stdin=subprocess.DEVNULL)
