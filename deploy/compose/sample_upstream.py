#!/usr/bin/env python3
"""Sample upstream for the compose stack and the image test (standard library only).

  GET  /health            200 {"status": "ok"}, or 503 while failing
  any  /...               200 JSON describing the request, or 503 while failing
  GET  /slow?seconds=N    answers after N seconds (at most 30)
  POST /admin/fail        every answer (health included) is 503 from now on
  POST /admin/recover     back to normal
  POST /alerts/<name>     stores an Alertmanager webhook notification (alert sink)
  GET  /alerts            the notifications stored so far, newest last

Options: --port (8000), --host (0.0.0.0), --name (shown in answers)."""

import argparse
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

state = {"failing": False, "alerts": [], "lock": threading.Lock()}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "sample-upstream"

    def log_message(self, fmt, *args):
        pass

    def setup(self):
        super().setup()
        # head and body are two writes: without this, Nagle + delayed ACK add 40 ms
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _send(self, status, doc):
        body = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _handle(self):
        url = urlsplit(self.path)
        body = self._body()
        if self.command == "POST" and url.path == "/admin/fail":
            state["failing"] = True
            return self._send(200, {"failing": True})
        if self.command == "POST" and url.path == "/admin/recover":
            state["failing"] = False
            return self._send(200, {"failing": False})
        if self.command == "POST" and url.path.startswith("/alerts/"):
            with state["lock"]:
                state["alerts"].append({"receiver": url.path[len("/alerts/"):],
                                        "at": time.time(), "notification": json.loads(body or b"{}")})
            return self._send(200, {"stored": True})
        if self.command == "GET" and url.path == "/alerts":
            with state["lock"]:
                return self._send(200, {"alerts": state["alerts"]})
        if state["failing"]:
            return self._send(503, {"service": self.server.name, "error": "failing on demand"})
        if url.path == "/health":
            return self._send(200, {"status": "ok"})
        if url.path.endswith("/slow"):
            secs = min(30.0, float(parse_qs(url.query).get("seconds", ["1"])[0]))
            time.sleep(secs)
        self._send(200, {"service": self.server.name, "method": self.command, "path": self.path,
                         "headers": {k: v for k, v in self.headers.items()},
                         "body_bytes": len(body)})

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _handle


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="0.0.0.0")
    ap.add_argument("--port", type=int, default=8000)
    ap.add_argument("--name", default="sample")
    a = ap.parse_args()
    srv = ThreadingHTTPServer((a.host, a.port), Handler)
    srv.daemon_threads = True
    srv.name = a.name
    print(f"sample upstream {a.name} on {a.host}:{a.port}", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
