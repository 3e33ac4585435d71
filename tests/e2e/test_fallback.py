"""SPEC section 5: what answers while the breaker is open (fallback_strategy error,
default, cached), and the access-log fields of fallback answers (section 9)."""

import json
import time

import pytest

from gh_gateway import endpoint
from gh_raw import assert_problem
from gh_upstream import Response, Switch


def json_lines(text):
    return [json.loads(l) for l in text.splitlines() if l.strip().startswith("{")]


def access_entry(gw, rid):
    text = gw.wait_log(lambda t: f'"request_id":"{rid}"' in t)
    entries = [e for e in json_lines(text) if e.get("request_id") == rid and e.get("msg") == "access"]
    assert len(entries) == 1, f"expected one access line for {rid}:\n{text}"
    return entries[0]


def assert_circuit_open(resp):
    assert_problem(resp, 503, "circuit_open")
    ra = resp.header("retry-after")
    assert ra is not None and ra.isdigit() and int(ra) >= 1, resp
    assert resp.header("x-gatehouse-fallback") in (None, "error"), resp


def start(start_gateway, up, strategy, threshold=2, **ep):
    cb = {"failure_threshold": threshold, "reset_timeout": "30s", "fallback_strategy": strategy}
    return start_gateway({"log": {"format": "json", "level": "info"},
                          "endpoints": [endpoint(up.url("/api"), name="fb", circuit_breaker=cb, **ep)]})


def trip(gw, sw, up, threshold=2, path="/fb/trip"):
    """Makes the upstream fail everywhere and sends `threshold` failing requests."""
    with sw.lock:
        sw.paths.clear()
    sw.set(503)
    for _ in range(threshold):
        r = gw.get(path)
        assert r.status == 503 and r.body == b"status 503 from upstream", r
    return up.count()


# ---- default ----------------------------------------------------------------------

def test_default_fallback(start_gateway, make_upstream):
    sw = Switch("ok")
    up = make_upstream(sw)
    gw = start(start_gateway, up, "default",
               fallback={"status": 200, "content_type": "application/json",
                         "body": '{"users": []}'})
    assert gw.get("/fb/a").status == 200
    seen = trip(gw, sw, up)
    for method in ("GET", "POST"):
        r = gw.request(method, "/fb/a", {"X-Request-Id": f"default-{method}-rid"},
                       body=b"x" if method == "POST" else None)
        assert r.status == 200, r
        assert (r.header("content-type") or "").split(";")[0].strip() == "application/json", r
        assert r.json() == {"users": []}, r
        assert r.header("x-gatehouse-fallback") == "default", r
        e = access_entry(gw, f"default-{method}-rid")
        assert e["fallback"] == "default" and e["breaker"] == "open", e
        assert e["status"] == 200, e
    assert up.count() == seen


def test_default_fallback_other_status(start_gateway, make_upstream):
    sw = Switch("ok")
    up = make_upstream(sw)
    gw = start(start_gateway, up, "default",
               fallback={"status": 503, "content_type": "text/plain", "body": "try later"})
    seen = trip(gw, sw, up)
    r = gw.get("/fb/x")
    assert r.status == 503 and r.body == b"try later", r
    assert (r.header("content-type") or "").startswith("text/plain"), r
    assert r.header("x-gatehouse-fallback") == "default", r
    assert up.count() == seen


# ---- cached -----------------------------------------------------------------------

def resp(body, *headers, status=200):
    return Response(status, [("Content-Type", "text/plain"), ("X-Origin", "upstream")] + list(headers),
                    body)


@pytest.fixture
def cached_setup(start_gateway, make_upstream):
    sw = Switch("ok")
    up = make_upstream(sw)
    gw = start(start_gateway, up, "cached")
    return gw, sw, up


