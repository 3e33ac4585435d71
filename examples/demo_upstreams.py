#!/usr/bin/python3
"""Demo upstream services for gatehouse (Python standard library only).

One process serves several ports, one server per port:

    /usr/bin/python3 examples/demo_upstreams.py users-v1=9001 users-v2/a=9002 users-v2/b=9005 orders=9003

Port 0 picks a free port. Once every port is bound, one line per server is printed
on stdout ("listening users-v1 127.0.0.1 9001"), then "ready".

NAME is SERVICE or SERVICE/SERVER: several servers of one service (users-v2/a and
users-v2/b above, the two servers of one gatehouse endpoint) answer alike, and each
names itself in an X-Demo-Server header and a "server" field, so that a client can see
which one gatehouse chose.

Every server answers JSON describing itself and the request it saw:

    GET  /api/42          -> 200 {"service": "users-v1", "server": "users-v1", "id": "42", ...}
    POST /api (with body) -> 201 {"service": "orders", "received_bytes": 15, ...}
    GET  /health, /ping   -> 200 {"status": "ok", "service": ...}
    ANY  .../status/503   -> 503 (any status 200-599), to try out the circuit breaker

Each server has its own switch, to watch gatehouse's health checks and circuit breaker
at work:

    POST /_demo/fail      -> from now on this server answers 503 to everything else,
                             its health paths included (?status=502 picks another 5xx)
    POST /_demo/recover   -> back to normal
    GET  /_demo           -> {"service": ..., "failing": null or the status}
"""

import argparse
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

BASE_PATH = "/api"
HEALTH_PATHS = ("/health", "/ping")
SWITCH_PATH = "/_demo"
SHOWN_HEADERS = (
    "Host", "User-Agent", "Content-Type", "Content-Length", "Transfer-Encoding",
    "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "X-Forwarded-Prefix",
    "X-Request-Id", "X-API-Version",
)


class DemoHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"   # keep-alive, like a real upstream
    server_version = "demo-upstream/1.0"
    service = "demo"                # set per port by make_handler
    demo_server = "demo"            # SERVICE or SERVICE/SERVER, likewise (not `server`:
                                    # the handler's server object has that name)
    verbose = False
    switch = None                   # the service's FailSwitch, set by make_handler

    def do_GET(self):
        self.handle_any()

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

    def handle_any(self):
        body = self.read_body()
        url = urlsplit(self.path)
        path = url.path

        if path == SWITCH_PATH or path.startswith(SWITCH_PATH + "/"):
            return self.handle_switch(path, url.query)
        failing = self.switch.status()
        if failing is not None:
            return self.reply(failing, {
                "service": self.service, "server": self.demo_server, "status": failing,
                "error": "failing on purpose; POST /_demo/recover to undo"})

        if path in HEALTH_PATHS:
            return self.reply(200, {"status": "ok", "service": self.service,
                                    "server": self.demo_server})

        segments = [s for s in path.split("/") if s]
        if len(segments) >= 2 and segments[-2] == "status" and segments[-1].isdigit():
            status = int(segments[-1])
            if 200 <= status <= 599:
                return self.reply(status, {"service": self.service, "server": self.demo_server,
                                           "status": status})

        rest = path[len(BASE_PATH):] if path.startswith(BASE_PATH) else path
        rest_segments = [s for s in rest.split("/") if s]
        doc = {"service": self.service, "server": self.demo_server}
        if rest_segments:
            doc["id"] = rest_segments[0]
        doc.update({
            "method": self.command,
            "path": path,
            "query": url.query,
            "headers": {h: self.headers[h] for h in SHOWN_HEADERS if h in self.headers},
            "client": self.client_address[0],
        })
        if body is not None:
            doc["received_bytes"] = len(body)
        self.reply(201 if self.command == "POST" else 200, doc)

    def handle_switch(self, path, query):
        action = path[len(SWITCH_PATH):]
        if action in ("", "/") and self.command in ("GET", "HEAD"):
            pass
        elif action == "/fail" and self.command == "POST":
            params = parse_qs(query)
            status = params.get("status", ["503"])[0]
            if not status.isdigit() or not 500 <= int(status) <= 599:
                return self.reply(400, {"service": self.service,
                                        "error": "status must be 500-599"})
            self.switch.fail(int(status))
        elif action == "/recover" and self.command == "POST":
            self.switch.recover()
        else:
            return self.reply(404, {
                "service": self.service,
                "error": "POST /_demo/fail[?status=5xx], POST /_demo/recover or GET /_demo"})
        self.reply(200, {"service": self.service, "server": self.demo_server,
                         "failing": self.switch.status()})

    def read_body(self):
        """Reads the whole request body (Content-Length or chunked); None if there is none."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass            # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()   # CRLF after the chunk
        length = self.headers.get("Content-Length")
        if length is None:
            return None
        return self.rfile.read(int(length))

    def reply(self, status, doc):
        data = (json.dumps(doc, indent=2) + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Demo-Server", self.demo_server)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def log_message(self, fmt, *args):
        if self.verbose:
            sys.stderr.write(f"[{self.demo_server}] {self.address_string()} {fmt % args}\n")


class FailSwitch:
    """Whether a service fails on purpose, and with which status (None: it does not)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._status = None

    def fail(self, status):
        with self._lock:
            self._status = status

    def recover(self):
        with self._lock:
            self._status = None

    def status(self):
        with self._lock:
            return self._status


def make_handler(name, verbose):
    service = name.partition("/")[0]
    return type(f"Handler_{name}", (DemoHandler,),
                {"service": service, "demo_server": name, "verbose": verbose,
                 "switch": FailSwitch()})


def parse_service(spec):
    name, sep, port = spec.partition("=")
    service, slash, server = name.partition("/")
    if (not sep or not service or (slash and not server) or not port.isdigit()
            or int(port) > 65535):
        raise argparse.ArgumentTypeError(f"expected SERVICE[/SERVER]=PORT, got {spec!r}")
    return name, int(port)


def main():
    parser = argparse.ArgumentParser(description="Demo upstreams for gatehouse.")
    parser.add_argument("services", nargs="+", type=parse_service,
                        metavar="SERVICE[/SERVER]=PORT")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every request")
    args = parser.parse_args()

    servers = []
    for name, port in args.services:
        try:
            server = ThreadingHTTPServer((args.host, port), make_handler(name, args.verbose))
        except OSError as e:
            sys.exit(f"demo_upstreams: cannot listen on {args.host}:{port} for {name}: {e}")
        server.daemon_threads = True
        servers.append((name, server))

    for name, server in servers:
        host, port = server.server_address[:2]
        print(f"listening {name} {host} {port}", flush=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
    print("ready", flush=True)

    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
