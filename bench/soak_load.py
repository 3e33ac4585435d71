#!/usr/bin/python3
"""The soak's client (bench/soak.py starts it): a fixed request rate over a fixed pool of
keep-alive connections, plus a share of clients that abort mid-body.

One thread, one selector, non-blocking sockets. Requests are issued on a fixed schedule
(rate per second, whatever the answers do: a slow gateway shows as latency and as
"late" requests, not as a lower rate at the same latency); each keep-alive connection
has one request in flight. Every `--window` seconds, on the clock shared with the
driver (CLOCK_MONOTONIC, --t0), one JSON line goes to stdout with the window's counts
and latency percentiles; requests are counted in the window they complete in.

Request mix (per issued request):
  small    GET  /app/small          24 B answer
  big      GET  /app/big            64 KiB answer
  post     POST /app/upload         8 KiB Content-Length body, read in full upstream
  flaky    GET  /flaky/item         the endpoint whose upstream the driver breaks
  abort    a new connection that gives up mid-body, alternately:
           - POST /app/upload with Content-Length 64 KiB, 32 KiB sent, then closed
           - GET  /app/huge (8 MiB) with a 16 KiB receive buffer, closed after ~64 KiB
             of the answer (the rest cannot all sit in socket buffers: the gateway is
             still writing the body when the client goes)
           and every other one of each closes with a reset (SO_LINGER 0) instead of a FIN.
Keep-alive connections are replaced after a random number of requests (mean 300), so
connections open and close all the time, not only the aborting ones.

Standard library only.
"""

import argparse
import json
import os
import random
import selectors
import signal
import socket
import struct
import sys
import time

MIX = (("small", 0.85), ("big", 0.05), ("post", 0.04), ("flaky", 0.05), ("abort", 0.01))
POST_BODY = b"p" * 8192
ABORT_POST_LEN = 64 * 1024
ABORT_GET_READ = 64 * 1024
REQUEST_TIMEOUT = 10.0
ABORT_HOLD = 0.02   # seconds an aborting client waits after its partial body before closing


def request_bytes(kind, host):
    if kind == "small":
        return f"GET /app/small HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    if kind == "big":
        return f"GET /app/big HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    if kind == "post":
        return (f"POST /app/upload HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/octet-stream\r\n"
                f"Content-Length: {len(POST_BODY)}\r\n\r\n").encode() + POST_BODY
    if kind == "flaky":
        return f"GET /flaky/item HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    raise ValueError(kind)


def percentile(sorted_vals, q):
    if not sorted_vals:
        return None
    i = min(len(sorted_vals) - 1, max(0, int(round(q * len(sorted_vals) + 0.5)) - 1))
    return sorted_vals[i]


class Window:
    def __init__(self):
        self.lat = []          # seconds, app requests (small/big/post) that completed OK
        self.counts = {}       # kind -> completed
        self.status = {}       # "kind:status" -> count
        self.errors = {}       # error type -> count
        self.flaky = {"ok": 0, "fallback": 0, "5xx": 0, "other": 0}
        self.aborts = 0
        self.abort_fail = 0
        self.issued = 0
        self.late = 0          # issued with no idle connection free: waited for one
        self.lag_max = 0.0     # worst delay between a request's slot and its send
        self.connects = 0

    def error(self, kind):
        self.errors[kind] = self.errors.get(kind, 0) + 1

    def line(self, index, t_end):
        self.lat.sort()
        ok = sum(self.counts.values())
        return {
            "w": index, "t": round(t_end, 3), "issued": self.issued, "completed": ok,
            "counts": self.counts, "errors": self.errors,
            "error_total": sum(self.errors.values()),
            "p50_ms": ms(percentile(self.lat, 0.50)), "p99_ms": ms(percentile(self.lat, 0.99)),
            "max_ms": ms(self.lat[-1] if self.lat else None), "samples": len(self.lat),
            "flaky": self.flaky, "aborts": self.aborts, "abort_fail": self.abort_fail,
            "late": self.late, "lag_max_ms": ms(self.lag_max), "connects": self.connects,
        }


def ms(v):
    return None if v is None else round(v * 1e3, 3)


