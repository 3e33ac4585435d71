"""Fake upstream servers for the end-to-end suite.

`Upstream` is a threaded HTTP/1.1 server on raw sockets (127.0.0.1, port 0) so that the
suite sees exactly what the gateway sent: the raw request target, the header fields in
order (duplicates kept), the body bytes, and how many TCP connections were accepted.
Each request is answered by a handler: `handler(req, conn)` returns a `Response`, or
`None` when it wrote (or deliberately did not write) the answer itself through `conn`.
"""

from __future__ import annotations

import hashlib
import json
import socket
import ssl
import struct
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Optional


class PeerClosed(Exception):
    pass


class _Reader:
    """Buffered reads from a socket."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.buf = bytearray()

    def _fill(self) -> bool:
        try:
            data = self.sock.recv(256 * 1024)
        except (ConnectionResetError, ssl.SSLError, OSError):
            data = b""
        if not data:
            return False
        self.buf += data
        return True

    def read_until(self, sep: bytes, limit: int = 1 << 20) -> Optional[bytes]:
        """Bytes up to and including `sep`; None on EOF before anything arrived."""
        start = 0
        while True:
            i = self.buf.find(sep, start)
            if i >= 0:
                out = bytes(self.buf[: i + len(sep)])
                del self.buf[: i + len(sep)]
                return out
            start = max(0, len(self.buf) - len(sep) + 1)
            if len(self.buf) > limit:
                raise PeerClosed("header block too large")
            if not self._fill():
                if self.buf:
                    raise PeerClosed("eof inside header block")
                return None

    def read_some(self, max_n: int) -> bytes:
        if not self.buf and not self._fill():
            raise PeerClosed("eof")
        n = min(max_n, len(self.buf))
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out


@dataclass
class Request:
    method: str
    target: str
    version: str
    headers: list  # [(name, value)] as received, latin-1 decoded
    conn_id: int
    body: bytes = b""
    body_len: int = 0
    body_sha256: str = ""
    complete: bool = False  # body fully received per its framing
    chunked: bool = False
    received_at: float = field(default_factory=time.monotonic)

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    def header(self, name: str) -> Optional[str]:
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def headers_all(self, name: str) -> list:
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def has(self, name: str) -> bool:
        return self.header(name) is not None


@dataclass
class Response:
    status: int = 200
    headers: list = field(default_factory=list)  # [(name, value)]
    body: object = b""  # bytes, or an iterable of bytes (streamed; set Content-Length)
    chunks: Optional[Iterable[bytes]] = None  # when set: Transfer-Encoding: chunked
    reason: Optional[str] = None
    close: bool = False  # close the connection after answering


REASONS = {
    100: "Continue", 200: "OK", 201: "Created", 204: "No Content", 301: "Moved Permanently",
    302: "Found", 304: "Not Modified", 400: "Bad Request", 401: "Unauthorized",
    403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 413: "Payload Too Large",
    418: "I'm a teapot", 500: "Internal Server Error", 502: "Bad Gateway",
    503: "Service Unavailable", 504: "Gateway Timeout",
}


def json_response(obj, status: int = 200, headers: Optional[list] = None) -> Response:
    body = json.dumps(obj).encode()
    return Response(status, [("Content-Type", "application/json")] + (headers or []), body)


def echo_handler(req: Request, conn: "Conn") -> Response:
    """Answers with the request as JSON."""
    return json_response(
        {
            "method": req.method,
            "target": req.target,
            "path": req.path,
            "version": req.version,
            "headers": [[k, v] for k, v in req.headers],
            "body": req.body.decode("latin-1"),
            "body_len": req.body_len,
            "body_sha256": req.body_sha256,
            "conn_id": req.conn_id,
        }
    )


class Conn:
    """The upstream side of one accepted connection, handed to handlers."""

    def __init__(self, upstream: "Upstream", sock: socket.socket, conn_id: int):
        self.upstream = upstream
        self.sock = sock
        self.id = conn_id
        self.closed = False

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.sock.close()

    def reset(self) -> None:
        """Close with an RST (SO_LINGER 0)."""
        if not self.closed:
            self.closed = True
            try:
                raw = self.sock
                if isinstance(raw, ssl.SSLSocket):
                    raw = socket.socket(fileno=raw.detach())
                raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                raw.close()
            except OSError:
                pass

    def write_response(self, resp: Response, head_only: bool = False) -> None:
        reason = resp.reason if resp.reason is not None else REASONS.get(resp.status, "Status")
        headers = list(resp.headers)
        names = {k.lower() for k, _ in headers}
        body = resp.body
        if resp.chunks is not None:
            if "transfer-encoding" not in names:
                headers.append(("Transfer-Encoding", "chunked"))
        elif isinstance(body, (bytes, bytearray)):
            if "content-length" not in names and resp.status not in (204, 304) and resp.status >= 200:
                headers.append(("Content-Length", str(len(body))))
        if resp.close and "connection" not in names:
            headers.append(("Connection", "close"))
        head = f"HTTP/1.1 {resp.status} {reason}\r\n".encode("latin-1")
        head += b"".join(f"{k}: {v}\r\n".encode("latin-1") for k, v in headers) + b"\r\n"
        if head_only:
            self.send(head)
            return
        if resp.chunks is not None:
            self.send(head)
            for c in resp.chunks:
                if c:
                    self.send(b"%x\r\n" % len(c) + c + b"\r\n")
            self.send(b"0\r\n\r\n")
        elif isinstance(body, (bytes, bytearray)):
            self.send(head + bytes(body))
        else:
            self.send(head)
            for piece in body:
                self.send(piece)


class Upstream:
    """A recording HTTP/1.1 server on 127.0.0.1:0.

    handler:      handler(req, conn) -> Response | None (default: echo as JSON)
    store_body:   keep request bodies in memory (False: only length and sha256)
    before_body:  hook(req, conn) called after the head, before the body is read
    tls_context:  serve HTTPS with this ssl.SSLContext
    """

    def __init__(self, handler: Optional[Callable] = None, store_body: bool = True,
                 before_body: Optional[Callable] = None,
                 tls_context: Optional[ssl.SSLContext] = None):
        self.handler = handler or echo_handler
        self.store_body = store_body
        self.before_body = before_body
        self.tls_context = tls_context
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.requests: list[Request] = []
        self.connections = 0
        self.tls_failures = 0
        self.stopped = threading.Event()
        self._socks: list = []
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(128)
        self.listener.settimeout(0.05)
        self.port = self.listener.getsockname()[1]
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._thread.start()

    # ---- public helpers -------------------------------------------------
    @property
    def scheme(self) -> str:
        return "https" if self.tls_context else "http"

    def url(self, base_path: str = "") -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}{base_path}"

    @property
    def hostport(self) -> str:
        return f"127.0.0.1:{self.port}"

    def snapshot(self) -> list:
        with self.lock:
            return list(self.requests)

    def complete_requests(self) -> list:
        return [r for r in self.snapshot() if r.complete]

    def wait_for_requests(self, n: int, timeout: float = 5.0, complete: bool = False) -> list:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                reqs = [r for r in self.requests if r.complete or not complete]
                if len(reqs) >= n:
                    return list(reqs)
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"upstream saw {len(reqs)} request(s), expected {n} within {timeout}s")
                self.cond.wait(left)

    def count(self, path: Optional[str] = None, exclude: Optional[str] = None) -> int:
        """Requests received (head seen), optionally only those for `path` or those not
        for `exclude` (paths without the query)."""
        reqs = self.snapshot()
        if path is not None:
            reqs = [r for r in reqs if r.path == path]
        if exclude is not None:
            reqs = [r for r in reqs if r.path != exclude]
        return len(reqs)

    def refuse_connections(self) -> None:
        """Closes the listener and every accepted connection (pooled keep-alive ones
        included): connects to the port are refused until accept_connections()."""
        self.listener.close()
        self._thread.join(2)
        self._close_accepted(forget=True)

    def accept_connections(self) -> None:
        """Listens again on the same port after refuse_connections()."""
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", self.port))
        self.listener.listen(128)
        self.listener.settimeout(0.05)
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.stopped.set()
        try:
            self.listener.close()
        except OSError:
            pass
        self._close_accepted(forget=False)
        self._thread.join(2)

    # ---- server internals ------------------------------------------------
    def _close_accepted(self, forget: bool) -> None:
        """Shuts down and closes every accepted connection; `forget` also empties the
        set (the server goes on running)."""
        with self.lock:
            socks = list(self._socks)
            if forget:
                self._socks.clear()
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                s.close()
            except OSError:
                pass

    def _accept_loop(self) -> None:
        while not self.stopped.is_set():
            try:
                sock, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self.connections += 1
                conn_id = self.connections
                self._socks.append(sock)
                self.cond.notify_all()
            threading.Thread(target=self._serve, args=(sock, conn_id), daemon=True).start()

    def _record(self, req: Request) -> None:
        with self.cond:
            self.requests.append(req)
            self.cond.notify_all()

    def _notify(self) -> None:
        with self.cond:
            self.cond.notify_all()

    def _serve(self, sock: socket.socket, conn_id: int) -> None:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:  # closed by close() before this thread ran
            return
        if self.tls_context is not None:
            try:
                sock.settimeout(5)
                sock = self.tls_context.wrap_socket(sock, server_side=True)
                sock.settimeout(None)
                with self.lock:
                    self._socks.append(sock)
            except (ssl.SSLError, OSError):
                with self.lock:
                    self.tls_failures += 1
                sock.close()
                return
        conn = Conn(self, sock, conn_id)
        reader = _Reader(sock)
        try:
            while not conn.closed and not self.stopped.is_set():
                head = reader.read_until(b"\r\n\r\n")
                if head is None:
                    break
                req = self._parse_head(head, conn_id)
                if req is None:
                    conn.send(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    break
                self._record(req)
                if self.before_body:
                    self.before_body(req, conn)
                if not self._read_body(req, reader):
                    self._notify()
                    break
                req.complete = True
                self._notify()
                resp = self.handler(req, conn)
                if resp is None:
                    continue  # the handler answered (or closed) by itself
                conn.write_response(resp, head_only=(req.method == "HEAD"))
                if resp.close or (req.header("connection") or "").lower() == "close":
                    break
        except (PeerClosed, OSError, ssl.SSLError):
            pass
        finally:
            conn.close()

    @staticmethod
    def _parse_head(head: bytes, conn_id: int) -> Optional[Request]:
        lines = head[:-4].split(b"\r\n")
        try:
            method, target, version = lines[0].decode("latin-1").split(" ")
        except ValueError:
            return None
        headers = []
        for line in lines[1:]:
            if b":" not in line:
                return None
            k, v = line.split(b":", 1)
            headers.append((k.decode("latin-1"), v.strip(b" \t").decode("latin-1")))
        return Request(method, target, version, headers, conn_id)

    def _consume(self, req: Request, data: bytes, h) -> None:
        req.body_len += len(data)
        h.update(data)
        if self.store_body:
            req.body += data

    def _read_body(self, req: Request, reader: _Reader) -> bool:
        h = hashlib.sha256()
        te = req.header("transfer-encoding")
        cl = req.header("content-length")
        try:
            if te is not None and "chunked" in te.lower():
                req.chunked = True
                while True:
                    line = reader.read_until(b"\r\n", limit=4096)
                    if line is None:
                        return False
                    size = int(line.split(b";", 1)[0].strip(), 16)
                    if size == 0:
                        while True:  # trailers up to the empty line
                            t = reader.read_until(b"\r\n", limit=65536)
                            if t is None:
                                return False
                            if t == b"\r\n":
                                break
                        break
                    left = size
                    while left:
                        data = reader.read_some(min(left, 256 * 1024))
                        self._consume(req, data, h)
                        left -= len(data)
                    if reader.read_until(b"\r\n", limit=16) != b"\r\n":
                        return False
            elif cl is not None:
                left = int(cl)
                while left:
                    data = reader.read_some(min(left, 256 * 1024))
                    self._consume(req, data, h)
                    left -= len(data)
        except (PeerClosed, ValueError):
            req.body_sha256 = h.hexdigest()
            return False
        req.body_sha256 = h.hexdigest()
        return True


# ---- misbehaving upstream handlers -------------------------------------------

def blackhole_handler(req: Request, conn: Conn):
    """Reads the request and never answers (until the upstream is closed)."""
    conn.upstream.stopped.wait(60)
    conn.close()
    return None


def garbage_status_handler(req: Request, conn: Conn):
    conn.send(b"THIS IS NOT HTTP\r\n\r\n")
    conn.close()
    return None


def close_early_handler(req: Request, conn: Conn):
    conn.close()
    return None


def reset_mid_body_handler(req: Request, conn: Conn):
    """Promises 1,000,000 bytes, sends 10,000 and resets the connection."""
    conn.send(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
              b"Content-Length: 1000000\r\n\r\n" + b"x" * 10000)
    conn.reset()
    return None


def free_port() -> int:
    """A port with nothing listening on it (bind 0, read, close)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Switch:
    """A handler whose behaviour can be switched at runtime, per path or for all paths.

    A mode is one of:
      "ok"             200, text/plain body "ok <path> #<n>" (n: requests answered so far)
      an int           that status, text/plain body "status <code> from upstream"
      "blackhole"      reads the request and never answers (until the mode changes or
                       the upstream closes; then the connection is closed)
      ("slow", secs)   waits secs, then answers like "ok"
      a Response       that response
      a callable       handler(req, conn) -> Response | None
    `finished` counts handler calls that have returned (e.g. a slow answer written)."""

    def __init__(self, mode="ok", paths: Optional[dict] = None):
        self.lock = threading.Lock()
        self.mode = mode
        self.paths = dict(paths or {})
        self.generation = 0
        self.answered = 0
        self.finished = 0

    def set(self, mode, path: Optional[str] = None) -> None:
        with self.lock:
            if path is None:
                self.mode = mode
            else:
                self.paths[path] = mode
            self.generation += 1

    def mode_for(self, path: str):
        with self.lock:
            return self.paths.get(path, self.mode), self.generation

    def wait_finished(self, n: int, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                if self.finished >= n:
                    return
            if time.monotonic() > deadline:
                raise AssertionError(f"only {self.finished} handler call(s) finished, expected {n}")
            time.sleep(0.01)

    def _ok(self, req: Request) -> Response:
        with self.lock:
            self.answered += 1
            n = self.answered
        return Response(200, [("Content-Type", "text/plain")], f"ok {req.path} #{n}".encode())

    def _answer(self, req: Request, conn: Conn):
        mode, gen = self.mode_for(req.path)
        if mode == "ok":
            return self._ok(req)
        if isinstance(mode, int):
            return Response(mode, [("Content-Type", "text/plain"), ("X-Upstream", "yes")],
                            f"status {mode} from upstream".encode())
        if mode == "blackhole":
            while not conn.upstream.stopped.is_set():
                if self.mode_for(req.path)[1] != gen:
                    break
                conn.upstream.stopped.wait(0.02)
            conn.close()
            return None
        if isinstance(mode, tuple) and mode[0] == "slow":
            conn.upstream.stopped.wait(mode[1])
            return self._ok(req)
        if isinstance(mode, Response):
            return mode
        if callable(mode):
            return mode(req, conn)
        raise ValueError(f"unknown mode {mode!r}")

    def __call__(self, req: Request, conn: Conn):
        try:
            return self._answer(req, conn)
        finally:
            with self.lock:
                self.finished += 1
