"""Long-idle keep-alive connections give their buffers back (after about a second) and
keep working: the next request on them, whole or arriving in pieces, is served."""

import time

from gh_gateway import endpoint
from gh_raw import RawConn, build_request


def test_request_after_long_idle_is_served(start_gateway, upstream):
    gw = start_gateway({"endpoints": [endpoint(upstream.url(), name="a")]})
    with RawConn(gw.port, timeout=5) as c:
        c.send(build_request("GET", "/a/one", close=False))
        assert c.read_response().status == 200
        time.sleep(2.5)  # past the one-second idle mark and the once-a-second sweep
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
    with RawConn(gw.port, timeout=8) as c:
        c.send(build_request("GET", "/a/one", close=False))
        assert c.read_response().status == 200
        t0 = time.monotonic()
        assert c.wait_closed(7)
        assert 2.5 <= time.monotonic() - t0 < 6
