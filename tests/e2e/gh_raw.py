"""A raw HTTP/1.1 client: exact bytes out, a fully parsed response back."""

from __future__ import annotations

import json
import socket
import ssl
import time
from dataclasses import dataclass
from typing import Optional

DEFAULT_TIMEOUT = 5.0


@dataclass
class RawResponse:
    version: str
    status: int
    reason: str
    headers: list  # [(name, value)]
    body: bytes = b""
    complete: bool = True  # False when the peer closed before the framing was satisfied
    raw_head: bytes = b""
    elapsed: float = 0.0

    def header(self, name: str) -> Optional[str]:
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def headers_all(self, name: str) -> list:
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def json(self):
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def __repr__(self) -> str:
        body = self.body[:400]
        return f"<RawResponse {self.status} {self.reason!r} headers={self.headers} body={body!r}>"


class ConnectionClosed(Exception):
    """The peer closed the connection before a response head arrived."""


def build_request(method: str, target: str, headers=None, body: Optional[bytes] = None,
                  host: Optional[str] = "gateway.test", version: str = "HTTP/1.1",
                  close: bool = True) -> bytes:
    """Builds a well-formed request. `headers` is a list of pairs (or a dict)."""
    hs = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
    names = {k.lower() for k, _ in hs}
    out = [f"{method} {target} {version}"]
    if host is not None and "host" not in names:
        out.append(f"Host: {host}")
    for k, v in hs:
        out.append(f"{k}: {v}")
    if body is not None and "content-length" not in names and "transfer-encoding" not in names:
        out.append(f"Content-Length: {len(body)}")
    if close and "connection" not in names:
        out.append("Connection: close")
    data = ("\r\n".join(out) + "\r\n\r\n").encode("latin-1")
    return data + (body or b"")


def chunked(*pieces: bytes, trailers: bytes = b"") -> bytes:
    out = b""
    for p in pieces:
        out += b"%x\r\n" % len(p) + p + b"\r\n"
    return out + b"0\r\n" + trailers + b"\r\n"


class RawConn:
    """`tls`: an ssl.SSLContext to speak TLS with (SNI `server_hostname`)."""

    def __init__(self, port: int, timeout: float = DEFAULT_TIMEOUT, host: str = "127.0.0.1",
                 tls: Optional[ssl.SSLContext] = None, server_hostname: Optional[str] = "localhost"):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if tls is not None:
            try:
                self.sock = tls.wrap_socket(self.sock, server_hostname=server_hostname)
            except BaseException:
                self.sock.close()
                raise
        self.timeout = timeout
        self.buf = bytearray()
        self.eof = False
        self.reset = False

    # -- io ------------------------------------------------------------------
    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self, timeout: Optional[float] = None) -> bool:
        if self.eof:
            return False
        self.sock.settimeout(timeout if timeout is not None else self.timeout)
        try:
            data = self.sock.recv(256 * 1024)
        except ConnectionResetError:
            self.reset = True
            data = b""
        except ssl.SSLEOFError:  # TCP closed without close_notify
            data = b""
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def _read_until(self, sep: bytes, limit: int = 1 << 20) -> Optional[bytes]:
        start = 0
        while True:
            i = self.buf.find(sep, start)
            if i >= 0:
                out = bytes(self.buf[: i + len(sep)])
                del self.buf[: i + len(sep)]
                return out
            start = max(0, len(self.buf) - len(sep) + 1)
            if len(self.buf) > limit:
                raise AssertionError("response head too large")
            if not self._fill():
                return None

    def _read_exact(self, n: int) -> tuple:
        while len(self.buf) < n:
            if not self._fill():
                break
        k = min(n, len(self.buf))
        out = bytes(self.buf[:k])
        del self.buf[:k]
        return out, k == n

    def read_head(self) -> RawResponse:
        """Reads one response head (1xx included)."""
        head = self._read_until(b"\r\n\r\n")
        if head is None:
            raise ConnectionClosed(f"connection closed before a response (got {bytes(self.buf)!r})")
        lines = head[:-4].split(b"\r\n")
        parts = lines[0].decode("latin-1").split(" ", 2)
        version, status = parts[0], int(parts[1])
        reason = parts[2] if len(parts) > 2 else ""
        headers = []
        for line in lines[1:]:
            k, v = line.split(b":", 1)
            headers.append((k.decode("latin-1"), v.strip(b" \t").decode("latin-1")))
        return RawResponse(version, status, reason, headers, raw_head=head)

    def read_body(self, resp: RawResponse, head_request: bool = False) -> RawResponse:
        if head_request or resp.status in (204, 304) or resp.status < 200:
            return resp
        te = resp.header("transfer-encoding")
        cl = resp.header("content-length")
        if te is not None and "chunked" in te.lower():
            body = bytearray()
            while True:
                line = self._read_until(b"\r\n", limit=4096)
                if line is None:
                    resp.complete = False
                    break
                size = int(line.split(b";", 1)[0].strip(), 16)
                if size == 0:
                    while True:
                        t = self._read_until(b"\r\n", limit=65536)
                        if t is None or t == b"\r\n":
                            break
                    break
                data, ok = self._read_exact(size)
                body += data
                if not ok:
                    resp.complete = False
                    break
                self._read_exact(2)
            resp.body = bytes(body)
        elif cl is not None:
            resp.body, resp.complete = self._read_exact(int(cl))
        else:
            while self._fill():
                pass
            resp.body = bytes(self.buf)
            self.buf.clear()
        return resp

    def read_response(self, head_request: bool = False, allow_interim: bool = False) -> RawResponse:
        """Reads a full response. 1xx responses are skipped unless `allow_interim`."""
        t0 = time.monotonic()
        while True:
            resp = self.read_head()
            if 100 <= resp.status < 200 and not allow_interim:
                continue
            break
        self.read_body(resp, head_request)
        resp.elapsed = time.monotonic() - t0
        return resp

    def request(self, data: bytes, head_request: bool = False) -> RawResponse:
        self.send(data)
        return self.read_response(head_request=head_request)

    def wait_closed(self, timeout: float = 3.0) -> bool:
        """True when the peer closes (FIN or RST) within `timeout`; data read is discarded."""
        deadline = time.monotonic() + timeout
        while not self.eof:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            try:
                self._fill(timeout=left)
            except socket.timeout:
                return False
            except OSError:
                return True
            self.buf.clear()
        return True

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def raw_exchange(port: int, data: bytes, timeout: float = DEFAULT_TIMEOUT,
                 head_request: bool = False) -> RawResponse:
    with RawConn(port, timeout) as c:
        c.send(data)
        return c.read_response(head_request=head_request)


def assert_problem(resp: RawResponse, status: int, code: str) -> dict:
    """Checks a gateway-generated error (SPEC section 8) and returns its JSON."""
    assert resp.status == status, f"expected {status} {code}, got {resp!r}"
    ctype = resp.header("content-type") or ""
    assert ctype.split(";")[0].strip().lower() == "application/problem+json", resp
    doc = resp.json()
    for key in ("type", "title", "status", "detail", "code", "request_id"):
        assert key in doc, f"problem lacks {key!r}: {doc}"
    assert doc["status"] == status, doc
    assert doc["code"] == code, doc
    assert isinstance(doc["request_id"], str) and doc["request_id"], doc
    rid = resp.header("x-request-id")
    if rid is not None:
        assert rid == doc["request_id"], (rid, doc)
    return doc