def test_cached_serves_last_2xx_of_same_method_path_query(cached_setup):
    gw, sw, up = cached_setup
    sw.set(resp(b"first"), "/api/a")
    assert gw.get("/fb/a?x=1").body == b"first"
    sw.set(resp(b"second"), "/api/a")
    assert gw.get("/fb/a?x=1").body == b"second"  # the last answer is the one kept
    assert gw.get("/fb/a?x=2").body == b"second"
    sw.set(resp(b"head-answer"), "/api/h")
    assert gw.request("HEAD", "/fb/h").status == 200
    stored_at = time.monotonic()
    # the upstream starts failing on the same path: a 503 is not a successful answer
    sw.set(503, "/api/a")
    assert gw.get("/fb/a?x=1").status == 503
    seen = trip(gw, sw, up, threshold=1, path="/fb/a?x=1")
    r = gw.get("/fb/a?x=1", {"X-Request-Id": "cached-hit-rid"})
    assert r.status == 200 and r.body == b"second", r
    assert r.header("x-gatehouse-fallback") == "cached", r
    assert r.header("x-origin") == "upstream", r
    assert (r.header("content-type") or "").startswith("text/plain"), r
    age = r.header("age")
    assert age is not None and age.isdigit(), r
    assert int(age) <= time.monotonic() - stored_at + 1, r
    e = access_entry(gw, "cached-hit-rid")
    assert e["fallback"] == "cached" and e["breaker"] == "open" and e["status"] == 200, e
    # HEAD was cached under its own method
    h = gw.request("HEAD", "/fb/h")
    assert h.status == 200 and h.header("x-gatehouse-fallback") == "cached", h
    # another query, a path never seen: nothing cached -> the error fallback
    assert_circuit_open(gw.get("/fb/a?x=3"))
    assert_circuit_open(gw.get("/fb/a"))
    r = gw.get("/fb/never", {"X-Request-Id": "cached-miss-rid"})
    assert_circuit_open(r)
    e = access_entry(gw, "cached-miss-rid")
    assert e["fallback"] == "error" and e["breaker"] == "open", e
    # GET /fb/h was never asked (only HEAD was)
    assert_circuit_open(gw.get("/fb/h"))
    assert up.count() == seen


def test_cached_age_counts_seconds(cached_setup):
    gw, sw, up = cached_setup
    assert gw.get("/fb/aged").status == 200
    time.sleep(1.2)  # Age is in whole seconds: let one pass
    seen = trip(gw, sw, up)
    r = gw.get("/fb/aged")
    assert r.status == 200 and r.header("x-gatehouse-fallback") == "cached", r
    assert r.body.startswith(b"ok /api/aged"), r
    assert r.header("age") is not None and int(r.header("age")) >= 1, r
    assert up.count() == seen


def test_cached_never_serves_post(cached_setup):
    gw, sw, up = cached_setup
    r = gw.request("POST", "/fb/p", body=b"data")
    assert r.status == 200 and r.body.startswith(b"ok /api/p"), r
    seen = trip(gw, sw, up)
    r = gw.request("POST", "/fb/p", {"X-Request-Id": "post-miss-rid"}, body=b"data")
    assert_circuit_open(r)
    assert_circuit_open(gw.get("/fb/p"))
    e = access_entry(gw, "post-miss-rid")
    assert e["fallback"] == "error", e
    assert up.count() == seen


