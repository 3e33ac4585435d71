"""SPEC section 5 (circuit breaker) and section 9 (transition log lines), end to end:
real fake upstreams whose behaviour is switched at runtime, counted requests."""

import json
import math
import socket
import struct
import threading
import time

from gh_gateway import endpoint
from gh_raw import RawConn, assert_problem, build_request
from gh_upstream import Switch


def json_lines(text):
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            out.append(json.loads(line))
    return out


def breaker_lines(gw):
    return [e for e in json_lines(gw.log_text()) if e.get("msg") == "circuit breaker transition"]


def wait_breaker_lines(gw, n, timeout=5.0):
    gw.wait_log(lambda t: len([e for e in json_lines(t)
                               if e.get("msg") == "circuit breaker transition"]) >= n, timeout)
    return breaker_lines(gw)


def breaker_gw(start_gateway, up, name="svc", threshold=3, reset="5s", half_open=1, **ep):
    cb = {"failure_threshold": threshold, "reset_timeout": reset, "half_open_requests": half_open}
    return start_gateway({"log": {"format": "json", "level": "info"},
                          "endpoints": [endpoint(up.url("/api"), name=name, circuit_breaker=cb, **ep)]})


def retry_after(resp) -> int:
    ra = resp.header("retry-after")
    assert ra is not None and ra.isdigit(), f"Retry-After must be whole seconds: {resp!r}"
    assert int(ra) >= 1, resp
    return int(ra)


def assert_circuit_open(resp, endpoint_id="svc") -> int:
    doc = assert_problem(resp, 503, "circuit_open")
    assert doc.get("endpoint") in (None, endpoint_id), doc
    return retry_after(resp)


def assert_open_and_silent(gw, up, path, expected_count, n=5):
    """n more requests all get circuit_open and none reaches the upstream."""
    for _ in range(n):
        assert_circuit_open(gw.get(path))
    assert up.count() == expected_count, [r.target for r in up.snapshot()]


# ---- 1. tripping after exactly failure_threshold failures ----------------------------

def test_503s_trip_after_exactly_threshold(start_gateway, make_upstream):
    sw = Switch(503)
    up = make_upstream(sw)
    gw = breaker_gw(start_gateway, up, threshold=3, reset="5s")
    for i in range(3):
        t_last = time.monotonic()
        r = gw.get(f"/svc/x{i}")
        # the upstream's own 503 passes through untouched: not a gateway problem
        assert r.status == 503, r
        assert r.body == b"status 503 from upstream", r
        assert r.header("x-upstream") == "yes", r
        assert (r.header("content-type") or "").startswith("text/plain"), r
    assert up.count() == 3
    r = gw.get("/svc/x3")
    elapsed = time.monotonic() - t_last
    ra = assert_circuit_open(r)
    # whole seconds until reset_timeout (5 s) has passed, rounded up
    assert math.ceil(5 - elapsed) <= ra <= 5, (ra, elapsed)
    assert up.count() == 3
    assert_open_and_silent(gw, up, "/svc/x4", 3, n=6)
    # even a now healthy upstream gets nothing while open
    sw.set("ok")
    assert_open_and_silent(gw, up, "/svc/x5", 3)


def test_refused_connections_trip_after_exactly_threshold(start_gateway, make_upstream):
    sw = Switch("ok")
    up = make_upstream(sw)
    up.refuse_connections()
    gw = breaker_gw(start_gateway, up, threshold=3, reset="5s")
    for i in range(3):
        assert_problem(gw.get(f"/svc/r{i}"), 502, "upstream_error")
    assert_circuit_open(gw.get("/svc/r3"))
    # the upstream comes back: still no request reaches it while the breaker is open
    up.accept_connections()
    assert_open_and_silent(gw, up, "/svc/r4", 0, n=6)


def test_timeouts_trip_after_exactly_threshold(start_gateway, make_upstream):
    sw = Switch("blackhole")
    up = make_upstream(sw)
    gw = breaker_gw(start_gateway, up, threshold=3, reset="5s", timeout="300ms")
    for i in range(3):
        t0 = time.monotonic()
        assert_problem(gw.get(f"/svc/t{i}"), 504, "upstream_timeout")
        assert time.monotonic() - t0 < 3
    assert up.count() == 3
    t0 = time.monotonic()
    assert_circuit_open(gw.get("/svc/t3"))
    assert time.monotonic() - t0 < 0.25, "an open breaker answers at once, without waiting"
    sw.set("ok")
    assert_open_and_silent(gw, up, "/svc/t4", 3, n=6)


