"""SPEC section 4 (malformed and ambiguous requests), limits of section 2, 501s and
Expect: 100-continue.  Every request is raw bytes; the upstream must see nothing."""

import os
import resource
import time

import pytest

from gh_gateway import endpoint
from gh_raw import RawConn, assert_problem, build_request, chunked

H = b"Host: gw.test\r\n"


@pytest.fixture
def setup(start_gateway, upstream):
    gw = start_gateway({
        "limits": {"max_request_line": "1KiB", "max_header_bytes": "4KiB", "max_headers": 20,
                   "max_body": "64KiB", "header_timeout": "500ms"},
        "endpoints": [
            endpoint(upstream.url("/base"), name="up"),
            endpoint(upstream.url("/small"), name="small", max_body=100),
        ]})
    return gw, upstream


def exchange(gw, data, timeout=5.0):
    """Sends `data`, reads one response, reports whether the gateway then closed."""
    with RawConn(gw.port, timeout) as c:
        c.send(data)
        r = c.read_response()
        closed = c.wait_closed(3)
    return r, closed


BAD_400 = {
    "cl_and_te": b"POST /up/x HTTP/1.1\r\n" + H
    + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "te_and_cl": b"POST /up/x HTTP/1.1\r\n" + H
    + b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
    "duplicate_cl_equal": b"POST /up/x HTTP/1.1\r\n" + H
    + b"Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
    "duplicate_cl_different": b"POST /up/x HTTP/1.1\r\n" + H
    + b"Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
    "cl_list": b"POST /up/x HTTP/1.1\r\n" + H + b"Content-Length: 5, 5\r\n\r\nhello",
    "cl_not_a_number": b"POST /up/x HTTP/1.1\r\n" + H + b"Content-Length: abc\r\n\r\n",
    "cl_negative": b"POST /up/x HTTP/1.1\r\n" + H + b"Content-Length: -1\r\n\r\n",
    "cl_plus_sign": b"POST /up/x HTTP/1.1\r\n" + H + b"Content-Length: +5\r\n\r\nhello",
    "cl_hex": b"POST /up/x HTTP/1.1\r\n" + H + b"Content-Length: 0x5\r\n\r\nhello",
    "invalid_chunk_size": b"POST /up/x HTTP/1.1\r\n" + H
    + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
    "negative_chunk_size": b"POST /up/x HTTP/1.1\r\n" + H
    + b"Transfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n",
    "obs_fold": b"GET /up/x HTTP/1.1\r\n" + H + b"X-A: one\r\n two\r\n\r\n",
    "obs_fold_tab": b"GET /up/x HTTP/1.1\r\n" + H + b"X-A: one\r\n\ttwo\r\n\r\n",
    "bare_lf_everywhere": b"GET /up/x HTTP/1.1\n" + b"Host: gw.test\n\n",
    "bare_lf_in_header": b"GET /up/x HTTP/1.1\r\n" + H + b"X-A: one\nX-B: two\r\n\r\n",
    "bare_cr_in_value": b"GET /up/x HTTP/1.1\r\n" + H + b"X-A: one\rtwo\r\n\r\n",
    "space_before_colon": b"GET /up/x HTTP/1.1\r\n" + H + b"X-A : one\r\n\r\n",
    "tab_before_colon": b"GET /up/x HTTP/1.1\r\n" + H + b"X-A\t: one\r\n\r\n",
    "space_before_colon_host": b"GET /up/x HTTP/1.1\r\nHost : gw.test\r\n\r\n",
    "nul_in_value": b"GET /up/x HTTP/1.1\r\n" + H + b"X-A: on\x00e\r\n\r\n",
    "missing_host_http11": b"GET /up/x HTTP/1.1\r\nX-A: one\r\n\r\n",
    "duplicate_host": b"GET /up/x HTTP/1.1\r\n" + H + b"Host: other.test\r\n\r\n",
    "duplicate_host_equal": b"GET /up/x HTTP/1.1\r\n" + H + H + b"\r\n",
    "header_without_colon": b"GET /up/x HTTP/1.1\r\n" + H + b"NoColonHere\r\n\r\n",
    "bad_header_name": b"GET /up/x HTTP/1.1\r\n" + H + b"X(A): one\r\n\r\n",
    "empty_header_name": b"GET /up/x HTTP/1.1\r\n" + H + b": one\r\n\r\n",
    "chunk_data_longer_than_size": b"POST /up/x HTTP/1.1\r\n" + H
    + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhelloEXTRA\r\n0\r\n\r\n",
    "bad_method_token": b"G@T /up/x HTTP/1.1\r\n" + H + b"\r\n",
}