class Conn:
    """A keep-alive client connection: idle, connecting, sending or reading."""

    def __init__(self, load):
        self.load = load
        self.sock = None
        self.state = "closed"
        self.out = b""
        self.buf = bytearray()
        self.kind = None
        self.t_send = 0.0
        self.need = None       # total bytes of head + body once the head is parsed
        self.status = 0
        self.fallback = False
        self.close_after = False
        self.left = 0          # requests before this connection is replaced
        self.pending = None    # a request waiting for the connect to finish

    def open(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            s.connect(("127.0.0.1", self.load.port))
        except BlockingIOError:
            pass
        self.sock = s
        self.state = "connecting"
        self.left = int(random.expovariate(1 / 300)) + 1
        self.load.win.connects += 1
        self.load.sel.register(s, selectors.EVENT_WRITE, self)

    def close(self):
        if self.sock is not None:
            try:
                self.load.sel.unregister(self.sock)
            except (KeyError, ValueError):
                pass
            self.sock.close()
        self.sock = None
        self.state = "closed"

    def start(self, kind, now):
        self.kind = kind
        self.out = self.load.req[kind]
        self.buf.clear()
        self.need = None
        self.t_send = now
        if self.state == "connecting":
            self.pending = True
            return
        self.state = "sending"
        self.flush()

    def flush(self):
        try:
            n = self.sock.send(self.out)
        except BlockingIOError:
            n = 0
        except OSError as e:
            return self.fail(f"send:{e.__class__.__name__}")
        self.out = self.out[n:]
        if self.out:
            self.load.sel.modify(self.sock, selectors.EVENT_WRITE, self)
            self.state = "sending"
        else:
            self.load.sel.modify(self.sock, selectors.EVENT_READ, self)
            self.state = "reading"

    def on_event(self, now):
        if self.state == "connecting":
            err = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                self.pending = None
                return self.fail(f"connect:{os.strerror(err)}")
            self.state = "idle"
            self.load.sel.modify(self.sock, selectors.EVENT_READ, self)
            if self.pending:
                self.pending = None
                self.state = "sending"
                self.flush()
            else:
                self.load.idle.append(self)
            return
        if self.state == "sending":
            return self.flush()
        try:
            data = self.sock.recv(262144)
        except BlockingIOError:
            return
        except OSError as e:
            return self.fail(f"recv:{e.__class__.__name__}")
        if not data:
            if self.state == "idle":   # the gateway closed an idle connection: allowed
                self.close()
                self.load.replace(self)
                return
            return self.fail("eof mid-response")
        if self.state != "reading":
            return self.fail("bytes while idle")
        self.buf += data
        if self.need is None:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buf[:end]).decode("latin-1").split("\r\n")
            try:
                self.status = int(head[0].split(" ", 2)[1])
            except (IndexError, ValueError):
                return self.fail("bad status line")
            length = None
            self.fallback = False
            close = False
            for h in head[1:]:
                name, _, value = h.partition(":")
                name = name.strip().lower()
                if name == "content-length":
                    length = int(value)
                elif name == "x-gatehouse-fallback":
                    self.fallback = True
                elif name == "connection" and "close" in value.lower():
                    close = True
                elif name == "transfer-encoding":
                    return self.fail("chunked answer (not expected)")
            if length is None:
                return self.fail("no content-length")
            self.need = end + 4 + length
            self.close_after = close
        if len(self.buf) < self.need:
            return
        self.done(now)

    def done(self, now):
        w = self.load.win
        kind = self.kind
        key = f"{kind}:{self.status}"
        w.status[key] = w.status.get(key, 0) + 1
        if kind == "flaky":
            if self.status == 200:
                w.flaky["fallback" if self.fallback else "ok"] += 1
            elif 500 <= self.status < 600:
                w.flaky["5xx"] += 1
            else:
                w.flaky["other"] += 1
            w.counts[kind] = w.counts.get(kind, 0) + 1
        elif 200 <= self.status < 300:
            w.counts[kind] = w.counts.get(kind, 0) + 1
            w.lat.append(now - self.t_send)
        else:
            w.error(f"status {self.status} ({kind})")
        self.kind = None
        self.left -= 1
        if self.close_after or self.left <= 0:
            self.close()
            self.load.replace(self)
        else:
            self.state = "idle"
            self.load.idle.append(self)

    def fail(self, what):
        w = self.load.win
        if self.kind == "flaky":
            w.flaky["other"] += 1
        w.error(f"{what} ({self.kind})")
        self.kind = None
        self.close()
        self.load.replace(self)

    def expired(self, now):
        return self.kind is not None and now - self.t_send > REQUEST_TIMEOUT


