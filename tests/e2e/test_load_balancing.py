"""SPEC section 13 end to end: several real upstream servers behind one endpoint. The
balancers' spreads, per-server breakers and health checks, the fallback when every
server is out, retries (connect failure, reset, timeout, 503; POST not replayed once it
reached an upstream), the budget, reloads keeping the state of servers that stay, and
what the stats (SPEC 7), the metrics (SPEC 10) and the access log (SPEC 9) say."""

import json
import re
import threading
import time

import pytest
import yaml

from gh_gateway import endpoint
from gh_upstream import Response, Switch

STATS = "/endpoints/stats"
DEADLINE = 5.0


def named(name):
    """A handler answering 200 with the server's name (and /health 200)."""
    def handler(req, conn):
        return Response(200, [("Content-Type", "text/plain")], name.encode())
    return handler


def gateway(start_gateway, endpoints, threads=1, log_format="json", **extra):
    cfg = {"threads": threads, "log": {"format": log_format, "level": "info"},
           "endpoints": endpoints}
    cfg.update(extra)
    return start_gateway(cfg, args=["--insecure-admin"])


def reload_with(gw, change):
    """Rewrites the gateway's config with change(cfg) and reloads it through the API."""
    cfg = yaml.safe_load(gw.config_path.read_text())
    change(cfg)
    gw.config_path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    r = gw.request("POST", "/endpoints/reload")
    assert r.status == 200, r.text
    return r.json()


def set_urls(urls, index=0):
    def change(cfg):
        cfg["endpoints"][index]["url"] = urls
    return change


def stats(gw, id_="svc"):
    r = gw.get(f"{STATS}/{id_}")
    assert r.status == 200, r.text
    return r.json()


def metric_samples(gw, family):
    """{labels-text: value} of one metric family."""
    r = gw.get("/metrics")
    assert r.status == 200
    out = {}
    for line in r.text.splitlines():
        if line.startswith(family + "{") or line.startswith(family + " "):
            labels, _, value = line.rpartition(" ")
            out[labels[len(family):]] = float(value)
    return out


def access_lines(gw, endpoint_id="svc"):
    out = []
    for line in gw.log_text().splitlines():
        line = line.strip()
        if line.startswith("{"):
            e = json.loads(line)
            if e.get("msg") == "access" and e.get("endpoint") == endpoint_id:
                out.append(e)
    return out


def wait_access(gw, n, timeout=DEADLINE):
    end = time.monotonic() + timeout
    while True:
        lines = access_lines(gw)
        if len(lines) >= n:
            return lines
        assert time.monotonic() < end, f"only {len(lines)} access lines"
        time.sleep(0.05)


def wait_access_where(gw, pred, endpoint_id="svc", timeout=DEADLINE):
    end = time.monotonic() + timeout
    while True:
        found = [e for e in access_lines(gw, endpoint_id) if pred(e)]
        if found:
            return found[-1]
        assert time.monotonic() < end, "no such access line"
        time.sleep(0.05)


def served_by(gw, n, target="/svc/x", headers=None):
    out = []
    for _ in range(n):
        r = gw.get(target, headers)
        assert r.status == 200, r.text
        out.append(r.text)
    return out


def wait_until(predicate, timeout=DEADLINE, what="condition"):
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.02)


# ---- balancers --------------------------------------------------------------------------

def test_round_robin_is_exact_over_every_window(start_gateway, make_upstream):
    ups = [make_upstream(named(n)) for n in "abc"]
    weights = {"a": 1, "b": 2, "c": 3}
    gw = gateway(start_gateway, [endpoint(
        [{"url": u.url("/api"), "weight": weights[n]} for u, n in zip(ups, "abc")], name="svc")])
    seq = served_by(gw, 60)
    for i in range(len(seq) - 6 + 1):
        window = seq[i:i + 6]
        assert {n: window.count(n) for n in "abc"} == weights, (i, seq)
    # Spread out, not bunched: never three of the same in a row with weights 1, 2, 3.
    assert not any(seq[i] == seq[i + 1] == seq[i + 2] for i in range(len(seq) - 2)), seq


