"""Idle keep-alive connections give their buffers back (after about 100 ms, or at once
when a thread has over 1,024 connections) and keep working: the next request on them,
whole or arriving in pieces, is served, and the idle timeout still closes them."""

import resource
import time

import pytest

from gh_gateway import endpoint
from gh_raw import RawConn, build_request


def raise_nofile(needed):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= needed:
        return
    if hard != resource.RLIM_INFINITY and hard < needed:
        pytest.skip(f"open-file limit {hard} too low for this test")
    resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


def assert_closed_after_idle_timeout(port):
    """One request, then the connection must be closed by the 3 s idle timeout."""
    with RawConn(port, timeout=8) as c:
        c.send(build_request("GET", "/a/one", close=False))
        assert c.read_response().status == 200
        t0 = time.monotonic()
        assert c.wait_closed(7)
        assert 2.5 <= time.monotonic() - t0 < 6


def test_request_after_long_idle_is_served(start_gateway, upstream):
    gw = start_gateway({"endpoints": [endpoint(upstream.url(), name="a")]})
    with RawConn(gw.port, timeout=5) as c:
        c.send(build_request("GET", "/a/one", close=False))
        assert c.read_response().status == 200
        time.sleep(2.5)  # well past the idle mark and the sweep that trims
        c.send(build_request("GET", "/a/two", close=False))
        r = c.read_response()
        assert r.status == 200
    assert [req.path for req in upstream.snapshot()] == ["/one", "/two"]


def test_request_split_across_a_long_idle_gap_is_served(start_gateway, upstream):
    gw = start_gateway({"endpoints": [endpoint(upstream.url(), name="a")],
                        "limits": {"header_timeout": "10s"}})
    with RawConn(gw.port, timeout=8) as c:
        c.send(build_request("GET", "/a/one", close=False))
        assert c.read_response().status == 200
        time.sleep(2.5)
        raw = build_request("GET", "/a/two", close=False)
        c.send(raw[:5])
        time.sleep(0.3)
        c.send(raw[5:])
        assert c.read_response().status == 200


def test_idle_timeout_still_closes_a_trimmed_connection(start_gateway, upstream):
    gw = start_gateway({"endpoints": [endpoint(upstream.url(), name="a")],
                        "limits": {"idle_timeout": "3s"}})
    assert_closed_after_idle_timeout(gw.port)


def test_connections_beyond_1024_on_a_thread_park_at_once_and_keep_working(start_gateway,
                                                                             upstream):
    count = 1100  # the last ~76 connections park as soon as they have answered
    raise_nofile(count + 200)
    gw = start_gateway({"threads": 1, "endpoints": [endpoint(upstream.url(), name="a")],
                        "limits": {"idle_timeout": "30s"}})
    conns = []
    try:
        for i in range(count):
            c = RawConn(gw.port, timeout=10)
            conns.append(c)
            c.send(build_request("GET", f"/a/first/{i}", close=False))
            assert c.read_response().status == 200
        # Parked connections (the newest) and trimmed ones (the oldest) serve the next
        # request, also when it arrives in pieces.
        again = conns[:3] + conns[-40:]
        for i, c in enumerate(again):
            raw = build_request("GET", f"/a/second/{i}", close=False)
            if i % 2:
                c.send(raw[:7])
                time.sleep(0.01)
                c.send(raw[7:])
            else:
                c.send(raw)
            r = c.read_response()
            assert r.status == 200
        paths = [req.path for req in upstream.snapshot()]
        assert len(paths) == count + len(again)
        assert paths[-len(again):] == [f"/second/{i}" for i in range(len(again))]
    finally:
        for c in conns:
            c.sock.close()


def test_a_parked_connection_still_times_out(start_gateway, upstream):
    raise_nofile(1300)
    gw = start_gateway({"threads": 1, "endpoints": [endpoint(upstream.url(), name="a")],
                        "limits": {"idle_timeout": "3s"}})
    conns = []
    try:
        for _ in range(1030):  # idle, no request: they only need to be open
            conns.append(RawConn(gw.port, timeout=10))
        assert_closed_after_idle_timeout(gw.port)  # above 1,024: parks at once
    finally:
        for c in conns:
            c.sock.close()