class Aborter:
    """A client that starts a request and goes away in the middle of a body."""

    def __init__(self, load, mode, reset):
        self.load = load
        self.mode = mode
        self.reset = reset
        self.got = 0
        self.t0 = time.monotonic()
        self.close_at = None
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        if mode == "get":
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)   # before connect: sets the window
        try:
            s.connect(("127.0.0.1", load.port))
        except BlockingIOError:
            pass
        self.sock = s
        if mode == "post":
            self.out = (f"POST /app/upload HTTP/1.1\r\nHost: {load.host}\r\n"
                        f"Content-Length: {ABORT_POST_LEN}\r\n\r\n").encode() + b"a" * (ABORT_POST_LEN // 2)
        else:
            self.out = f"GET /app/huge HTTP/1.1\r\nHost: {load.host}\r\n\r\n".encode()
        load.sel.register(s, selectors.EVENT_WRITE, self)
        load.aborters.add(self)

    def on_event(self, now):
        if self.out:
            try:
                n = self.sock.send(self.out)
            except BlockingIOError:
                return
            except OSError as e:
                return self.finish(False, f"abort send:{e.__class__.__name__}")
            self.out = self.out[n:]
            if not self.out:
                if self.mode == "post":
                    # Hold the half-sent body a moment, so the gateway has started on it.
                    self.close_at = now + ABORT_HOLD
                self.load.sel.modify(self.sock, selectors.EVENT_READ, self)
            return
        try:
            data = self.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError as e:
            return self.finish(False, f"abort recv:{e.__class__.__name__}")
        if not data:
            # A POST's upstream may answer before the body is complete; either way the
            # client gives up here. A GET must see part of the answer first.
            return self.finish(self.mode == "post", "abort get: eof before the body")
        self.got += len(data)
        if self.mode == "get" and self.got >= ABORT_GET_READ:
            self.finish(True)

    def tick(self, now):
        if self.close_at is not None and now >= self.close_at:
            self.finish(True)
        elif now - self.t0 > REQUEST_TIMEOUT:
            self.finish(False, f"abort {self.mode}: timeout")

    def finish(self, ok, what=None):
        if self.sock is None:
            return
        try:
            self.load.sel.unregister(self.sock)
        except (KeyError, ValueError):
            pass
        if self.reset:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()
        self.sock = None
        self.load.aborters.discard(self)
        if ok:
            self.load.win.aborts += 1
        else:
            self.load.win.abort_fail += 1
            self.load.win.error(what)


class Load:
    def __init__(self, args):
        self.port = args.port
        self.host = f"127.0.0.1:{args.port}"
        self.rate = args.rate
        self.sel = selectors.DefaultSelector()
        self.req = {k: request_bytes(k, self.host) for k in ("small", "big", "post", "flaky")}
        self.conns = [Conn(self) for _ in range(args.conns)]
        self.idle = []
        self.aborters = set()
        self.win = Window()
        self.backlog = []     # (slot time, kind) waiting for an idle connection
        self.abort_n = 0
        self.running = False
        kinds, weights = zip(*MIX)
        self.kinds, self.weights = kinds, weights

    def replace(self, conn):
        if self.running:
            conn.open()

    def issue(self, kind, slot, now, retry=False):
        w = self.win
        if not retry:
            w.issued += 1
        if kind == "abort":
            self.abort_n += 1
            n = self.abort_n
            Aborter(self, "post" if n % 2 else "get", reset=(n // 2) % 2 == 1)
            return
        while self.idle:
            c = self.idle.pop()
            if c.state == "idle":
                w.lag_max = max(w.lag_max, now - slot)
                c.start(kind, now)
                return
        if not retry:
            w.late += 1
        self.backlog.append((slot, kind))

    def run(self, t0, duration, window):
        self.running = True
        while time.monotonic() < t0:
            time.sleep(min(0.05, max(0.0, t0 - time.monotonic())))
        for c in self.conns:
            c.open()
        interval = 1.0 / self.rate
        next_slot = t0
        win_index = 0
        win_end = t0 + window
        end = t0 + duration
        rnd = random.Random(1)
        last_sweep = t0
        while True:
            now = time.monotonic()
            if now >= win_end:
                print(json.dumps(self.win.line(win_index, win_end - t0)), flush=True)
                self.win = Window()
                win_index += 1
                win_end += window
            if now >= end or stop_requested:
                break
            while self.backlog and self.idle:
                slot, kind = self.backlog.pop(0)
                self.issue(kind, slot, now, retry=True)
            while next_slot <= now:
                self.issue(rnd.choices(self.kinds, self.weights)[0], next_slot, now)
                next_slot += interval
            timeout = max(0.0, min(next_slot, win_end) - time.monotonic())
            for key, _ in self.sel.select(timeout):
                key.data.on_event(time.monotonic())
            if now - last_sweep > 0.01:
                last_sweep = now
                for a in list(self.aborters):
                    a.tick(now)
                for c in self.conns:
                    if c.expired(now):
                        c.fail("timeout")
        self.running = False
        for c in self.conns:
            c.close()
        for a in list(self.aborters):
            a.finish(True)
        print(json.dumps({"done": True, "in_flight_dropped": sum(1 for c in self.conns if c.kind)}),
              flush=True)


stop_requested = False


def main():
    ap = argparse.ArgumentParser(description="soak client: fixed-rate keep-alive load with aborting clients")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--rate", type=float, default=1500.0, help="requests per second (all kinds)")
    ap.add_argument("--conns", type=int, default=32, help="keep-alive connections")
    ap.add_argument("--t0", type=float, default=None, help="start time, CLOCK_MONOTONIC seconds")
    ap.add_argument("--duration", type=float, default=60.0)
    ap.add_argument("--window", type=float, default=10.0)
    args = ap.parse_args()

    def on_term(sig, frame):
        global stop_requested
        stop_requested = True
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    t0 = args.t0 if args.t0 is not None else time.monotonic()
    Load(args).run(t0, args.duration, args.window)


if __name__ == "__main__":
    sys.exit(main())