def test_round_robin_skips_a_server_whose_breaker_is_open(start_gateway, make_upstream):
    a, b, c = (make_upstream(named(n)) for n in "abc")
    c.refuse_connections()
    gw = gateway(start_gateway, [endpoint([a.url(), b.url(), c.url()], name="svc",
                                          circuit_breaker={"failure_threshold": 1,
                                                           "reset_timeout": "60s"})])
    got = [gw.get("/svc/x") for _ in range(3)]
    assert sorted(r.status for r in got) == [200, 200, 502]  # c failed once: its breaker opens
    seq = served_by(gw, 20)
    assert set(seq) == {"a", "b"}
    for i in range(0, 20, 2):
        assert sorted(seq[i:i + 2]) == ["a", "b"], seq  # exact over each window of the rest


def test_least_request_prefers_the_idle_server(start_gateway, make_upstream):
    slow_release = threading.Event()

    # The slow server holds its request until the end of the test (not for a fixed time:
    # on a slow machine the test outlasted 5 s, the slow server became idle and tied).
    def slow(req, conn):
        slow_release.wait(60)
        return Response(200, [], b"slow")
    slow_up, fast_up = make_upstream(slow), make_upstream(named("fast"))
    gw = gateway(start_gateway, [endpoint([slow_up.url(), fast_up.url()], name="svc",
                                          load_balancing="least_request", timeout="60s")],
                 threads=2)
    threads = []
    try:
        # Ties go round robin: at most two requests until one is held by the slow server.
        for _ in range(2):
            t = threading.Thread(target=lambda: gw.get("/svc/x", timeout=60))
            t.start()
            threads.append(t)
            wait_until(lambda: slow_up.count() + fast_up.count() == len(threads), what="a try")
            if slow_up.count() == 1:
                break
        assert slow_up.count() == 1
        # A first request that went to the fast server may still be finishing (its
        # upstream has it, its client may not): until it has, the two are tied.
        wait_until(lambda: stats(gw)["targets"][1]["in_flight"] == 0, what="the fast server idle")
        # While the slow one is busy, every new request goes to the idle one.
        assert served_by(gw, 12) == ["fast"] * 12
        assert stats(gw)["targets"][0]["in_flight"] == 1
    finally:
        slow_release.set()
    for t in threads:
        t.join(10)
    assert slow_up.count() == 1


def test_random_follows_the_weights(start_gateway, make_upstream):
    a, b = make_upstream(named("a")), make_upstream(named("b"))
    gw = gateway(start_gateway, [endpoint([a.url(), {"url": b.url(), "weight": 3}],
                                          name="svc", load_balancing="random")])
    seq = served_by(gw, 400)
    share = seq.count("b") / len(seq)
    assert 0.62 < share < 0.88, share  # 0.75 expected; +-5 standard deviations


@pytest.mark.parametrize("key,make_headers,make_target", [
    ("header:X-User", lambda k: {"X-User": k}, lambda k: "/svc/x"),
    ("cookie:cart", lambda k: {"Cookie": f"theme=dark; cart={k}"}, lambda k: "/svc/x"),
    ("query:user", lambda k: None, lambda k: f"/svc/x?a=1&user={k}"),
])
def test_hash_sticks_and_a_removed_server_moves_only_its_keys(start_gateway, make_upstream,
                                                             key, make_headers, make_target):
    ups = [make_upstream(named(n)) for n in "abc"]
    ep = endpoint([u.url() for u in ups], name="svc", load_balancing="hash", hash_key=key)
    gw = gateway(start_gateway, [ep])
    keys = [f"user-{i}" for i in range(60)]

    def where(k):
        r = gw.get(make_target(k), make_headers(k))
        assert r.status == 200
        return r.text
    first = {k: where(k) for k in keys}
    assert {k: where(k) for k in keys} == first  # the same key, the same server
    assert set(first.values()) == {"a", "b", "c"}
    # Reload without c: a's and b's keys stay where they were.
    assert reload_with(gw, set_urls([ups[0].url(), ups[1].url()]))["updated"] == ["svc"]
    after = {k: where(k) for k in keys}
    for k in keys:
        if first[k] != "c":
            assert after[k] == first[k], k
        else:
            assert after[k] in ("a", "b")


