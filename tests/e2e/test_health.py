"""SPEC section 5: active health checks, how they open and close the breaker, and their
log lines (section 9)."""

import json
import time

from gh_gateway import endpoint
from gh_raw import assert_problem
from gh_upstream import Switch


def json_lines(text):
    return [json.loads(l) for l in text.splitlines() if l.strip().startswith("{")]


def events(text, msg, **match):
    return [e for e in json_lines(text)
            if e.get("msg") == msg and all(e.get(k) == v for k, v in match.items())]


def wait_event(gw, msg, timeout=5.0, **match):
    text = gw.wait_log(lambda t: events(t, msg, **match), timeout)
    return events(text, msg, **match)


def wait_count(up, n, path, timeout=5.0):
    deadline = time.monotonic() + timeout
    while up.count(path=path) < n:
        assert time.monotonic() < deadline, \
            f"{up.count(path=path)} request(s) for {path}, expected {n}: {[r.target for r in up.snapshot()]}"
        time.sleep(0.02)


def hc(**kw):
    d = {"path": "/health", "interval": "100ms", "timeout": "300ms",
         "healthy_threshold": 2, "unhealthy_threshold": 2}
    d.update(kw)
    return d


def start(start_gateway, up, reset="30s", health=None, threshold=5, **ep):
    cb = {"failure_threshold": threshold, "reset_timeout": reset, "half_open_requests": 1}
    return start_gateway({"log": {"format": "json", "level": "info"},
                          "endpoints": [endpoint(up.url("/api"), name="hs",
                                                 health_check=health or hc(),
                                                 circuit_breaker=cb, **ep)]})


def test_probe_path_is_absolute_on_the_origin(start_gateway, make_upstream):
    sw = Switch("ok")
    up = make_upstream(sw)
    gw = start(start_gateway, up)
    wait_count(up, 3, "/health")
    probes = up.snapshot()
    assert {r.path for r in probes} == {"/health"}, [r.target for r in probes]
    for r in probes:
        assert r.method == "GET", r
        assert r.header("host") in (up.hostport, "127.0.0.1"), r.headers
    wait_event(gw, "health transition", endpoint="hs", to="up")
    assert up.count(path="/api/health") == 0


def test_health_turning_bad_opens_breaker_without_client_traffic(start_gateway, make_upstream):
    sw = Switch("ok")
    up = make_upstream(sw)
    gw = start(start_gateway, up)
    wait_event(gw, "health transition", endpoint="hs", to="up")
    sw.set(500, "/health")
    opened = wait_event(gw, "circuit breaker transition", endpoint="hs", to="open")
    # the next client request is refused by the breaker; nothing was ever proxied
    assert_problem(gw.get("/hs/data"), 503, "circuit_open")
    assert up.count(exclude="/health") == 0, [r.target for r in up.snapshot()]
    text = gw.log_text()
    down = events(text, "health transition", endpoint="hs", to="down")
    assert len(down) == 1, text
    assert down[0].get("from") == "up" and down[0].get("reason") not in (None, ""), down
    assert len(opened) == 1, text
    assert opened[0].get("from") == "closed" and opened[0].get("reason") == "health_down", opened
    # the health line precedes the breaker line it caused
    lines = json_lines(text)
    assert lines.index(down[0]) < lines.index(opened[0]), text
    # probes keep running while it is down; still no proxied traffic
    n = up.count(path="/health")
    wait_count(up, n + 3, "/health")
    assert_problem(gw.get("/hs/data"), 503, "circuit_open")
    assert up.count(exclude="/health") == 0
    text = gw.log_text()
    assert len(events(text, "health transition", endpoint="hs", to="down")) == 1, text
    assert len(events(text, "circuit breaker transition", endpoint="hs", to="open")) == 1, text


def test_health_down_from_unknown(start_gateway, make_upstream):
    sw = Switch("ok", paths={"/health": 503})
    up = make_upstream(sw)
    gw = start(start_gateway, up)
    down = wait_event(gw, "health transition", endpoint="hs", to="down")
    assert down[0].get("from") == "unknown", down
    opened = wait_event(gw, "circuit breaker transition", endpoint="hs", to="open")
    assert opened[0].get("reason") == "health_down", opened
    assert_problem(gw.get("/hs/x"), 503, "circuit_open")
    assert up.count(exclude="/health") == 0


def test_unexpected_status_and_timeout_are_probe_failures(start_gateway, make_upstream):
    """expected_status decides; a probe not answered within its timeout fails."""
    sw = Switch("ok", paths={"/health": 204})
    up = make_upstream(sw)
    gw = start(start_gateway, up, health=hc(expected_status="200", timeout="200ms"))
    wait_event(gw, "health transition", endpoint="hs", to="down")
    gw2_sw = Switch("ok", paths={"/health": "blackhole"})
    up2 = make_upstream(gw2_sw)
    gw2 = start(start_gateway, up2, health=hc(timeout="200ms", interval="150ms"))
    wait_event(gw2, "health transition", endpoint="hs", to="down")
    assert up.count(exclude="/health") == 0 and up2.count(exclude="/health") == 0


def test_health_recovers_and_breaker_closes(start_gateway, make_upstream):
    sw = Switch("ok")
    up = make_upstream(sw)
    gw = start(start_gateway, up, reset="1s")
    wait_event(gw, "health transition", endpoint="hs", to="up")
    sw.set(500, "/health")
    wait_event(gw, "circuit breaker transition", endpoint="hs", to="open", reason="health_down")
    assert_problem(gw.get("/hs/data"), 503, "circuit_open")
    sw.set("ok", "/health")
    up_again = wait_event(gw, "health transition", endpoint="hs", to="up", **{"from": "down"})
    assert len(up_again) == 1
    # once reset_timeout has passed a good probe is the trial that closes the breaker,
    # without any client request
    closed = wait_event(gw, "circuit breaker transition", endpoint="hs", to="closed", timeout=5)
    assert closed[-1].get("from") == "half_open", closed
    assert up.count(exclude="/health") == 0
    r = gw.get("/hs/data")
    assert r.status == 200 and r.body.startswith(b"ok /api/data"), r
    assert up.count(exclude="/health") == 1


def test_health_check_false_means_no_probes(start_gateway, make_upstream):
    checked = make_upstream(Switch("ok"))
    unchecked = make_upstream(Switch("ok"))
    gw = start_gateway({"log": {"format": "json"},
                        "defaults": {"health_check": hc()},
                        "endpoints": [
                            {"url": checked.url("/api"), "name": "on", "health_check": {"path": "/health"}},
                            endpoint(unchecked.url("/api"), name="off", health_check=False)]})
    wait_count(checked, 4, "/health")  # several intervals of the checked one have passed
    assert unchecked.count() == 0, [r.target for r in unchecked.snapshot()]
    assert events(gw.log_text(), "health transition", endpoint="off") == []
    assert gw.get("/off/x").status == 200


def test_probe_failures_count_toward_failure_threshold(start_gateway, make_upstream):
    """Probes feed the breaker like requests: with unhealthy_threshold above
    failure_threshold the breaker opens on the failure count first."""
    sw = Switch("ok", paths={"/health": 503})
    up = make_upstream(sw)
    gw = start(start_gateway, up, threshold=2, health=hc(unhealthy_threshold=10))
    opened = wait_event(gw, "circuit breaker transition", endpoint="hs", to="open")
    assert opened[0].get("reason") == "failure_threshold", opened
    assert_problem(gw.get("/hs/x"), 503, "circuit_open")
    assert up.count(exclude="/health") == 0
