#!/usr/bin/python3
"""Open N keep-alive client connections to HOST:PORT and hold them idle.

Each connection sends one GET and reads its whole response, so the server sees an
established, idle keep-alive connection (not just an accepted socket). When every
connection has its response the script prints "ready N" (N = connections alive) on
stdout, then holds them until stdin closes, a line arrives on stdin, or SIGTERM.

Standard library only:  idle_conns.py --port 8080 --count 10000 --path /app/small
"""

import argparse
import errno
import os
import resource
import selectors
import signal
import socket
import sys
import time


def raise_nofile(needed):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(needed, soft)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return target


class Conn:
    __slots__ = ("sock", "state", "buf", "need")

    def __init__(self, sock):
        self.sock = sock
        self.state = "connecting"
        self.buf = b""
        self.need = None  # total bytes of header + body once the header is complete


def response_complete(conn):
    """True once a whole Content-Length response is in conn.buf."""
    if conn.need is None:
        end = conn.buf.find(b"\r\n\r\n")
        if end < 0:
            return False
        length = 0
        for line in conn.buf[:end].split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        conn.need = end + 4 + length
    return len(conn.buf) >= conn.need


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--count", type=int, default=10000)
    ap.add_argument("--path", default="/")
    ap.add_argument("--in-flight", type=int, default=256,
                    help="connections being set up at once (keeps the accept backlog short)")
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds to get every response")
    args = ap.parse_args()

    limit = raise_nofile(args.count + 64)
    if limit < args.count + 16:
        sys.exit(f"idle_conns: open-file limit {limit} is too low for {args.count} connections")

    request = (f"GET {args.path} HTTP/1.1\r\nHost: {args.host}:{args.port}\r\n"
               "User-Agent: gatehouse-bench-idle\r\n\r\n").encode()
    sel = selectors.DefaultSelector()
    stop = False

    def on_term(_sig, _frm):
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)

    ready, failed, started, pending = [], 0, 0, 0
    deadline = time.monotonic() + args.timeout
    while (len(ready) + failed < args.count) and not stop:
        while started < args.count and pending < args.in_flight:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            err = s.connect_ex((args.host, args.port))
            if err not in (0, errno.EINPROGRESS):
                s.close()
                failed += 1
                started += 1
                continue
            c = Conn(s)
            sel.register(s, selectors.EVENT_WRITE, c)
            started += 1
            pending += 1
        if time.monotonic() > deadline:
            break
        for key, _ in sel.select(timeout=1.0):
            c = key.data
            try:
                if c.state == "connecting":
                    err = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if err:
                        raise OSError(err, os.strerror(err))
                    c.sock.sendall(request)  # small; fits the empty send buffer
                    c.state = "reading"
                    sel.modify(c.sock, selectors.EVENT_READ, c)
                else:
                    data = c.sock.recv(65536)
                    if not data:
                        raise OSError("closed by the server")
                    c.buf += data
                    if response_complete(c):
                        sel.unregister(c.sock)
                        c.buf = b""
                        ready.append(c.sock)
                        pending -= 1
            except OSError:
                sel.unregister(c.sock)
                c.sock.close()
                failed += 1
                pending -= 1

    print(f"ready {len(ready)} failed {failed + (args.count - len(ready) - failed)}", flush=True)

    # Hold until told to stop: a line or EOF on stdin, or SIGTERM.
    hold = selectors.DefaultSelector()
    hold.register(sys.stdin, selectors.EVENT_READ)
    while not stop:
        if hold.select(timeout=0.5):
            break
    for s in ready:
        s.close()
    for key in list(sel.get_map().values()):
        key.fileobj.close()


if __name__ == "__main__":
    main()
