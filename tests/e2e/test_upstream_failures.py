"""SPEC sections 4 and 8: what the client sees when the upstream misbehaves."""

import socket
import time

import pytest

from gh_gateway import endpoint
from gh_raw import RawConn, assert_problem, build_request
from gh_upstream import (Response, blackhole_handler, close_early_handler, free_port,
                         garbage_status_handler, reset_mid_body_handler)


def test_connection_refused_is_502(start_gateway):
    gw = start_gateway({"endpoints": [endpoint(f"http://127.0.0.1:{free_port()}/x", name="r")]})
    t0 = time.monotonic()
    r = gw.get("/r/a")
    assert_problem(r, 502, "upstream_error")
    assert time.monotonic() - t0 < 3
    assert r.json().get("endpoint") in (None, "r")


def test_black_hole_times_out_with_504(start_gateway, make_upstream):
    up = make_upstream(blackhole_handler)
    gw = start_gateway({"endpoints": [endpoint(up.url(), name="bh", timeout="1s")]})
    t0 = time.monotonic()
    r = gw.get("/bh/a", timeout=10)
    elapsed = time.monotonic() - t0
    assert_problem(r, 504, "upstream_timeout")
    assert 0.8 <= elapsed < 4, elapsed
    assert len(up.snapshot()) == 1  # it did reach the upstream


def test_default_timeout_applies(start_gateway, make_upstream):
    up = make_upstream(blackhole_handler)
    gw = start_gateway({"defaults": {"timeout": "1s", "connect_timeout": "500ms"},
                        "endpoints": [endpoint(up.url(), name="bh")]})
    t0 = time.monotonic()
    r = gw.get("/bh/a", timeout=10)
    assert_problem(r, 504, "upstream_timeout")
    assert time.monotonic() - t0 < 4


def test_timeout_covers_a_stalled_body(start_gateway, make_upstream):
    """The upstream sends the head and part of the body, then stalls: `timeout` is the
    whole exchange, so the client's connection is cut (the response has started)."""
    def handler(req, conn):
        conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"x" * 10)
        conn.upstream.stopped.wait(30)
        return None

    up = make_upstream(handler)
    gw = start_gateway({"endpoints": [endpoint(up.url(), name="st", timeout="1s")]})
    t0 = time.monotonic()
    with RawConn(gw.port, timeout=10) as c:
        c.send(build_request("GET", "/st/a"))
        r = c.read_response()
    assert r.status == 200
    assert not r.complete and len(r.body) < 100
    assert time.monotonic() - t0 < 4


def _filled_backlog_listener():
    """A listener whose accept queue is full: further SYNs get no answer, so a connect
    hangs (Linux, tcp_abort_on_overflow=0).  Returns (listener, fillers) or None."""
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(0)
    port = lst.getsockname()[1]
    fillers = []
    for _ in range(4):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
        fillers.append(s)
    probe = socket.socket()
    probe.settimeout(0.3)
    try:
        probe.connect(("127.0.0.1", port))
        ok = False
    except socket.timeout:
        ok = True
    except OSError:
        ok = False
    finally:
        probe.close()
    if not ok:
        lst.close()
        for s in fillers:
            s.close()
        return None
    return lst, fillers


def test_connect_timeout(start_gateway):
    got = _filled_backlog_listener()
    if got is None:
        pytest.skip("cannot make a connect hang on this loopback")
    lst, fillers = got
    try:
        port = lst.getsockname()[1]
        gw = start_gateway({"endpoints": [endpoint(f"http://127.0.0.1:{port}/", name="ct",
                                                   connect_timeout="500ms", timeout="8s")]})
        t0 = time.monotonic()
        r = gw.get("/ct/a", timeout=10)
        elapsed = time.monotonic() - t0
        assert r.status == 504, r
        assert_problem(r, 504, "upstream_timeout")
        assert 0.4 <= elapsed < 3, f"connect_timeout 500ms, answered after {elapsed:.2f}s"
    finally:
        lst.close()
        for s in fillers:
            s.close()


def test_garbage_status_line_is_502(start_gateway, make_upstream):
    up = make_upstream(garbage_status_handler)
    gw = start_gateway({"endpoints": [endpoint(up.url(), name="g")]})
    assert_problem(gw.get("/g/a"), 502, "upstream_error")