def test_hash_on_client_ip_and_without_a_key(start_gateway, make_upstream):
    ups = [make_upstream(named(n)) for n in "abc"]
    gw = gateway(start_gateway, [
        endpoint([u.url() for u in ups], name="svc", load_balancing="hash", hash_key="client_ip"),
        endpoint([u.url("/h") for u in ups], name="hdr", load_balancing="hash",
                 hash_key="header:X-User")])
    assert len(set(served_by(gw, 12))) == 1  # one client address: one server
    # A request without its key goes round robin.
    assert sorted(served_by(gw, 3, "/hdr/x")) == ["a", "b", "c"]


# ---- per-server breakers, health and the fallback -----------------------------------------

def test_a_refusing_server_is_taken_out_and_comes_back(start_gateway, make_upstream):
    a, b = make_upstream(named("a")), make_upstream(named("b"))
    a.refuse_connections()
    gw = gateway(start_gateway, [endpoint([a.url(), b.url()], name="svc",
                                          retries={"attempts": 1},
                                          circuit_breaker={"failure_threshold": 2,
                                                           "reset_timeout": "1s"})])
    assert served_by(gw, 20) == ["b"] * 20  # every request succeeds: retried or skipped
    s = stats(gw)
    ta, tb = s["targets"]
    assert (ta["url"], tb["url"]) == (a.url(), b.url())
    assert ta["circuit_breaker"]["state"] == "open" and ta["requests"]["failed"] == 2
    assert tb["circuit_breaker"]["state"] == "closed" and tb["requests"]["failed"] == 0
    assert s["circuit_breaker"]["state"] == "closed"  # derived: b is closed
    assert s["circuit_breaker"]["consecutive_failures"] == 0
    assert s["requests"]["total"] == 20 and s["requests"]["failed"] == 0
    # A is back: after reset_timeout its trial succeeds and it serves again.
    a.accept_connections()
    time.sleep(1.1)
    seen = served_by(gw, 10)
    assert "a" in seen
    assert stats(gw)["targets"][0]["circuit_breaker"]["state"] == "closed"
    lines = [json.loads(l) for l in gw.log_text().splitlines()
             if '"circuit breaker transition"' in l]
    assert lines and all(e["target"] == a.url() for e in lines), lines


def test_every_server_out_answers_the_fallback(start_gateway, make_upstream):
    a, b = make_upstream(), make_upstream()
    a.refuse_connections()
    b.refuse_connections()
    cb = {"failure_threshold": 1, "reset_timeout": "30s", "fallback_strategy": "default"}
    gw = gateway(start_gateway, [
        endpoint([a.url(), b.url()], name="svc", circuit_breaker=cb,
                 fallback={"status": 200, "content_type": "application/json", "body": '{"x": []}'}),
        endpoint([a.url("/e"), b.url("/e")], name="err",
                 circuit_breaker={"failure_threshold": 1, "reset_timeout": "30s"})])
    assert [gw.get("/svc/x").status for _ in range(2)] == [502, 502]
    r = gw.get("/svc/x")
    assert r.status == 200 and r.header("X-Gatehouse-Fallback") == "default" and r.body == b'{"x": []}'
    s = stats(gw)
    assert s["circuit_breaker"]["state"] == "open"
    assert all(t["circuit_breaker"]["state"] == "open" for t in s["targets"])
    assert s["requests"]["fallbacks"] == 1 and s["requests"]["total"] == 3
    assert s["circuit_breaker"]["next_attempt_at"] == min(
        t["circuit_breaker"]["next_attempt_at"] for t in s["targets"])
    # The error strategy: 503 circuit_open with Retry-After.
    assert [gw.get("/err/x").status for _ in range(2)] == [502, 502]
    r = gw.get("/err/x")
    assert r.status == 503 and r.json()["code"] == "circuit_open"
    assert 1 <= int(r.header("Retry-After")) <= 30
    assert a.count() == 0 and b.count() == 0
    e = wait_access_where(gw, lambda x: x["status"] == 503, "err")
    assert e["breaker"] == "open" and e["attempts"] == 0 and e["upstream"] is None


