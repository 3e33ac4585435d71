"""The soak's switchable upstream (bench/soak.py): a small HTTP/1.1 keep-alive server in
threads of the driver, answering 200 "flaky ok" while `ok`, 503 to everything while
`error`, and refusing connections while `refuse` (listening socket closed, open
connections shut down). Idle keep-alive connections are closed after 20 s. The driver switches it so the gateway's breaker opens and
closes again. Standard library only.
"""

import errno
import socket
import threading
import time

OK = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 9\r\n\r\nflaky ok\n"
DOWN = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
        b"Content-Length: 11\r\n\r\nflaky down\n")
MAX_HEAD = 64 * 1024
IDLE_TIMEOUT = 20.0   # an idle keep-alive connection is closed, as nginx's keepalive_timeout


class FlakyUpstream:
    def __init__(self, port):
        self.port = port
        self.mode = "ok"
        self.lock = threading.Lock()
        self.listener = None
        self.conns = set()
        self.answered = {"ok": 0, "error": 0}
        self.accepted = 0
        self.rebind_retries = 0
        self._listen()

    # -- switching --

    def set_mode(self, mode):
        with self.lock:
            if mode == self.mode:
                return
            self.mode = mode
            if mode == "refuse":
                if self.listener is not None:
                    self.listener.close()
                    self.listener = None
                for c in list(self.conns):
                    try:
                        c.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                return
        if self.listener is None:
            self._listen()

    def close(self):
        self.set_mode("refuse")

    def _listen(self):
        deadline = time.monotonic() + 10
        while True:
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", self.port))
                break
            except OSError as e:
                s.close()
                # the port can be taken for a moment as some connection's source port
                if e.errno != errno.EADDRINUSE or time.monotonic() > deadline:
                    raise
                self.rebind_retries += 1
                time.sleep(0.1)
        s.listen(512)
        s.settimeout(0.2)   # accept() wakes up to notice it was closed
        with self.lock:
            self.listener = s
        threading.Thread(target=self._accept_loop, args=(s,), daemon=True).start()

    # -- serving --

    def _accept_loop(self, s):
        while True:
            with self.lock:
                if self.listener is not s:
                    return
            try:
                c, _ = s.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            c.settimeout(IDLE_TIMEOUT)
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self.lock:
                if self.mode == "refuse":
                    c.close()
                    continue
                self.conns.add(c)
                self.accepted += 1
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        buf = b""
        try:
            while True:
                end = buf.find(b"\r\n\r\n")
                while end < 0:
                    data = c.recv(65536)
                    if not data or len(buf) > MAX_HEAD:
                        return
                    buf += data
                    end = buf.find(b"\r\n\r\n")
                head, buf = buf[:end].decode("latin-1"), buf[end + 4:]
                length = 0
                for line in head.split("\r\n")[1:]:
                    name, _, value = line.partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value)
                while len(buf) < length:
                    data = c.recv(65536)
                    if not data:
                        return
                    buf += data
                buf = buf[length:]
                mode = self.mode
                if mode == "refuse":
                    return
                c.sendall(OK if mode == "ok" else DOWN)
                self.answered[mode] += 1
        except (OSError, ValueError):   # socket.timeout included: idle too long
            return
        finally:
            with self.lock:
                self.conns.discard(c)
            c.close()
