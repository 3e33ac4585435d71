#!/usr/bin/python3
"""The two WebSocket peers of bench/ws_bench.py.

    ws_peers.py echo --port P
        a WebSocket echo server (Debian's python3-websockets, asyncio, no compression, no
        keepalive pings); prints "ready" once listening.
    ws_peers.py client --port P --path /ws/ --connections 64 --size 1024 --duration 5
        opens the connections (RFC 6455 handshake), then on every connection sends one
        binary message, waits for its echo, sends the next, for --duration seconds; prints
        one JSON line: {"messages", "seconds", "errors", "p50_ms", "p99_ms"}.

The client is standard library only and single-threaded (one selector over every
socket): the frame is built once (masked, as a client must; the same mask each time,
which RFC 6455 asks to be unpredictable, is fine for a benchmark whose peer does not
check), so the per-message cost on the client side stays small and close to that of a
C client's system calls.
"""

import argparse
import asyncio
import base64
import json
import os
import selectors
import socket
import struct
import sys
import time


def run_echo(args):
    import websockets

    async def echo(ws, path=None):
        try:
            async for message in ws:
                await ws.send(message)
        except websockets.ConnectionClosed:
            pass

    async def main():
        async with websockets.serve(echo, "127.0.0.1", args.port, compression=None,
                                    ping_interval=None, max_size=1 << 20, backlog=1024):
            print("ready", flush=True)
            await asyncio.Future()

    asyncio.run(main())


def handshake(port, path):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
               f"Sec-WebSocket-Version: 13\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk:
            raise OSError("closed during the handshake")
        head += chunk
    if not head.startswith(b"HTTP/1.1 101"):
        status_line = head.split(b"\r\n", 1)[0]
        raise OSError(f"handshake answered {status_line!r}")
    rest = head.split(b"\r\n\r\n", 1)[1]
    s.setblocking(False)
    return s, bytearray(rest)


def client_frame(size):
    mask = os.urandom(4)
    payload = bytes(os.urandom(size))
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    if size < 126:
        head = struct.pack("!BB", 0x82, 0x80 | size)
    elif size < 65536:
        head = struct.pack("!BBH", 0x82, 0x80 | 126, size)
    else:
        head = struct.pack("!BBQ", 0x82, 0x80 | 127, size)
    return head + mask + masked


def take_frame(buf):
    """(opcode, payload length) of the first whole frame in buf, removed from it; None if
    the frame is not complete yet."""
    if len(buf) < 2:
        return None
    b0, b1 = buf[0], buf[1]
    n, at = b1 & 0x7F, 2
    if n == 126:
        if len(buf) < 4:
            return None
        n, at = struct.unpack_from("!H", buf, 2)[0], 4
    elif n == 127:
        if len(buf) < 10:
            return None
        n, at = struct.unpack_from("!Q", buf, 2)[0], 10
    if b1 & 0x80:
        at += 4  # a server never masks; accepted anyway
    if len(buf) < at + n:
        return None
    del buf[:at + n]
    return b0 & 0x0F, n


def run_client(args):
    frame = client_frame(args.size)
    sel = selectors.DefaultSelector()
    conns = []
    errors = 0
    for _ in range(args.connections):
        try:
            s, buf = handshake(args.port, args.path)
        except OSError as e:
            errors += 1
            print(f"ws_peers: {e}", file=sys.stderr)
            continue
        c = {"sock": s, "buf": buf, "sent_at": 0.0, "out": b""}
        conns.append(c)
        sel.register(s, selectors.EVENT_READ, c)
    if not conns:
        print(json.dumps({"messages": 0, "seconds": 0, "errors": errors}))
        return 1
    latencies = []
    messages = 0

    def send(c):
        c["sent_at"] = time.perf_counter()
        try:
            n = c["sock"].send(frame)
        except BlockingIOError:
            n = 0
        if n < len(frame):  # rare: the rest goes when the socket is writable
            c["out"] = frame[n:]
            sel.modify(c["sock"], selectors.EVENT_READ | selectors.EVENT_WRITE, c)

    start = time.perf_counter()
    end = start + args.duration
    for c in conns:
        send(c)
    live = len(conns)
    while live:
        now = time.perf_counter()
        if now >= end:
            break
        for key, events in sel.select(timeout=min(0.1, end - now)):
            c = key.data
            s = c["sock"]
            if events & selectors.EVENT_WRITE and c["out"]:
                try:
                    n = s.send(c["out"])
                    c["out"] = c["out"][n:]
                except BlockingIOError:
                    pass
                if not c["out"]:
                    sel.modify(s, selectors.EVENT_READ, c)
            if not events & selectors.EVENT_READ:
                continue
            try:
                data = s.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if not data:
                errors += 1
                sel.unregister(s)
                live -= 1
                continue
            c["buf"] += data
            while True:
                got = take_frame(c["buf"])
                if got is None:
                    break
                opcode, n = got
                if opcode == 0x2 and n == args.size:
                    t = time.perf_counter()
                    latencies.append(t - c["sent_at"])
                    messages += 1
                    if t < end:
                        send(c)
                elif opcode in (0x1, 0x2):
                    errors += 1  # an echo of the wrong size
    seconds = time.perf_counter() - start
    for c in conns:
        try:
            c["sock"].close()
        except OSError:
            pass
    latencies.sort()

    def pct(p):
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1e3 if latencies else None

    print(json.dumps({"messages": messages, "seconds": seconds, "errors": errors,
                      "p50_ms": pct(0.50), "p99_ms": pct(0.99)}), flush=True)
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("echo")
    e.add_argument("--port", type=int, required=True)
    c = sub.add_parser("client")
    c.add_argument("--port", type=int, required=True)
    c.add_argument("--path", default="/")
    c.add_argument("--connections", type=int, default=64)
    c.add_argument("--size", type=int, default=1024)
    c.add_argument("--duration", type=float, default=5.0)
    args = ap.parse_args()
    if args.cmd == "echo":
        run_echo(args)
        return 0
    return run_client(args)


if __name__ == "__main__":
    sys.exit(main())