def test_health_checks_per_server(start_gateway, make_upstream):
    sick = Switch("ok", {"/health": 500})
    a, b = make_upstream(sick), make_upstream(named("b"))
    hc = {"interval": "200ms", "timeout": "1s", "healthy_threshold": 1, "unhealthy_threshold": 1}
    gw = gateway(start_gateway, [dict(endpoint([a.url("/api"), b.url("/api")], name="svc",
                                               circuit_breaker={"reset_timeout": "500ms"}),
                                      health_check=hc)])
    wait_until(lambda: [t["health"] for t in stats(gw)["targets"]] == ["down", "up"],
               what="a down, b up")
    s = stats(gw)
    assert s["health"] == "up"  # any server up
    assert s["targets"][0]["last_health_check"]["status"] == 500
    assert s["last_health_check"]["at"] == max(t["last_health_check"]["at"] for t in s["targets"])
    assert a.count("/health") >= 1 and b.count("/health") >= 1  # each server probed itself
    assert served_by(gw, 6) == ["b"] * 6  # a is out of rotation while down
    assert a.count(exclude="/health") == 0
    ups = metric_samples(gw, "gatehouse_target_up")
    assert ups[f'{{endpoint="svc",target="{a.url("/api")}"}}'] == 0
    assert ups[f'{{endpoint="svc",target="{b.url("/api")}"}}'] == 1
    assert metric_samples(gw, "gatehouse_endpoint_up")['{endpoint="svc"}'] == 1
    lines = [json.loads(l) for l in gw.log_text().splitlines() if '"health transition"' in l]
    assert any(e.get("target") == a.url("/api") and e["to"] == "down" for e in lines), lines
    # a recovers: up, its breaker closed by a probe once half-open, and it serves again.
    sick.set("ok", "/health")
    wait_until(lambda: stats(gw)["targets"][0]["health"] == "up" and
               stats(gw)["targets"][0]["circuit_breaker"]["state"] == "closed", what="a back")
    assert any(x.startswith("ok /api/x") for x in served_by(gw, 6))


# ---- retries ------------------------------------------------------------------------------

def test_connect_failure_is_retried_on_another_server_for_any_method(start_gateway, make_upstream):
    a, b = make_upstream(named("a")), make_upstream(named("b"))
    a.refuse_connections()
    gw = gateway(start_gateway, [endpoint([a.url(), b.url()], name="svc", retries={"attempts": 1},
                                          circuit_breaker={"failure_threshold": 1000})])
    assert served_by(gw, 10) == ["b"] * 10
    r = gw.request("POST", "/svc/x", body=b"payload")  # nothing reached a: any method
    assert r.status == 200 and r.text == "b"
    assert b.count() == 11
    retries = metric_samples(gw, "gatehouse_retries_total")
    assert retries['{endpoint="svc",reason="connect_failure"}'] == 6  # every other pick was a
    lines = wait_access(gw, 11)
    assert {e["attempts"] for e in lines} == {1, 2}
    assert sum(e["attempts"] == 2 for e in lines) == 6
    assert all(e["upstream"] == b.hostport for e in lines)
    t = stats(gw)["targets"]
    assert t[0]["requests"] == {"total": 6, "failed": 6}
    assert t[1]["requests"] == {"total": 11, "failed": 0}
    codes = metric_samples(gw, "gatehouse_target_requests_total")
    assert codes[f'{{endpoint="svc",target="{a.url()}",code="502"}}'] == 6
    assert codes[f'{{endpoint="svc",target="{b.url()}",code="200"}}'] == 11


def test_503_is_retried_for_get_but_not_for_post(start_gateway, make_upstream):
    a, b = make_upstream(Switch(503)), make_upstream(named("b"))
    gw = gateway(start_gateway, [endpoint([a.url(), b.url()], name="svc", retries={"attempts": 1},
                                          circuit_breaker={"failure_threshold": 1000})])
    assert served_by(gw, 4) == ["b"] * 4
    assert (a.count(), b.count()) == (2, 4)  # each 503 retried once, on b
    posts = [gw.request("POST", "/svc/x", body=b"data") for _ in range(4)]
    assert sorted(r.status for r in posts) == [200, 200, 503, 503]
    assert all(r.text == "status 503 from upstream" for r in posts if r.status == 503)
    assert (a.count(), b.count()) == (4, 6)  # no POST sent twice
    assert metric_samples(gw, "gatehouse_retries_total")['{endpoint="svc",reason="503"}'] == 2
    # Every try counted for its server's breaker: a has 4 failures.
    assert stats(gw)["targets"][0]["circuit_breaker"]["consecutive_failures"] == 4


