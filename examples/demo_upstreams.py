#!/usr/bin/python3
"""Demo upstream services for gatehouse (Python standard library only).

One process serves several ports, one service per port:

    /usr/bin/python3 examples/demo_upstreams.py users-v1=9001 users-v2=9002 orders=9003

Port 0 picks a free port. Once every port is bound, one line per service is printed
on stdout ("listening users-v1 127.0.0.1 9001"), then "ready".

Every service answers JSON describing itself and the request it saw:

    GET  /api/42          -> 200 {"service": "users-v1", "id": "42", "method": "GET", ...}
    POST /api (with body) -> 201 {"service": "orders", "received_bytes": 15, ...}
    GET  /health, /ping   -> 200 {"status": "ok", "service": ...}
    ANY  .../status/503   -> 503 (any status 200-599), to try out the circuit breaker
"""

import argparse
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

BASE_PATH = "/api"
HEALTH_PATHS = ("/health", "/ping")
SHOWN_HEADERS = (
    "Host", "User-Agent", "Content-Type", "Content-Length", "Transfer-Encoding",
    "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "X-Forwarded-Prefix",
    "X-Request-Id", "X-API-Version",
)


class DemoHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"   # keep-alive, like a real upstream
    server_version = "demo-upstream/1.0"
    service = "demo"                # set per port by make_handler
    verbose = False

    def do_GET(self):
        self.handle_any()

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

    def handle_any(self):
        body = self.read_body()
        url = urlsplit(self.path)
        path = url.path

        if path in HEALTH_PATHS:
            return self.reply(200, {"status": "ok", "service": self.service})

        segments = [s for s in path.split("/") if s]
        if len(segments) >= 2 and segments[-2] == "status" and segments[-1].isdigit():
            status = int(segments[-1])
            if 200 <= status <= 599:
                return self.reply(status, {"service": self.service, "status": status})

        rest = path[len(BASE_PATH):] if path.startswith(BASE_PATH) else path
        rest_segments = [s for s in rest.split("/") if s]
        doc = {"service": self.service}
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
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def log_message(self, fmt, *args):
        if self.verbose:
            sys.stderr.write(f"[{self.service}] {self.address_string()} {fmt % args}\n")


def make_handler(service, verbose):
    return type(f"Handler_{service}", (DemoHandler,), {"service": service, "verbose": verbose})


def parse_service(spec):
    name, sep, port = spec.partition("=")
    if not sep or not name or not port.isdigit() or int(port) > 65535:
        raise argparse.ArgumentTypeError(f"expected NAME=PORT, got {spec!r}")
    return name, int(port)


def main():
    parser = argparse.ArgumentParser(description="Demo upstreams for gatehouse.")
    parser.add_argument("services", nargs="+", type=parse_service, metavar="NAME=PORT")
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