def test_cached_shared_cache_rules(cached_setup):
    gw, sw, up = cached_setup
    auth = {"Authorization": "Bearer alice-token"}
    cookie = {"Cookie": "session=alice"}
    sw.set(resp(b"shared"), "/api/shared")
    sw.set(resp(b"alice-only"), "/api/authed")
    sw.set(resp(b"cookie-only"), "/api/cookied")
    sw.set(resp(b"public", ("Cache-Control", "public, max-age=60")), "/api/pub")
    sw.set(resp(b"set-cookie", ("Set-Cookie", "sid=1; HttpOnly")), "/api/setcookie")
    sw.set(resp(b"no-store", ("Cache-Control", "no-store")), "/api/nostore")
    sw.set(resp(b"private", ("Cache-Control", "private")), "/api/private")
    sw.set(resp(b"partial", ("Content-Range", "bytes 0-6/100"), status=206), "/api/partial")
    sw.set(resp(b"not found", status=404), "/api/missing")
    assert gw.get("/fb/shared").body == b"shared"
    assert gw.get("/fb/authed", auth).body == b"alice-only"
    assert gw.get("/fb/cookied", cookie).body == b"cookie-only"
    assert gw.get("/fb/pub", auth).body == b"public"
    for p in ("setcookie", "nostore", "private", "partial", "missing"):
        assert gw.get(f"/fb/{p}").status in (200, 206, 404)
    seen = trip(gw, sw, up)

    def cached(r, body):
        assert r.status == 200 and r.body == body, r
        assert r.header("x-gatehouse-fallback") == "cached", r

    # stored from an anonymous request: served to anonymous clients only
    cached(gw.get("/fb/shared"), b"shared")
    assert_circuit_open(gw.get("/fb/shared", auth))
    assert_circuit_open(gw.get("/fb/shared", cookie))
    # a request with Authorization / Cookie was not stored (no Cache-Control: public)
    assert_circuit_open(gw.get("/fb/authed", auth))
    assert_circuit_open(gw.get("/fb/authed"))
    assert_circuit_open(gw.get("/fb/cookied", cookie))
    assert_circuit_open(gw.get("/fb/cookied"))
    # ... unless the response said public
    cached(gw.get("/fb/pub", auth), b"public")
    cached(gw.get("/fb/pub", {"Authorization": "Bearer bob-token"}), b"public")
    # never stored: Set-Cookie, no-store, private, 206, non-2xx
    for p in ("setcookie", "nostore", "private", "partial", "missing"):
        assert_circuit_open(gw.get(f"/fb/{p}"))
    assert up.count() == seen


def test_cached_entry_over_an_eighth_of_max_bytes_not_stored(start_gateway, make_upstream):
    sw = Switch("ok")
    up = make_upstream(sw)
    gw = start(start_gateway, up, "cached", cache={"ttl": "60s", "max_entries": 100,
                                                   "max_bytes": "64KiB"})
    sw.set(resp(b"s" * 1000), "/api/small")
    sw.set(resp(b"b" * 9000), "/api/big")  # > 64 KiB / 8
    assert gw.get("/fb/small").status == 200
    assert gw.get("/fb/big").status == 200
    seen = trip(gw, sw, up)
    r = gw.get("/fb/small")
    assert r.status == 200 and r.body == b"s" * 1000 and r.header("x-gatehouse-fallback") == "cached", r
    assert_circuit_open(gw.get("/fb/big"))
    assert up.count() == seen


def test_cached_ttl_expires(start_gateway, make_upstream):
    sw = Switch("ok")
    up = make_upstream(sw)
    gw = start(start_gateway, up, "cached", cache={"ttl": "1s", "max_entries": 100,
                                                   "max_bytes": "1MiB"})
    assert gw.get("/fb/old").status == 200
    stored = time.monotonic()
    seen = trip(gw, sw, up)
    assert gw.get("/fb/old").header("x-gatehouse-fallback") == "cached"
    left = stored + 1.2 - time.monotonic()
    if left > 0:
        time.sleep(left)  # the ttl is a timer: nothing to poll
    assert_circuit_open(gw.get("/fb/old"))
    assert up.count() == seen


def test_cached_max_entries_lru(start_gateway, make_upstream):
    sw = Switch("ok")
    up = make_upstream(sw)
    gw = start(start_gateway, up, "cached", cache={"ttl": "60s", "max_entries": 2,
                                                   "max_bytes": "1MiB"})
    assert gw.get("/fb/1").status == 200
    assert gw.get("/fb/2").status == 200
    assert gw.get("/fb/1").status == 200  # /fb/1 is now the most recently used
    assert gw.get("/fb/3").status == 200  # evicts /fb/2
    seen = trip(gw, sw, up)
    for p in ("/fb/1", "/fb/3"):
        r = gw.get(p)
        assert r.status == 200 and r.header("x-gatehouse-fallback") == "cached", r
    assert_circuit_open(gw.get("/fb/2"))
    assert up.count() == seen