def test_post_reset_after_its_body_reached_the_upstream_is_not_retried(start_gateway, make_upstream):
    def reset(req, conn):
        conn.reset()
        return None
    a, b = make_upstream(reset), make_upstream(named("b"))
    gw = gateway(start_gateway, [endpoint([a.url(), b.url()], name="svc", retries={"attempts": 2},
                                          circuit_breaker={"failure_threshold": 1000})])
    got = [gw.request("POST", "/svc/x", body=b"x" * 1000) for _ in range(2)]
    assert sorted(r.status for r in got) == [200, 502]
    assert (a.count(), b.count()) == (1, 1)
    assert a.snapshot()[0].body == b"x" * 1000  # it did reach a
    # A GET (idempotent) after a reset goes on to b; so does a POST listed in `methods`.
    assert served_by(gw, 2) == ["b", "b"]
    assert (a.count(), b.count()) == (2, 3)


def test_post_listed_in_methods_is_replayed_with_its_body(start_gateway, make_upstream):
    a, b = make_upstream(Switch(503)), make_upstream()  # b echoes the request
    gw = gateway(start_gateway, [endpoint([a.url(), b.url()], name="svc",
                                          retries={"attempts": 1, "methods": ["POST"]},
                                          circuit_breaker={"failure_threshold": 1000})])
    for body, headers in ((b"y" * 3000, None), (None, {"Transfer-Encoding": "chunked"})):
        if body is None:
            r = gw.raw(b"POST /svc/x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
                       b"Connection: close\r\n\r\n5\r\nhello\r\n3\r\n123\r\n0\r\n\r\n")
            want = b"hello123"
        else:
            r = gw.request("POST", "/svc/x", headers, body=body)
            want = body
        assert r.status == 200, r.text
        assert r.json()["body"].encode("latin-1") == want
    assert a.count() == 1 and b.count() == 2  # one of the two was retried from a to b
    assert [x.body for x in a.snapshot()] in ([b"y" * 3000], [b"hello123"])


def test_per_try_timeout_moves_on_to_the_next_server(start_gateway, make_upstream):
    a, b = make_upstream(Switch("blackhole")), make_upstream(named("b"))
    gw = gateway(start_gateway, [endpoint([a.url(), b.url()], name="svc", timeout="5s",
                                          retries={"attempts": 1, "per_try_timeout": "300ms"},
                                          circuit_breaker={"failure_threshold": 1000})])
    for _ in range(2):
        t0 = time.monotonic()
        r = gw.get("/svc/x")
        took = time.monotonic() - t0
        assert r.status == 200 and r.text == "b"
        assert took < 2.0, took
    assert a.count() == 1
    assert metric_samples(gw, "gatehouse_retries_total")['{endpoint="svc",reason="timeout"}'] == 1
    # Without a retry left, the per-try timeout is the answer: 504.
    gw2 = gateway(start_gateway, [endpoint([a.url()], name="svc", timeout="5s",
                                           retries={"attempts": 1, "per_try_timeout": "300ms",
                                                    "on": ["connect_failure"]})])
    t0 = time.monotonic()
    assert gw2.get("/svc/x").status == 504
    assert 0.25 < time.monotonic() - t0 < 2.0


def test_the_budget_caps_retries_and_counts_what_it_refused(start_gateway, make_upstream):
    a, b = make_upstream(Switch(503)), make_upstream(Switch(503))
    gw = gateway(start_gateway, [endpoint([a.url(), b.url()], name="svc",
                                          retries={"attempts": 1, "budget": "0%"},
                                          circuit_breaker={"failure_threshold": 100000})])
    got = [gw.get("/svc/x").status for _ in range(40)]
    assert got == [503] * 40
    assert a.count() + b.count() == 40 + 30  # the floor: 30 retries per 10 s
    assert metric_samples(gw, "gatehouse_retries_total")['{endpoint="svc",reason="503"}'] == 30
    assert metric_samples(gw, "gatehouse_retry_budget_exhausted_total")['{endpoint="svc"}'] == 10


