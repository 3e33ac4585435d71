"""WebSocket tunnels (SPEC 15): a real client and server (python3-websockets) through the
real binary, and raw sockets where a test needs byte-level control of one side."""

from __future__ import annotations

import asyncio
import os
import re
import resource
import signal
import socket
import threading
import time

import pytest
import websockets

from gh_gateway import endpoint
from gh_raw import RawConn, build_request
from gh_upstream import Response
from gh_websocket import (EchoServer, RawWsClient, accept_key, frame, read_until_eof,
                          upgrade_handler)

MiB = 1024 * 1024


@pytest.fixture
def echo_server():
    s = EchoServer()
    yield s
    s.close()


def is_asan(gw) -> bool:
    return "libasan" in open(f"/proc/{gw.proc.pid}/maps").read()


def ws_config(url: str, **kw) -> dict:
    return {"endpoints": [endpoint(url, name="ws", **kw)]}


def metric(text: str, name: str, endpoint_id: str) -> float:
    m = re.search(rf'^{name}\{{endpoint="{re.escape(endpoint_id)}"\}} (\S+)$', text, re.M)
    assert m, f"{name} for {endpoint_id} missing"
    return float(m.group(1))


def wait_for(predicate, timeout: float = 5.0, what: str = "condition"):
    end = time.monotonic() + timeout
    while True:
        v = predicate()
        if v:
            return v
        if time.monotonic() > end:
            raise AssertionError(f"{what} not met within {timeout}s")
        time.sleep(0.02)


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


# ---- the real client and server ---------------------------------------------------

def test_text_binary_large_ping_and_close_through_the_gateway(start_gateway, echo_server):
    gw = start_gateway(ws_config(echo_server.url()))
    big = os.urandom(2 * MiB + 5)  # random: permessage-deflate cannot shrink it

    async def session():
        async with websockets.connect(f"ws://127.0.0.1:{gw.port}/ws/echo",
                                      subprotocols=["chat"], max_size=None,
                                      ping_interval=None) as ws:
            assert ws.subprotocol == "chat"  # Sec-WebSocket-Protocol went both ways
            for msg in ["hello", "é" * 1000, b"\x00", b"\x01\x02" * 40000]:
                await ws.send(msg)
                assert await ws.recv() == msg
            await ws.send(big)
            assert await ws.recv() == big
            pong = await ws.ping(b"are you there")
            await asyncio.wait_for(pong, 5)
            await ws.close(code=1000, reason="done")
            return ws.close_code, ws.close_rcvd.code

    sent, received = run(session())
    assert (sent, received) == (1000, 1000)
    hs = dict((k.lower(), v) for k, v in echo_server.headers[-1])
    assert hs["upgrade"].lower() == "websocket"
    assert "upgrade" in hs["connection"].lower()
    assert hs["sec-websocket-version"] == "13"
    assert "sec-websocket-key" in hs and "x-request-id" in hs
    assert "permessage-deflate" in hs.get("sec-websocket-extensions", "")
    # One access line at the handshake (101) and one when the tunnel closed.
    log = gw.wait_log(lambda t: "websocket tunnel closed" in t)
    line = [l for l in log.splitlines() if "websocket tunnel closed" in l][-1]
    assert "endpoint=ws" in line or '"endpoint":"ws"' in line, line
    up = int(re.search(r'bytes_in[=":]+(\d+)', line).group(1))
    down = int(re.search(r'bytes_out[=":]+(\d+)', line).group(1))
    assert up > len(big) and down > len(big), line
    assert re.search(r"\b101\b", "\n".join(l for l in log.splitlines() if "/ws/echo" in l)), log


def test_tunnel_to_a_tls_upstream(start_gateway, pki):
    server = EchoServer(ssl=pki.server_context())
    try:
        gw = start_gateway(ws_config(server.url(), timeout="30s", tls={
            "ca_file": str(pki.ca_file), "server_name": "localhost"}))
        payload = os.urandom(MiB)

        async def session():
            async with websockets.connect(f"ws://127.0.0.1:{gw.port}/ws/echo",
                                          max_size=None, ping_interval=None) as ws:
                await ws.send("over TLS")
                assert await ws.recv() == "over TLS"
                await ws.send(payload)
                assert await ws.recv() == payload
            return ws.close_code

        assert run(session()) == 1000
        # Both ends finished (the upstream's close_notify, the client's FIN): the tunnel
        # ends at once, not after the 30 s idle timeout.
        wait_for(lambda: metric(gw.get("/metrics").text, "gatehouse_websocket_tunnels_open",
                                "ws") == 0, timeout=5, what="tunnel closed")
        assert "end=closed" in gw.wait_log(lambda t: "websocket tunnel closed" in t) or \
            '"end":"closed"' in gw.log_text()
    finally:
        server.close()