@pytest.mark.parametrize("name", sorted(BAD_400))
def test_malformed_request_is_400_and_closes(setup, name):
    gw, up = setup
    r, closed = exchange(gw, BAD_400[name])
    assert_problem(r, 400, "bad_request")
    assert closed, "the connection must be closed after a 400"
    assert up.snapshot() == [], "nothing may reach the upstream"
    assert up.connections == 0


@pytest.mark.parametrize("target", [b"/up/%zz", b"/up/a%2", b"/up/\xff", b"/up/a b"])
def test_invalid_request_path_is_400(setup, target):
    """The framing is fine, so closing the connection is not required here."""
    gw, up = setup
    r = gw.raw(b"GET " + target + b" HTTP/1.1\r\n" + H + b"Connection: close\r\n\r\n")
    assert_problem(r, 400, "bad_request")
    assert up.snapshot() == []


def test_duplicate_chunked_transfer_coding_is_refused(setup):
    """`chunked, chunked` (or two TE fields saying chunked) is not a valid framing."""
    gw, up = setup
    for te in (b"Transfer-Encoding: chunked, chunked\r\n",
               b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"):
        r, closed = exchange(gw, b"POST /up/x HTTP/1.1\r\n" + H + te + b"\r\n0\r\n\r\n")
        assert r.status in (400, 501), r
        assert closed
    assert up.snapshot() == []


def test_transfer_coding_is_case_insensitive(setup):
    gw, up = setup
    r = gw.raw(b"POST /up/x HTTP/1.1\r\n" + H + b"Transfer-Encoding: Chunked\r\n"
               b"Connection: close\r\n\r\n" + chunked(b"abc"))
    assert r.status == 200, r
    assert up.snapshot()[0].body == b"abc"


def test_client_closing_mid_body_forwards_no_complete_request(setup):
    gw, up = setup
    with RawConn(gw.port) as c:
        c.send(build_request("POST", "/up/x", [("Content-Length", "1000")]) + b"x" * 10)
    # the gateway notices the client went away; the upstream never gets a full request
    assert gw.get("/up/after").status == 200
    assert [q.target for q in up.complete_requests()] == ["/base/after"]


def test_http10_without_host_is_fine(setup):
    gw, up = setup
    r = gw.raw(b"GET /up/x HTTP/1.0\r\n\r\n")
    assert r.status == 200, r
    assert [q.target for q in up.snapshot()] == ["/base/x"]


def test_400_closes_even_with_keepalive_and_pipelined_request(setup):
    """The request after a smuggling attempt must never be parsed or forwarded."""
    gw, up = setup
    smuggled = b"GET /up/smuggled HTTP/1.1\r\n" + H + b"\r\n"
    data = (b"POST /up/x HTTP/1.1\r\n" + H
            + b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled)
    r, closed = exchange(gw, data)
    assert r.status == 400
    assert closed
    assert up.snapshot() == []


def test_request_line_too_long_is_414(setup):
    gw, up = setup
    r, closed = exchange(gw, build_request("GET", "/up/" + "a" * 2000))
    assert_problem(r, 414, "uri_too_long")
    assert closed
    assert up.snapshot() == []


def test_request_line_just_under_limit_is_fine(setup):
    gw, up = setup
    target = "/up/" + "a" * 900
    r = gw.get(target)
    assert r.status == 200, r
    assert len(up.snapshot()) == 1


def test_header_bytes_over_limit_is_431(setup):
    gw, up = setup
    r, closed = exchange(gw, build_request("GET", "/up/x", [("X-Big", "b" * 5000)]))
    assert_problem(r, 431, "headers_too_large")
    assert closed
    assert up.snapshot() == []


def test_header_bytes_over_limit_in_many_fields_is_431(setup):
    gw, up = setup
    hs = [(f"X-H{i}", "v" * 400) for i in range(15)]  # 15 * ~407 > 4 KiB, < 20 fields
    r, _ = exchange(gw, build_request("GET", "/up/x", hs))
    assert_problem(r, 431, "headers_too_large")
    assert up.snapshot() == []


def test_too_many_headers_is_431(setup):
    gw, up = setup
    hs = [(f"X-H{i}", "v") for i in range(25)]
    r, closed = exchange(gw, build_request("GET", "/up/x", hs))
    assert_problem(r, 431, "headers_too_large")
    assert closed
    assert up.snapshot() == []


def test_content_length_over_global_max_body_is_413(setup):
    gw, up = setup
    # only the head is sent: the answer must not wait for the body
    r, _ = exchange(gw, build_request("POST", "/up/x", [("Content-Length", str(65 * 1024))]))
    assert_problem(r, 413, "payload_too_large")
    assert up.snapshot() == [] and up.connections == 0


def test_content_length_at_global_max_body_is_fine(setup):
    gw, up = setup
    r = gw.request("POST", "/up/x", body=b"m" * (64 * 1024))
    assert r.status == 200, r
    assert up.snapshot()[0].body_len == 64 * 1024


def test_content_length_over_endpoint_max_body_is_413(setup):
    gw, up = setup
    r, _ = exchange(gw, build_request("POST", "/small/x", [("Content-Length", "101")]))
    assert_problem(r, 413, "payload_too_large")
    assert up.snapshot() == []
    ok = gw.request("POST", "/small/x", body=b"s" * 100)
    assert ok.status == 200, ok
    also_ok = gw.request("POST", "/up/x", body=b"s" * 101)
    assert also_ok.status == 200, also_ok


def test_chunked_body_growing_past_max_body_is_413(setup):
    gw, up = setup
    # 5 x 16 KiB = 80 KiB > 64 KiB; the terminating chunk is never sent, so the gateway
    # has nothing unread when it answers.
    piece = b"c" * (16 * 1024)
    data = build_request("POST", "/up/x", [("Transfer-Encoding", "chunked")])
    data += b"".join(b"%x\r\n" % len(piece) + piece + b"\r\n" for _ in range(5))
    with RawConn(gw.port, timeout=5) as c:
        c.send(data)
        r = c.read_response()
        closed = c.wait_closed(3)
    assert_problem(r, 413, "payload_too_large")
    assert closed
    # the upstream exchange (if one started) was aborted: no complete request arrived
    assert up.complete_requests() == []
    for q in up.snapshot():
        assert q.body_len <= 64 * 1024


def test_chunked_body_past_endpoint_max_body_is_413(setup):
    gw, up = setup
    data = build_request("POST", "/small/x", [("Transfer-Encoding", "chunked")])
    data += b"40\r\n" + b"a" * 64 + b"\r\n" + b"40\r\n" + b"b" * 64 + b"\r\n"
    r, _ = exchange(gw, data)
    assert_problem(r, 413, "payload_too_large")
    assert up.complete_requests() == []


def test_header_timeout_is_408_and_closes(setup):
    gw, up = setup
    with RawConn(gw.port, timeout=5) as c:
        t0 = time.monotonic()
        c.send(b"GET /up/x HTTP/1.1\r\n" + H)  # the head is never finished
        r = c.read_response()
        elapsed = time.monotonic() - t0
        closed = c.wait_closed(3)
    assert_problem(r, 408, "request_timeout")
    assert 0.3 <= elapsed < 3.0, elapsed
    assert closed
    assert up.snapshot() == []


def test_idle_connection_without_bytes_is_closed_after_header_timeout(setup):
    """A connection that sends nothing at all is closed (408 or silently) — it must not
    hold a slot for the default idle time."""
    gw, up = setup
    with RawConn(gw.port, timeout=5) as c:
        t0 = time.monotonic()
        assert c.wait_closed(4)
        assert time.monotonic() - t0 < 4


@pytest.mark.parametrize("token", ["h2c", "HTTP/2.0", "websocket/13"])
def test_upgrade_other_than_websocket_is_501(setup, token):
    gw, up = setup
    hs = [("Connection", "Upgrade"), ("Upgrade", token)]
    r = gw.raw(build_request("GET", "/up/ws", hs, close=False))
    assert_problem(r, 501, "not_implemented")
    assert up.snapshot() == []


def test_connect_is_501(setup):
    gw, up = setup
    r = gw.raw(b"CONNECT 127.0.0.1:443 HTTP/1.1\r\nHost: 127.0.0.1:443\r\n\r\n")
    assert_problem(r, 501, "not_implemented")
    assert up.snapshot() == []


@pytest.mark.parametrize("te", ["gzip", "gzip, chunked", "x-custom"])
def test_unknown_transfer_coding_is_501(setup, te):
    gw, up = setup
    r, _ = exchange(gw, b"POST /up/x HTTP/1.1\r\n" + H
                    + b"Transfer-Encoding: " + te.encode() + b"\r\n\r\n0\r\n\r\n")
    assert_problem(r, 501, "not_implemented")
    assert up.snapshot() == []


def test_overflowing_content_length_is_refused(setup):
    """Invalid (400) or over max_body (413): either way, nothing is forwarded."""
    gw, up = setup
    r, closed = exchange(gw, b"POST /up/x HTTP/1.1\r\n" + H
                         + b"Content-Length: 99999999999999999999999999\r\n\r\n")
    assert r.status in (400, 413), r
    assert_problem(r, r.status, {400: "bad_request", 413: "payload_too_large"}[r.status])
    assert closed
    assert up.snapshot() == []


def test_invalid_chunk_size_after_valid_chunk(setup):
    """The bad chunk comes after a good one: the upstream exchange (if started) is
    aborted, never completed, and the client gets 400 and a closed connection."""
    gw, up = setup
    data = (build_request("POST", "/up/x", [("Transfer-Encoding", "chunked")])
            + b"5\r\nhello\r\nzz\r\nworld\r\n0\r\n\r\n")
    r, closed = exchange(gw, data)
    assert_problem(r, 400, "bad_request")
    assert closed
    assert up.complete_requests() == []


def test_expect_100_continue(setup):
    gw, up = setup
    with RawConn(gw.port, timeout=5) as c:
        c.send(build_request("POST", "/up/x", [("Expect", "100-continue"),
                                                ("Content-Length", "5")]))
        interim = c.read_head()
        assert interim.status == 100, interim
        assert interim.raw_head.startswith(b"HTTP/1.1 100 Continue\r\n"), interim.raw_head
        c.send(b"hello")
        r = c.read_response()
    assert r.status == 200, r
    q = up.snapshot()
    assert len(q) == 1 and q[0].body == b"hello"
    assert not q[0].has("expect"), q[0].headers


def test_expect_100_continue_chunked(setup):
    gw, up = setup
    with RawConn(gw.port, timeout=5) as c:
        c.send(build_request("POST", "/up/x", [("Expect", "100-continue"),
                                                ("Transfer-Encoding", "chunked")]))
        assert c.read_head().status == 100
        c.send(chunked(b"he", b"llo"))
        r = c.read_response()
    assert r.status == 200, r
    assert up.snapshot()[0].body == b"hello"


def test_expect_100_continue_too_large_gets_413_directly(setup):
    gw, up = setup
    with RawConn(gw.port, timeout=5) as c:
        c.send(build_request("POST", "/up/x", [("Expect", "100-continue"),
                                                ("Content-Length", str(1024 * 1024))]))
        r = c.read_response(allow_interim=True)
    assert_problem(r, 413, "payload_too_large")
    assert up.snapshot() == []


def test_expect_100_continue_no_route_gets_404_directly(setup):
    gw, up = setup
    with RawConn(gw.port, timeout=5) as c:
        c.send(build_request("POST", "/nowhere/x", [("Expect", "100-continue"),
                                                     ("Content-Length", "5")]))
        r = c.read_response(allow_interim=True)
    assert_problem(r, 404, "no_route")


def test_gateway_survives_bad_input(setup):
    """After all sorts of junk, a normal request still works."""
    gw, up = setup
    for data in list(BAD_400.values())[:6] + [b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03",
                                              b"\r\n\r\n", b"GET\r\n\r\n"]:
        with RawConn(gw.port, timeout=5) as c:
            c.send(data)
            c.wait_closed(3)
    assert gw.get("/up/ok").status == 200
    assert [q.target for q in up.snapshot()] == ["/base/ok"]


def test_idle_keepalive_connection_closed_after_idle_timeout(start_gateway, upstream):
    gw = start_gateway({"limits": {"idle_timeout": "500ms"},
                        "endpoints": [endpoint(upstream.url(), name="up")]})
    with RawConn(gw.port) as c:
        assert c.request(build_request("GET", "/up/x", close=False)).status == 200
        t0 = time.monotonic()
        assert c.wait_closed(4)
        assert 0.3 <= time.monotonic() - t0 < 3


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_out_of_descriptors_pauses_accepting_and_recovers(start_gateway, upstream):
    """With no descriptor left (EMFILE) the gateway says so, waits without spinning, and
    serves the connection that waited once descriptors are free again."""
    gw = start_gateway({"threads": 1, "endpoints": [endpoint(upstream.url(), name="up")]})
    pid = gw.proc.pid
    assert gw.get("/up/warm").status == 200  # an idle upstream connection in the pool
    soft, hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)
    # No descriptor number free under the limit but the gaps and two more.
    top = max(int(fd) for fd in os.listdir(f"/proc/{pid}/fd"))
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (top + 3, hard))
    held = []
    try:
        for _ in range(top + 3):
            held.append(RawConn(gw.port, timeout=5))
            if "accept failed; pausing" in gw.log_text():
                break
            time.sleep(0.05)
        gw.wait_log(lambda t: "accept failed; pausing" in t)
        waiting = held.pop()  # the connection the gateway could not take
        waiting.send(build_request("GET", "/up/waited"))
        cpu = _cpu_seconds(pid)
        waiting.sock.settimeout(0.5)
        with pytest.raises(TimeoutError):
            waiting.sock.recv(100)
        assert _cpu_seconds(pid) - cpu < 0.25, "the paused accept loop spins"
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (soft, hard))
        r = waiting.read_response()
        assert r.status == 200, r
        waiting.close()
    finally:
        for c in held:
            c.close()
    assert gw.get("/up/after").status == 200


def test_max_connections_pauses_accepting(start_gateway, upstream):
    """Beyond max_connections new connections wait (no 503) until a slot frees."""
    gw = start_gateway({"threads": 1, "limits": {"max_connections": 2},
                        "endpoints": [endpoint(upstream.url(), name="up")]})
    first = [RawConn(gw.port) for _ in range(2)]
    try:
        for c in first:
            assert c.request(build_request("GET", "/up/x", close=False)).status == 200
        third = RawConn(gw.port, timeout=5)  # the kernel completes the handshake
        third.send(build_request("GET", "/up/third"))
        third.sock.settimeout(0.5)
        try:
            early = third.sock.recv(100)
        except TimeoutError:
            early = None
        assert early is None, f"a connection beyond max_connections was served: {early!r}"
        first[0].close()
        r = third.read_response()
        assert r.status == 200, r
        third.close()
    finally:
        for c in first:
            c.close()