@pytest.mark.parametrize("head", [
    b"HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nab",
    b"HTTP/1.1 200 OK\r\nX-Bad : folded\r\n\r\n",
    b"HTTP/1.1 2000 Nope\r\nContent-Length: 0\r\n\r\n",
])
def test_broken_response_is_502_and_connection_never_reused(start_gateway, make_upstream, head):
    """The upstream answers the first request with a broken head and keeps its socket
    open; the gateway must answer 502 and drop that connection: the next request
    arrives on a new upstream connection."""
    def handler(req, conn):
        if req.path == "/first":
            conn.send(head)
            return None  # keep the connection open, ready for another request
        return Response(200, [], b"second")

    up = make_upstream(handler)
    gw = start_gateway({"threads": 1, "endpoints": [endpoint(up.url(), name="b")]})
    assert_problem(gw.get("/b/first"), 502, "upstream_error")
    r = gw.get("/b/second")
    assert r.status == 200 and r.body == b"second", r
    reqs = up.snapshot()
    assert [q.path for q in reqs] == ["/first", "/second"]
    assert reqs[1].conn_id != reqs[0].conn_id, "a broken upstream connection was reused"


def test_reset_mid_body_cuts_client_then_recovers(start_gateway, make_upstream):
    def handler(req, conn):
        if req.path == "/big":
            return reset_mid_body_handler(req, conn)
        return Response(200, [], b"fine")

    up = make_upstream(handler)
    gw = start_gateway({"threads": 1, "endpoints": [endpoint(up.url(), name="rs")]})
    with RawConn(gw.port, timeout=5) as c:
        c.send(build_request("GET", "/rs/big", close=False))
        r = c.read_response()
        assert r.status == 200
        assert not r.complete, "the client must see the response cut short"
        assert 0 < len(r.body) < 1000000
        assert c.eof
    r2 = gw.get("/rs/next")
    assert r2.status == 200 and r2.body == b"fine", r2
    reqs = up.snapshot()
    assert reqs[1].conn_id != reqs[0].conn_id
    assert up.connections == 2


def test_reset_mid_chunked_body_cuts_client(start_gateway, make_upstream):
    def handler(req, conn):
        conn.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                  b"5\r\nhello\r\n1000\r\n" + b"y" * 100)
        conn.reset()
        return None

    up = make_upstream(handler)
    gw = start_gateway({"endpoints": [endpoint(up.url(), name="rc")]})
    with RawConn(gw.port, timeout=5) as c:
        c.send(build_request("GET", "/rc/x", close=False))
        r = c.read_response()
    assert r.status == 200
    assert not r.complete, "a cut chunked body must not be terminated with a 0 chunk"


def test_close_without_response_is_502(start_gateway, make_upstream):
    up = make_upstream(close_early_handler)
    gw = start_gateway({"endpoints": [endpoint(up.url(), name="ce")]})
    assert_problem(gw.get("/ce/a"), 502, "upstream_error")


def test_close_before_reading_request_is_502(start_gateway, make_upstream):
    """An upstream that accepts and closes at once (no request read)."""
    up = make_upstream(close_early_handler,
                       before_body=lambda req, conn: conn.reset())
    gw = start_gateway({"endpoints": [endpoint(up.url(), name="ce")]})
    r = gw.request("POST", "/ce/a", body=b"payload")
    assert_problem(r, 502, "upstream_error")


def test_stale_pooled_connection_is_retried_or_fails_cleanly(start_gateway, make_upstream):
    """The upstream closes idle keep-alive connections after each response (without
    saying Connection: close).  The next request must not get a spurious 502 for an
    idempotent GET: the gateway notices the closed pooled connection and opens a new one."""
    def handler(req, conn):
        conn.write_response(Response(200, [], b"ok"))
        conn.close()  # closes the keep-alive connection silently
        return None

    up = make_upstream(handler)
    gw = start_gateway({"threads": 1, "endpoints": [endpoint(up.url(), name="st")]})
    assert gw.get("/st/1").body == b"ok"
    for i in range(3):
        r = gw.get(f"/st/{i + 2}")
        assert r.status == 200 and r.body == b"ok", r
    assert len(up.complete_requests()) == 4