def test_server_initiated_close_reaches_the_client(start_gateway, echo_server):
    gw = start_gateway(ws_config(echo_server.url()))

    async def session():
        async with websockets.connect(f"ws://127.0.0.1:{gw.port}/ws/close",
                                      ping_interval=None) as ws:
            await ws.send("first")
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await ws.recv()
            return closed.value.rcvd.code, closed.value.rcvd.reason

    assert run(session()) == (4001, "bye")


def test_many_concurrent_tunnels_with_bounded_memory(start_gateway, echo_server):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))
    gw = start_gateway(ws_config(echo_server.url()))
    n = 500
    base = gw.rss_kib()

    async def one(i):
        ws = await websockets.connect(f"ws://127.0.0.1:{gw.port}/ws/echo", ping_interval=None,
                                      compression=None)
        await ws.send(f"m{i}")
        assert await ws.recv() == f"m{i}"
        return ws

    async def session():
        conns = []
        for start in range(0, n, 100):
            conns += await asyncio.gather(*(one(i) for i in range(start, start + 100)))
        opened = metric(gw.get("/metrics").text, "gatehouse_websocket_tunnels_open", "ws")
        rss = gw.rss_kib()
        # Every tunnel still works after all were opened.
        await asyncio.gather(*(c.send("again") for c in conns))
        got = await asyncio.gather(*(c.recv() for c in conns))
        await asyncio.gather(*(c.close() for c in conns))
        return opened, rss, got

    opened, rss, got = run(session())
    assert opened == n
    assert got == ["again"] * n
    grown = rss - base
    print(f"RSS with {n} open tunnels: {rss} KiB ({grown} KiB over the idle gateway)")
    # Two 16 KiB buffers and change each. The figure is the plain build's: under ASan
    # (make sanitize) every allocation carries red zones and shadow memory.
    if not is_asan(gw):
        assert grown < n * 80, f"{grown} KiB for {n} tunnels"
    wait_for(lambda: metric(gw.get("/metrics").text, "gatehouse_websocket_tunnels_open", "ws") == 0,
             what="tunnels closed")


# ---- raw control of one side ----------------------------------------------------

def test_half_close_from_the_client_is_passed_on(start_gateway, make_upstream):
    seen = {}

    def script(sock):
        seen["before_eof"] = read_until_eof(sock)  # the client's FIN arrives as EOF
        sock.sendall(b"still talking after your EOF")  # the other way stays open

    up = make_upstream(upgrade_handler(script))
    gw = start_gateway(ws_config(up.url()))
    with RawWsClient(gw.port) as c:
        assert c.read_head() == 101
        assert c.header("Sec-WebSocket-Accept") == accept_key(c.key)
        assert c.header("Upgrade").lower() == "websocket"
        assert "upgrade" in c.header("Connection").lower()
        c.send(b"raw bytes, not even frames")
        c.sock.shutdown(socket.SHUT_WR)
        rest = bytes(c.buf) + read_until_eof(c.sock)
    assert seen["before_eof"] == b"raw bytes, not even frames"
    assert rest == b"still talking after your EOF"


def test_half_close_from_the_upstream_is_passed_on(start_gateway, make_upstream):
    seen = {}

    def script(sock):
        sock.sendall(b"bye")
        sock.shutdown(socket.SHUT_WR)
        seen["after_shutdown"] = read_until_eof(sock)

    up = make_upstream(upgrade_handler(script))
    gw = start_gateway(ws_config(up.url()))
    with RawWsClient(gw.port) as c:
        assert c.read_head() == 101
        got = bytes(c.buf) + read_until_eof(c.sock)
        assert got == b"bye"
        c.send(b"late reply")  # our half is still open
        c.sock.shutdown(socket.SHUT_WR)
        wait_for(lambda: "after_shutdown" in seen, what="upstream saw the client's EOF")
    assert seen["after_shutdown"] == b"late reply"


def echo_script(sock):
    sock.settimeout(30)
    while True:
        data = sock.recv(65536)
        if not data:
            return
        sock.sendall(data)


def test_idle_tunnel_is_closed_after_the_endpoint_timeout(start_gateway, make_upstream):
    up = make_upstream(upgrade_handler(echo_script))
    gw = start_gateway(ws_config(up.url(), timeout="1s"))
    # Traffic keeps a tunnel open well past `timeout`: it limits idleness, not life.
    with RawWsClient(gw.port) as c:
        assert c.read_head() == 101
        start = time.monotonic()
        while time.monotonic() - start < 2.5:
            time.sleep(0.3)
            c.send(b"tick")
            assert c.recv_exact(4) == b"tick"
        # Then silence: closed about one timeout after the last byte.
        took = c.wait_closed(5)
        assert 0.8 < took < 3, took
    log = gw.wait_log(lambda t: "websocket tunnel closed" in t)
    assert "idle_timeout" in log