def test_mixed_failure_kinds_count_together(start_gateway, make_upstream):
    """A 503, a timeout and a refused connection in a row are 3 consecutive failures."""
    sw = Switch(503)
    up = make_upstream(sw)
    gw = breaker_gw(start_gateway, up, threshold=3, reset="5s", timeout="300ms")
    assert gw.get("/svc/a").status == 503
    sw.set("blackhole")
    assert_problem(gw.get("/svc/b"), 504, "upstream_timeout")
    up.refuse_connections()
    assert_problem(gw.get("/svc/c"), 502, "upstream_error")
    up.accept_connections()
    sw.set("ok")
    assert_circuit_open(gw.get("/svc/d"))
    assert up.count() == 2


# ---- 2. a success resets the count ------------------------------------------------

def test_success_resets_failure_count(start_gateway, make_upstream):
    sw = Switch(503)
    up = make_upstream(sw)
    gw = breaker_gw(start_gateway, up, threshold=3, reset="5s")
    for _ in range(2):
        assert gw.get("/svc/f").status == 503
    sw.set("ok")
    assert gw.get("/svc/s").status == 200
    sw.set(503)
    for _ in range(2):
        r = gw.get("/svc/f")
        assert r.status == 503 and r.body == b"status 503 from upstream", r
    assert up.count() == 5
    assert breaker_lines(gw) == [], "no transition expected yet"
    # a third consecutive failure does open it
    assert gw.get("/svc/f").body == b"status 503 from upstream"
    assert_circuit_open(gw.get("/svc/f"))
    assert up.count() == 6


def test_status_outside_failure_statuses_never_trips(start_gateway, make_upstream):
    sw = Switch(500)
    up = make_upstream(sw)
    gw = breaker_gw(start_gateway, up, threshold=2, reset="5s")
    for _ in range(6):
        r = gw.get("/svc/e")
        assert r.status == 500 and r.body == b"status 500 from upstream", r
    assert up.count() == 6


def test_custom_failure_statuses(start_gateway, make_upstream):
    sw = Switch(503)
    up = make_upstream(sw)
    cb = {"failure_threshold": 2, "reset_timeout": "5s", "failure_statuses": [500]}
    gw = start_gateway({"endpoints": [endpoint(up.url(), name="svc", circuit_breaker=cb)]})
    for _ in range(4):
        assert gw.get("/svc/a").status == 503  # 503 is not a failure here
    sw.set(500)
    for _ in range(2):
        assert gw.get("/svc/a").body == b"status 500 from upstream"
    assert_circuit_open(gw.get("/svc/a"))
    assert up.count() == 6


# ---- 3. recovery through half-open ---------------------------------------------------

def trip(gw, sw, up, threshold=2, path="/svc/trip"):
    sw.set(503)
    before = up.count()
    for _ in range(threshold):
        assert gw.get(path).status == 503
    r = gw.get(path)
    assert_circuit_open(r)
    opened = time.monotonic()
    assert up.count() == before + threshold
    return opened


def wait_until(t):
    left = t - time.monotonic()
    if left > 0:
        time.sleep(left)


def test_half_open_lets_exactly_one_trial_through_then_closes(start_gateway, make_upstream):
    sw = Switch("ok")
    up = make_upstream(sw)
    gw = breaker_gw(start_gateway, up, threshold=2, reset="1s", half_open=1)
    opened = trip(gw, sw, up)
    sw.set(("slow", 0.6))  # healthy again, but slow: the trial stays in flight a while
    assert_circuit_open(gw.get("/svc/early"))
    assert up.count() == 2
    wait_until(opened + 1.1)  # reset_timeout is a timer: nothing to poll
    results = [None] * 6

    def one(i):
        results[i] = gw.get(f"/svc/h{i}", timeout=5)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(results))]
    for t in threads:
        t.start()
        time.sleep(0.02)
    for t in threads:
        t.join(10)
    passed = [r for r in results if r.status == 200]
    refused = [r for r in results if r.status != 200]
    assert len(passed) == 1, results
    for r in refused:
        assert_circuit_open(r)
    assert up.count() == 3, [q.target for q in up.snapshot()]
    # the trial succeeded: closed, everything passes again
    sw.set("ok")
    for i in range(4):
        r = gw.get(f"/svc/after{i}")
        assert r.status == 200 and r.body.startswith(b"ok /api/after"), r
    assert up.count() == 7


def test_failing_trial_reopens_for_another_reset_timeout(start_gateway, make_upstream):
    sw = Switch("ok")
    up = make_upstream(sw)
    gw = breaker_gw(start_gateway, up, threshold=2, reset="1s", half_open=1)
    opened = trip(gw, sw, up)
    wait_until(opened + 1.1)
    r = gw.get("/svc/trial")  # the trial: reaches the still failing upstream
    reopened = time.monotonic()
    assert r.status == 503 and r.body == b"status 503 from upstream", r
    assert up.count() == 3
    sw.set("ok")
    # open again for a whole reset_timeout from the failed trial
    n = 0
    while time.monotonic() < reopened + 0.8:
        assert_circuit_open(gw.get("/svc/again"))
        n += 1
        time.sleep(0.05)
    assert n >= 5
    assert up.count() == 3
    wait_until(reopened + 1.1)
    r = gw.get("/svc/trial2")
    assert r.status == 200, r
    assert gw.get("/svc/next").status == 200
    assert up.count() == 5