def test_same_server_retry_backs_off(start_gateway, make_upstream):
    a = make_upstream(Switch(503))
    gw = gateway(start_gateway, [endpoint(a.url(), name="svc", retries={"attempts": 2},
                                          circuit_breaker={"failure_threshold": 1000})])
    t0 = time.monotonic()
    r = gw.get("/svc/x")
    took = time.monotonic() - t0
    assert r.status == 503 and a.count() == 3
    assert 0.05 <= took < 1.0, took  # two pauses of 25-250 ms
    times = [x.received_at for x in a.snapshot()]
    assert all(0.02 <= t2 - t1 <= 0.3 for t1, t2 in zip(times, times[1:])), times
    e = wait_access(gw, 1)[-1]
    assert e["attempts"] == 3 and e["upstream"] == a.hostport and e["upstream_status"] == 503


# ---- reloads, stats, metrics -------------------------------------------------------------

def test_reload_adding_and_removing_servers_keeps_the_others_state(start_gateway, make_upstream):
    a, b, c = (make_upstream(named(n)) for n in "abc")
    a.refuse_connections()
    cb = {"failure_threshold": 1, "reset_timeout": "60s"}
    gw = gateway(start_gateway, [endpoint([a.url(), b.url()], name="svc", circuit_breaker=cb,
                                          retries={"attempts": 1})])
    served_by(gw, 4)
    before = stats(gw)
    assert before["targets"][0]["circuit_breaker"]["state"] == "open"
    opened_at = before["targets"][0]["circuit_breaker"]["opened_at"]
    assert reload_with(gw, set_urls([a.url(), b.url(), c.url()]))["updated"] == ["svc"]
    s = stats(gw)
    assert [t["url"] for t in s["targets"]] == [a.url(), b.url(), c.url()]
    assert s["targets"][0]["circuit_breaker"]["state"] == "open"
    assert s["targets"][0]["circuit_breaker"]["opened_at"] == opened_at
    assert s["targets"][1]["requests"] == before["targets"][1]["requests"]
    assert s["requests"]["total"] == before["requests"]["total"]  # the endpoint's counters stay
    assert sorted(served_by(gw, 4)) == ["b", "b", "c", "c"]
    # Removing b keeps a's open breaker too.
    reload_with(gw, set_urls([a.url(), c.url()]))
    s = stats(gw)
    assert [t["url"] for t in s["targets"]] == [a.url(), c.url()]
    assert s["targets"][0]["circuit_breaker"]["opened_at"] == opened_at
    # A changed circuit_breaker starts every server fresh.
    def threshold(cfg):
        cfg["endpoints"][0]["circuit_breaker"]["failure_threshold"] = 7
    reload_with(gw, threshold)
    assert stats(gw)["targets"][0]["circuit_breaker"]["state"] == "closed"


def test_single_url_stats_have_one_target_equal_to_the_endpoint(start_gateway, make_upstream):
    a = make_upstream()
    gw = gateway(start_gateway, [endpoint(a.url("/api"), name="svc")])
    served_by(gw, 3)
    s = stats(gw)
    assert len(s["targets"]) == 1
    t = s["targets"][0]
    assert t["url"] == s["url"] == a.url("/api") and t["weight"] == 1
    assert t["health"] == s["health"] and t["circuit_breaker"] == s["circuit_breaker"]
    assert t["requests"] == {"total": 3, "failed": 0} and t["in_flight"] == 0
    assert t["last_health_check"] == s["last_health_check"]
    assert metric_samples(gw, "gatehouse_target_requests_total") == {
        f'{{endpoint="svc",target="{a.url("/api")}",code="200"}}': 3}
    # No retries configured: no retry series.
    assert metric_samples(gw, "gatehouse_retries_total") == {}
    e = wait_access(gw, 3)[-1]
    assert e["upstream"] == a.hostport and e["attempts"] == 1


def test_retry_series_exported_at_zero_from_the_first_scrape(start_gateway, make_upstream):
    a, b = make_upstream(), make_upstream()
    gw = gateway(start_gateway, [endpoint([a.url(), b.url()], name="svc", retries={"attempts": 2})])
    retries = metric_samples(gw, "gatehouse_retries_total")
    assert retries == {f'{{endpoint="svc",reason="{r}"}}': 0 for r in
                       ("connect_failure", "reset", "timeout", "502", "503", "504")}
    assert metric_samples(gw, "gatehouse_retry_budget_exhausted_total") == {'{endpoint="svc"}': 0}
    assert len(metric_samples(gw, "gatehouse_target_up")) == 2
