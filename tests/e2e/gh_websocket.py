"""WebSocket peers for the end-to-end suite.

`EchoServer` is a real WebSocket server (Debian's python3-websockets) on 127.0.0.1:0 in
a thread of its own: `/echo` echoes every message, `/close` closes with code 4001 after
the first message, `/subprotocol` answers with the subprotocol it chose. It records the
handshake headers it received.

`upgrade_handler(script)` makes a gh_upstream.Upstream answer a handshake with a real
101 (RFC 6455 accept key) and then hands the raw socket to `script(sock)`: the tests of
half-closes, stalls and idle tunnels need byte-level control of the upstream side.

`RawWsClient` does the client half of RFC 6455 over a plain socket (handshake, masked
frames, reading frames) for the tests that need byte-level control of the client side.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import socket
import struct
import threading
import time
from typing import Callable, Optional

import websockets

from gh_upstream import Conn, Request

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def accept_key(key: str) -> str:
    return base64.b64encode(hashlib.sha1(key.encode("ascii") + GUID).digest()).decode("ascii")


class EchoServer:
    def __init__(self, **serve_kw):
        self.headers: list = []  # one list of (name, value) per handshake
        self.lock = threading.Lock()
        self.loop = asyncio.new_event_loop()
        self.port = 0
        self._ready = threading.Event()
        self._stop: Optional[asyncio.Future] = None
        serve_kw.setdefault("max_size", 64 * 1024 * 1024)
        serve_kw.setdefault("ping_interval", None)
        self._serve_kw = serve_kw
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise AssertionError("websocket echo server did not start")

    def url(self) -> str:
        scheme = "https" if self._serve_kw.get("ssl") else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._main())

    async def _main(self) -> None:
        self._stop = self.loop.create_future()
        async with websockets.serve(self._handle, "127.0.0.1", 0,
                                    subprotocols=["chat", "superchat"],
                                    **self._serve_kw) as server:
            self.port = server.sockets[0].getsockname()[1]
            self._ready.set()
            await self._stop

    async def _handle(self, ws) -> None:
        with self.lock:
            self.headers.append(list(ws.request_headers.raw_items()))
        path = ws.path.split("?", 1)[0]
        try:
            if path.endswith("/close"):
                await ws.recv()
                await ws.close(code=4001, reason="bye")
                return
            async for message in ws:
                await ws.send(message)
        except websockets.ConnectionClosed:
            pass

    def close(self) -> None:
        if self._stop is not None:
            self.loop.call_soon_threadsafe(
                lambda: self._stop.done() or self._stop.set_result(None))
        self._thread.join(10)


def upgrade_handler(script: Callable[[socket.socket], None],
                    upgrades: Optional[list] = None) -> Callable:
    """A gh_upstream handler: 101 for a WebSocket handshake, then script(sock); the
    connection is closed when the script returns. `upgrades` collects the requests."""

    def handler(req: Request, conn: Conn):
        key = req.header("sec-websocket-key") or ""
        if upgrades is not None:
            upgrades.append(req)
        conn.send(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\n"
                   f"Sec-WebSocket-Accept: {accept_key(key)}\r\n\r\n").encode("ascii"))
        try:
            script(conn.sock)
        except OSError:
            pass
        conn.close()
        return None

    return handler


def read_until_eof(sock: socket.socket, timeout: float = 5.0, limit: int = 1 << 26) -> bytes:
    """Everything `sock` receives until EOF (AssertionError if none within `timeout`)."""
    sock.settimeout(timeout)
    out = bytearray()
    while len(out) < limit:
        try:
            data = sock.recv(65536)
        except socket.timeout:
            raise AssertionError(f"no EOF within {timeout}s (got {bytes(out[:200])!r})")
        if not data:
            return bytes(out)
        out += data
    return bytes(out)


def frame(opcode: int, payload: bytes, mask: bool = True, fin: bool = True) -> bytes:
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload)
    m = 0x80 if mask else 0
    if n < 126:
        head += bytes([m | n])
    elif n < 65536:
        head += bytes([m | 126]) + struct.pack("!H", n)
    else:
        head += bytes([m | 127]) + struct.pack("!Q", n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + _mask(payload, key)


def _mask(payload: bytes, key: bytes) -> bytes:
    reps = (len(payload) + 3) // 4
    x = int.from_bytes(payload.ljust(reps * 4, b"\0"), "big") ^ int.from_bytes(key * reps, "big")
    return x.to_bytes(reps * 4, "big")[: len(payload)]


class RawWsClient:
    """A client socket through the gateway: handshake, frames, raw bytes."""

    def __init__(self, port: int, path: str = "/ws/echo", timeout: float = 5.0,
                 extra_headers: Optional[list] = None, method: str = "GET",
                 version: str = "HTTP/1.1", connection: str = "Upgrade"):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.key = base64.b64encode(os.urandom(16)).decode("ascii")
        self.buf = bytearray()
        lines = [f"{method} {path} {version}", "Host: gatehouse.test",
                 f"Connection: {connection}", "Upgrade: websocket",
                 f"Sec-WebSocket-Key: {self.key}", "Sec-WebSocket-Version: 13"]
        lines += [f"{k}: {v}" for k, v in (extra_headers or [])]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        self.status = 0
        self.headers: list = []

    def read_head(self, timeout: float = 5.0) -> int:
        self.sock.settimeout(timeout)
        while b"\r\n\r\n" not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                raise AssertionError(f"closed before a response head: {bytes(self.buf)!r}")
            self.buf += data
        end = self.buf.index(b"\r\n\r\n")
        head = bytes(self.buf[:end]).decode("latin-1").split("\r\n")
        del self.buf[: end + 4]
        self.status = int(head[0].split(" ")[1])
        self.headers = [tuple(x.strip() for x in line.split(":", 1)) for line in head[1:]]
        return self.status

    def header(self, name: str) -> Optional[str]:
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def recv_exact(self, n: int, timeout: float = 5.0) -> bytes:
        self.sock.settimeout(timeout)
        while len(self.buf) < n:
            data = self.sock.recv(65536)
            if not data:
                raise AssertionError(f"EOF after {len(self.buf)} of {n} bytes")
            self.buf += data
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def read_frame(self, timeout: float = 5.0) -> tuple:
        b0, b1 = self.recv_exact(2, timeout)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self.recv_exact(2, timeout))[0]
        elif n == 127:
            n = struct.unpack("!Q", self.recv_exact(8, timeout))[0]
        return b0 & 0x0F, self.recv_exact(n, timeout)

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def wait_closed(self, timeout: float) -> float:
        """Seconds until the gateway closed the connection (AssertionError if it did not)."""
        start = time.monotonic()
        self.sock.settimeout(timeout)
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    return time.monotonic() - start
        except ConnectionResetError:
            return time.monotonic() - start
        except socket.timeout:
            raise AssertionError(f"connection still open after {timeout}s")

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