# ---- 6. one log line per transition ---------------------------------------------------

def test_each_transition_logs_one_line(start_gateway, make_upstream):
    sw = Switch("ok")
    up = make_upstream(sw)
    gw = breaker_gw(start_gateway, up, name="users", threshold=2, reset="1s", version="v1")
    path = "/users/v1/x"
    sw.set(503)
    for _ in range(2):
        assert gw.get(path).status == 503
    opened = time.monotonic()
    for _ in range(3):
        assert_circuit_open(gw.get(path), "users@v1")
    wait_until(opened + 1.1)
    assert gw.get(path).status == 503  # failing trial
    reopened = time.monotonic()
    sw.set("ok")
    wait_until(reopened + 1.1)
    assert gw.get(path).status == 200  # successful trial
    assert gw.get(path).status == 200
    lines = wait_breaker_lines(gw, 5)
    got = [(e.get("endpoint"), e.get("from"), e.get("to"), e.get("reason")) for e in lines]
    assert got == [
        ("users@v1", "closed", "open", "failure_threshold"),
        ("users@v1", "open", "half_open", "reset_timeout"),
        ("users@v1", "half_open", "open", "trial_failed"),
        ("users@v1", "open", "half_open", "reset_timeout"),
        ("users@v1", "half_open", "closed", "trials_succeeded"),
    ], gw.log_text()
    for e in lines:
        assert e.get("level") in ("info", "warning"), e


def test_access_log_of_error_fallback(start_gateway, make_upstream):
    sw = Switch(503)
    up = make_upstream(sw)
    gw = breaker_gw(start_gateway, up, threshold=2, reset="5s")
    for i in range(2):
        gw.get("/svc/x", {"X-Request-Id": f"pass-{i}-rid"})
    assert_circuit_open(gw.get("/svc/x", {"X-Request-Id": "fallback-error-rid"}))
    text = gw.wait_log(lambda t: "fallback-error-rid" in t)
    entries = [e for e in json_lines(text) if e.get("request_id") == "fallback-error-rid"]
    assert len(entries) == 1, text
    e = entries[0]
    assert e["status"] == 503 and e["fallback"] == "error" and e["breaker"] == "open", e
    assert e["endpoint"] == "svc", e
    first = [e for e in json_lines(text) if e.get("request_id") == "pass-0-rid"]
    assert first and first[0]["fallback"] in ("", None), first


# ---- 7. client aborts are not upstream failures ----------------------------------------

def test_client_aborts_do_not_count(start_gateway, make_upstream):
    sw = Switch(("slow", 1.0))
    up = make_upstream(sw)
    gw = breaker_gw(start_gateway, up, threshold=3, reset="5s")
    for i in range(3):
        c = RawConn(gw.port, timeout=5)
        c.send(build_request("GET", f"/svc/abort{i}", {"X-Request-Id": f"abort-{i}-rid"}))
        up.wait_for_requests(i + 1, timeout=5)  # the gateway forwarded it
        # abort: close with an RST so the gateway sees it at once
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.close()
    sw.wait_finished(3, timeout=5)  # the slow answers are over: nothing is pending
    sw.set("ok")
    r = gw.get("/svc/after")
    assert r.status == 200 and r.body.startswith(b"ok /api/after"), r
    assert up.count() == 4
    assert breaker_lines(gw) == [], gw.log_text()


def test_client_aborts_mid_body_do_not_count(start_gateway, make_upstream):
    """The client reads the head of a large streamed response and disconnects: the
    gateway drops the upstream exchange, which says nothing about the upstream."""
    big = 8 * 1024 * 1024

    def streaming(req, conn):
        conn.send(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                  b"Content-Length: %d\r\n\r\n" % big)
        piece = b"z" * 65536
        try:
            for _ in range(big // len(piece)):
                conn.send(piece)
        except OSError:
            pass
        conn.close()
        return None

    sw = Switch(streaming)
    up = make_upstream(sw, store_body=False)
    gw = breaker_gw(start_gateway, up, threshold=3, reset="5s")
    for i in range(3):
        c = RawConn(gw.port, timeout=5)
        c.send(build_request("GET", f"/svc/big{i}"))
        head = c.read_head()
        assert head.status == 200, head
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.close()
        sw.wait_finished(i + 1, timeout=5)  # the upstream side saw the exchange end
    sw.set("ok")
    r = gw.get("/svc/after")
    assert r.status == 200 and r.body.startswith(b"ok /api/after"), r
    assert up.count() == 4
    assert breaker_lines(gw) == [], gw.log_text()