def test_sigterm_gives_tunnels_shutdown_grace_then_closes_them(start_gateway, make_upstream):
    up = make_upstream(upgrade_handler(echo_script))
    gw = start_gateway({"shutdown_grace": "2s", **ws_config(up.url())})
    with RawWsClient(gw.port) as c:
        assert c.read_head() == 101
        gw.signal(signal.SIGTERM)
        t0 = time.monotonic()
        gw.wait_log(lambda t: "draining" in t)
        c.send(b"during the drain")  # the tunnel still works in its grace
        assert c.recv_exact(16) == b"during the drain"
        c.wait_closed(8)
        closed_after = time.monotonic() - t0
        assert gw.wait_exit(10) == 0
    assert 1.5 < closed_after < 5, closed_after  # shutdown_grace (2s), then closed
    log = gw.log_text()
    assert re.search(r"websocket tunnel closed.*shutdown", log), log


def test_non_101_answer_is_relayed_and_the_connection_reused(start_gateway, make_upstream):
    def handler(req, conn):
        if (req.header("upgrade") or "").lower() == "websocket":
            return Response(403, [("Content-Type", "text/plain")], b"no websockets for you")
        return Response(200, [("Content-Type", "text/plain")], b"plain " + req.path.encode())

    up = make_upstream(handler)
    gw = start_gateway(ws_config(up.url()))
    hs = [("Connection", "Upgrade"), ("Upgrade", "websocket"),
          ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="), ("Sec-WebSocket-Version", "13")]
    with RawConn(gw.port) as c:
        r = c.request(build_request("GET", "/ws/chat", hs, close=False))
        assert r.status == 403 and r.body == b"no websockets for you"
        r2 = c.request(build_request("GET", "/ws/after", close=False))
        assert r2.status == 200 and r2.body == b"plain /after"
    reqs = up.snapshot()
    assert [q.path for q in reqs] == ["/chat", "/after"]
    assert reqs[0].header("upgrade") == "websocket"
    assert reqs[1].header("upgrade") is None
    assert up.connections == 1  # the upstream connection went back to the pool too


def test_upstream_connection_after_a_tunnel_is_never_reused(start_gateway, make_upstream):
    up = make_upstream(upgrade_handler(lambda sock: None))  # 101, then close at once
    gw = start_gateway(ws_config(up.url()))
    for _ in range(3):
        with RawWsClient(gw.port) as c:
            assert c.read_head() == 101
            assert bytes(c.buf) + read_until_eof(c.sock) == b""
    assert up.connections == 3


@pytest.mark.parametrize("method,version,connection,status", [
    ("POST", "HTTP/1.1", "Upgrade", 400),
    ("GET", "HTTP/1.0", "Upgrade", 400),
    ("GET", "HTTP/1.1", "keep-alive", 400),  # Upgrade: websocket without Connection: upgrade
])
def test_malformed_handshakes_are_400(start_gateway, make_upstream, method, version,
                                      connection, status):
    up = make_upstream()
    gw = start_gateway(ws_config(up.url()))
    with RawWsClient(gw.port, method=method, version=version, connection=connection,
                     extra_headers=[("Content-Length", "0")] if method == "POST" else []) as c:
        assert c.read_head() == status
    assert up.snapshot() == []


def test_websocket_false_is_501(start_gateway, make_upstream):
    up = make_upstream()
    gw = start_gateway(ws_config(up.url(), websocket=False))
    with RawWsClient(gw.port) as c:
        assert c.read_head() == 501
        body = c.recv_exact(int(c.header("Content-Length")))
        assert b'"not_implemented"' in body
    assert gw.get("/ws/plain").status == 200  # plain requests still go through
    assert [q.path for q in up.snapshot()] == ["/plain"]


def test_jwt_endpoint_refuses_the_upgrade_without_a_token(start_gateway, make_upstream):
    up = make_upstream(upgrade_handler(echo_script))
    cfg = ws_config(up.url(), auth_type="jwt")
    cfg["auth"] = {"jwt": {"algorithms": ["HS256"], "hmac_secret_env": "WS_TEST_SECRET"}}
    gw = start_gateway(cfg, env={"WS_TEST_SECRET": "s" * 40})
    with RawWsClient(gw.port) as c:
        assert c.read_head() == 401
        assert c.header("WWW-Authenticate").startswith("Bearer")
    assert up.snapshot() == []


def test_breaker_counts_the_handshake(start_gateway, make_upstream):
    failing = {"on": True}

    def handler(req, conn):
        if failing["on"]:
            return Response(503, [], b"down")
        return upgrade_handler(lambda sock: None)(req, conn)

    up = make_upstream(handler)
    gw = start_gateway(ws_config(up.url(), circuit_breaker={
        "failure_threshold": 2, "reset_timeout": "60s"}))

    def handshake() -> int:
        with RawWsClient(gw.port) as c:
            return c.read_head()

    assert handshake() == 503
    failing["on"] = False
    assert handshake() == 101  # a success: the consecutive failures start again
    failing["on"] = True
    assert handshake() == 503
    assert len(up.snapshot()) == 3  # still closed: the 101 reset the count
    assert handshake() == 503
    assert len(up.snapshot()) == 4
    # Two failing handshakes in a row opened it: the fallback answers, no tunnel.
    with RawWsClient(gw.port) as c:
        assert c.read_head() == 503
        body = c.recv_exact(int(c.header("Content-Length")))
        assert b'"circuit_open"' in body
    assert len(up.snapshot()) == 4


def test_memory_stays_bounded_when_a_peer_stops_reading(start_gateway, make_upstream):
    release = threading.Event()

    def stall(sock):
        sock.sendall(b"x" * 0)  # never reads; writes 50 MiB towards the client
        sock.setblocking(False)
        payload = b"d" * (1 * MiB)
        sent = 0
        end = time.monotonic() + 20
        while sent < 50 * MiB and not release.is_set() and time.monotonic() < end:
            try:
                sent += sock.send(payload)
            except BlockingIOError:
                time.sleep(0.01)
        release.wait(20)

    up = make_upstream(upgrade_handler(stall))
    gw = start_gateway(ws_config(up.url(), timeout="60s"))
    with RawWsClient(gw.port) as c:
        assert c.read_head() == 101
        warm = RawWsClient(gw.port)  # a second tunnel: what a tunnel itself costs is in the baseline
        assert warm.read_head() == 101
        time.sleep(0.5)
        base = gw.rss_kib()
        # The client sends 50 MiB towards an upstream that reads nothing, and reads nothing
        # of the 50 MiB coming back: both directions are stuck on full socket buffers.
        c.sock.setblocking(False)
        chunk = b"u" * MiB
        pushed = 0
        end = time.monotonic() + 8
        while pushed < 50 * MiB and time.monotonic() < end:
            try:
                pushed += c.sock.send(chunk)
            except BlockingIOError:
                time.sleep(0.02)
        time.sleep(0.5)
        grown = gw.rss_kib() - base
        print(f"pushed {pushed / MiB:.1f} MiB into a stalled tunnel; gateway RSS grew {grown} KiB")
        assert pushed < 50 * MiB, "the gateway kept reading from a client whose peer stalled"
        assert grown < 2048, f"RSS grew {grown} KiB"
        release.set()
        warm.close()


def test_metrics_and_stats_follow_the_tunnels(start_gateway, echo_server):
    gw = start_gateway(ws_config(echo_server.url()), args=["--insecure-admin"])
    text = gw.get("/metrics").text
    assert "# TYPE gatehouse_websocket_tunnels_open gauge" in text
    assert "# TYPE gatehouse_websocket_tunnels_total counter" in text
    assert metric(text, "gatehouse_websocket_tunnels_open", "ws") == 0
    assert metric(text, "gatehouse_websocket_tunnels_total", "ws") == 0
    a, b = RawWsClient(gw.port), RawWsClient(gw.port)
    assert a.read_head() == 101 and b.read_head() == 101
    # The client may read its 101 a moment before the gateway counts the tunnel.
    text = wait_for(lambda: (t := gw.get("/metrics").text) and metric(
        t, "gatehouse_websocket_tunnels_open", "ws") == 2 and t, what="two tunnels counted")
    assert metric(text, "gatehouse_websocket_tunnels_open", "ws") == 2
    assert metric(text, "gatehouse_websocket_tunnels_total", "ws") == 2
    stats = gw.get("/endpoints/stats/ws").json()
    assert stats["websocket"] == {"enabled": True, "tunnels_open": 2, "tunnels_total": 2}
    a.send(frame(0x8, b"\x03\xe8"))  # close frame; the server answers and closes
    a.close()
    wait_for(lambda: metric(gw.get("/metrics").text, "gatehouse_websocket_tunnels_open",
                            "ws") == 1, what="one tunnel closed")
    assert metric(gw.get("/metrics").text, "gatehouse_websocket_tunnels_total", "ws") == 2
    b.close()
    wait_for(lambda: metric(gw.get("/metrics").text, "gatehouse_websocket_tunnels_open",
                            "ws") == 0, what="both tunnels closed")
