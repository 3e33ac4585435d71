"""Real Prometheus and Alertmanager processes for the live monitoring test, plus the
small HTTP servers around them: an Alertmanager webhook receiver and an exporter of
SPEC section 10 series that gatehouse does not export yet."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, Optional

import yaml

from gh_upstream import free_port

REPO = Path(__file__).resolve().parents[2]
DEPLOY_PROM = REPO / "deploy" / "prometheus"
DASHBOARD = REPO / "deploy" / "grafana" / "dashboards" / "gatehouse.json"


def need(cmd: str) -> str:
    path = shutil.which(cmd)
    if not path:
        # Installed by scripts/install-deps.sh: a missing tool fails, never skips.
        raise AssertionError(f"{cmd} not found: run scripts/install-deps.sh")
    return path


def http_get_json(url: str, timeout: float = 5.0) -> dict:
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.loads(r.read())


def poll(what: str, fn: Callable[[], Optional[object]], timeout: float, every: float = 0.25):
    """Calls fn until it returns something truthy; fails after timeout with `what`."""
    end = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            got = fn()
            if got:
                return got
        except (OSError, urllib.error.URLError, ValueError, KeyError) as e:
            last_exc = e
        if time.monotonic() > end:
            raise AssertionError(f"{what} not seen within {timeout}s (last error: {last_exc!r})")
        time.sleep(every)


class _Process:
    """A child process on a loopback port with a log file; stop() ends it."""

    def __init__(self, name: str, workdir: Path):
        self.name = name
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.log_path = workdir / f"{name}.log"
        self.proc: Optional[subprocess.Popen] = None

    def _start(self, cmd: list) -> None:
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=self.workdir)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_ready(self, path: str, timeout: float = 20.0) -> None:
        def ready():
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited {self.proc.returncode}:\n{self.log_text()}")
            with urllib.request.urlopen(self.base + path, timeout=1) as r:
                return r.status == 200
        poll(f"{self.name} ready", ready, timeout)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if getattr(self, "_log", None):
            self._log.close()


class Prometheus(_Process):
    def __init__(self, workdir: Path, scrape_targets: list, rule_files: list,
                 alertmanager: Optional[str] = None):
        super().__init__("prometheus", workdir)
        cfg = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s",
                       "scrape_timeout": "1s"},
            "rule_files": [str(p) for p in rule_files],
            "scrape_configs": [{"job_name": "gatehouse",
                                "static_configs": [{"targets": scrape_targets}]}],
        }
        if alertmanager:
            cfg["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]}
        self.config_path = workdir / "prometheus.yml"
        self.config_path.write_text(yaml.safe_dump(cfg, sort_keys=False))

    def start(self) -> "Prometheus":
        self._start([need("prometheus"), f"--config.file={self.config_path}",
                     f"--storage.tsdb.path={self.workdir / 'data'}",
                     f"--web.listen-address=127.0.0.1:{self.port}",
                     "--storage.tsdb.retention.time=1h",
                     "--rules.alert.resend-delay=1s"])
        self.wait_ready("/-/ready")
        return self

    def api(self, path: str, **params) -> dict:
        url = f"{self.base}/api/v1/{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params, doseq=True)
        doc = http_get_json(url)
        if doc.get("status") != "success":
            raise AssertionError(f"{url}: {doc}")
        return doc["data"]

    def query(self, expr: str) -> dict:
        """Instant query; an expression Prometheus cannot parse fails the test."""
        url = f"{self.base}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                doc = json.loads(r.read())
        except urllib.error.HTTPError as e:
            doc = json.loads(e.read() or b"{}")
        if doc.get("status") != "success":
            raise AssertionError(f"query failed: {expr}\n{doc.get('errorType')}: {doc.get('error')}")
        return doc["data"]

    def alerts(self, name: str, **labels) -> list:
        out = []
        for a in self.api("alerts")["alerts"]:
            if a["labels"].get("alertname") == name and \
                    all(a["labels"].get(k) == v for k, v in labels.items()):
                out.append(a)
        return out


class Alertmanager(_Process):
    def __init__(self, workdir: Path, webhook_base: str):
        super().__init__("alertmanager", workdir)
        # The project's routing, with its receivers pointed at the test's webhook and the
        # group waits shortened so that a notification arrives within the test.
        cfg = yaml.safe_load((DEPLOY_PROM / "alertmanager.yml").read_text())
        for r in cfg["receivers"]:
            for w in r.get("webhook_configs", []):
                w["url"] = webhook_base + urllib.parse.urlparse(w["url"]).path
        cfg["route"]["group_wait"] = "1s"
        for sub in cfg["route"].get("routes", []):
            if "group_wait" in sub:
                sub["group_wait"] = "1s"
        self.config_path = workdir / "alertmanager.yml"
        self.config_path.write_text(yaml.safe_dump(cfg, sort_keys=False))

    def start(self) -> "Alertmanager":
        self._start([need("prometheus-alertmanager"), f"--config.file={self.config_path}",
                     f"--storage.path={self.workdir / 'data'}",
                     f"--web.listen-address=127.0.0.1:{self.port}",
                     "--cluster.listen-address="])
        self.wait_ready("/-/ready")
        return self


class _Server:
    """A ThreadingHTTPServer on a loopback port, served from a thread."""

    def __init__(self, handler_cls):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler_cls)
        self.httpd.owner = self
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class _Quiet(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass


class WebhookReceiver(_Server):
    """Collects Alertmanager webhook notifications: (path, payload) pairs."""

    def __init__(self):
        self.lock = threading.Lock()
        self.received: list = []

        class H(_Quiet):
            def do_POST(h):
                body = h.rfile.read(int(h.headers.get("Content-Length", 0)))
                with h.server.owner.lock:
                    h.server.owner.received.append((h.path, json.loads(body), time.monotonic()))
                h.send_response(200)
                h.send_header("Content-Length", "0")
                h.end_headers()

        super().__init__(H)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def find(self, alertname: str, status: str = "firing", **labels) -> list:
        with self.lock:
            items = list(self.received)
        out = []
        for path, doc, at in items:
            for a in doc.get("alerts", []):
                if a["labels"].get("alertname") == alertname and a["status"] == status and \
                        all(a["labels"].get(k) == v for k, v in labels.items()):
                    out.append((path, a, at))
        return out


# SPEC section 10's series that gatehouse does not export yet (sections 12-15), with
# label sets for the live test's two endpoints. Each is served only while the real
# scrape lacks it, so as soon as gatehouse exports one the real series is used.
SYNTHETIC = {
    "gatehouse_target_up": ("gauge", [({"endpoint": e, "target": f"http://127.0.0.1:{9100 + i}/api"}, 1.0)
                                      for i, e in enumerate(("users", "orders"), 1)]),
    "gatehouse_target_requests_total": ("counter", [({"endpoint": "users", "target": "http://127.0.0.1:9101/api",
                                                      "code": "200"}, 5.0)]),
    "gatehouse_retries_total": ("counter", [({"endpoint": "orders", "reason": "503"}, 1.0)]),
    "gatehouse_retry_budget_exhausted_total": ("counter", [({"endpoint": "orders"}, 0.5)]),
    "gatehouse_rate_limited_total": ("counter", [({"endpoint": "users"}, 2.0)]),
    "gatehouse_redis_errors_total": ("counter", [({"kind": "timeout"}, 0.2)]),
    "gatehouse_websocket_tunnels_open": ("gauge", [({"endpoint": "users"}, 3.0)]),
    "gatehouse_websocket_tunnels_total": ("counter", [({"endpoint": "users"}, 1.0)]),
    "gatehouse_tls_handshakes_total": ("counter", [({"result": "ok"}, 4.0), ({"result": "failed"}, 0.1)]),
    "gatehouse_tls_certificate_expiry_timestamp_seconds": ("gauge", [({"certificate": "/etc/gatehouse/tls/cert.pem"}, None)]),
}


class SyntheticExporter(_Server):
    """Serves the SYNTHETIC series named in `names`: gauges constant, counters growing
    by their rate every second, the certificate expiry 10 days ahead."""

    def __init__(self, names):
        self.names = sorted(names)
        self.t0 = time.monotonic()

        class H(_Quiet):
            def do_GET(h):
                body = h.server.owner.render().encode()
                h.send_response(200)
                h.send_header("Content-Type", "text/plain; version=0.0.4")
                h.send_header("Content-Length", str(len(body)))
                h.end_headers()
                h.wfile.write(body)

        super().__init__(H)

    def render(self) -> str:
        elapsed = time.monotonic() - self.t0
        lines = []
        for name in self.names:
            kind, series = SYNTHETIC[name]
            lines.append(f"# TYPE {name} {kind}")
            for labels, v in series:
                lab = ",".join(f'{k}="{val}"' for k, val in labels.items())
                if v is None:
                    value = time.time() + 10 * 86400
                elif kind == "counter":
                    value = v * (1 + elapsed)
                else:
                    value = v
                lines.append(f"{name}{{{lab}}} {value}")
        return "\n".join(lines) + "\n"
