"""SPEC section 7: GET /endpoints/stats and /endpoints/stats/{id}, field by field, against
a live gateway with enabled, disabled, healthy, down and open-breaker endpoints."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
from datetime import datetime, timezone
from urllib.parse import quote

import jwt
import pytest

from gh_gateway import endpoint, pick_port
from gh_raw import assert_problem
from gh_upstream import Response, echo_handler

STATS = "/endpoints/stats"
SCOPE = "gatehouse:stats"
SECRET_ENV = "GH_TEST_JWT_SECRET"
RESET_TIMEOUT_MS = 30_000
TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
IDS = ["healthy@v1", "off", "sick", "broken", "ANON"]  # ANON: replaced by the URL


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def ts(v) -> datetime:
    assert isinstance(v, str) and TS.match(v), f"not an RFC 3339 UTC millisecond timestamp: {v!r}"
    return datetime.strptime(v, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)


def ts_or_null(v):
    return None if v is None else ts(v)


def health_500_handler(req, conn):
    if req.path == "/health":
        return Response(500, [("Content-Type", "text/plain")], b"sick")
    return echo_handler(req, conn)


class Setup:
    pass


@pytest.fixture
def live(start_gateway, make_upstream):
    """The gateway of this module, with traffic sent and health verdicts reached."""
    s = Setup()
    s.secret = secrets.token_urlsafe(48)
    s.up = make_upstream()
    s.sick_up = make_upstream(health_500_handler)
    s.dead_port = pick_port()  # nothing listens there: connections are refused
    s.anon_url = s.up.url("/anon/base")
    hc = {"path": "/health", "interval": "100ms", "timeout": "500ms",
          "healthy_threshold": 1, "unhealthy_threshold": 2}
    s.cfg = {
        "auth": {"jwt": {"algorithms": ["HS256"], "hmac_secret_env": SECRET_ENV},
                 "scopes": {"stats": SCOPE}},
        "endpoints": [
            endpoint(s.up.url("/api"), name="healthy", version="v1", methods=["GET", "POST"],
                     auth_type="bearer", health_check=hc),
            endpoint(s.up.url("/off"), name="off", disabled=True, health_check=hc),
            endpoint(s.sick_up.url("/sick"), name="sick", health_check=hc),
            endpoint(f"http://127.0.0.1:{s.dead_port}/x", name="broken", health_check=False,
                     circuit_breaker={"failure_threshold": 2, "reset_timeout": "30s"}),
            endpoint(s.anon_url, prefix="/anon"),
        ]}
    s.gw = start_gateway(s.cfg, env={SECRET_ENV: s.secret})
    now = int(time.time())
    s.token = jwt.encode({"sub": "e2e", "scope": SCOPE, "iat": now, "exp": now + 600},
                         s.secret, algorithm="HS256")
    for i in range(3):
        r = s.gw.get(f"/healthy/v1/item/{i}")
        assert r.status == 200, r
    for _ in range(2):
        assert s.gw.get("/broken/q").status in (502, 503, 504)
    # wait for the verdicts: healthy up, sick down
    deadline = time.monotonic() + 10
    while True:
        doc = s.get().json()
        by_id = {e["id"]: e for e in doc["endpoints"]}
        if by_id.get("healthy@v1", {}).get("health") == "up" and \
                by_id.get("sick", {}).get("health") == "down":
            break
        assert time.monotonic() < deadline, doc
        time.sleep(0.05)
    return s


def _get(self, target=STATS):
    return self.gw.get(target, headers={"Authorization": f"Bearer {self.token}"})


Setup.get = _get


def check_entry_shape(e):
    for key in ("id", "name", "url", "version", "prefix", "methods", "auth_type", "status",
                "health", "circuit_breaker", "last_updated", "requests", "last_health_check"):
        assert key in e, f"entry lacks {key!r}: {e}"
    assert isinstance(e["id"], str) and e["id"]
    assert e["name"] is None or isinstance(e["name"], str)
    assert isinstance(e["url"], str)
    assert e["version"] is None or isinstance(e["version"], str)
    assert isinstance(e["prefix"], str) and e["prefix"].startswith("/")
    assert e["methods"] is None or (isinstance(e["methods"], list)
                                    and all(isinstance(m, str) for m in e["methods"])), e
    assert e["auth_type"] is None or isinstance(e["auth_type"], str)
    assert e["status"] in ("enabled", "disabled"), e
    assert e["health"] in ("up", "down", "unknown"), e
    cb = e["circuit_breaker"]
    if cb is not None:
        assert isinstance(cb, dict), e
        for key in ("state", "consecutive_failures", "opened_at", "next_attempt_at"):
            assert key in cb, f"circuit_breaker lacks {key!r}: {e}"
        assert cb["state"] in ("closed", "open", "half_open"), cb
        assert is_int(cb["consecutive_failures"]) and cb["consecutive_failures"] >= 0, cb
        ts_or_null(cb["opened_at"])
        ts_or_null(cb["next_attempt_at"])
    ts(e["last_updated"])
    rq = e["requests"]
    assert isinstance(rq, dict), e
    for key in ("total", "failed", "fallbacks", "latency_ms"):
        assert key in rq, f"requests lacks {key!r}: {e}"
    for key in ("total", "failed", "fallbacks"):
        assert is_int(rq[key]) and rq[key] >= 0, rq
    lat = rq["latency_ms"]
    assert isinstance(lat, dict) and "p50" in lat and "p99" in lat, rq
    for key in ("p50", "p99"):
        assert lat[key] is None or (is_num(lat[key]) and lat[key] >= 0), rq
    hc = e["last_health_check"]
    if hc is not None:
        assert isinstance(hc, dict), e
        for key in ("at", "ok", "status", "latency_ms", "error"):
            assert key in hc, f"last_health_check lacks {key!r}: {e}"
        ts(hc["at"])
        assert isinstance(hc["ok"], bool), hc
        assert hc["status"] is None or is_int(hc["status"]), hc
        assert hc["latency_ms"] is None or (is_num(hc["latency_ms"]) and hc["latency_ms"] >= 0), hc
        assert hc["error"] is None or isinstance(hc["error"], str), hc


def check_top(doc, gw):
    assert isinstance(doc, dict)
    for key in ("generated_at", "config", "endpoints"):
        assert key in doc, f"stats lacks {key!r}: {doc}"
    generated = ts(doc["generated_at"])
    now = datetime.now(timezone.utc)
    assert abs((now - generated).total_seconds()) < 30, (doc["generated_at"], now)
    cfg = doc["config"]
    for key in ("path", "version", "loaded_at", "sha256"):
        assert key in cfg, f"config lacks {key!r}: {cfg}"
    assert isinstance(cfg["path"], str)
    assert (gw.workdir / cfg["path"]).resolve() == gw.config_path.resolve(), cfg
    assert is_int(cfg["version"]) and cfg["version"] == 1, cfg
    loaded = ts(cfg["loaded_at"])
    assert loaded <= generated, cfg
    assert cfg["sha256"] == hashlib.sha256(gw.config_path.read_bytes()).hexdigest(), cfg
    assert isinstance(doc["endpoints"], list)
    for e in doc["endpoints"]:
        check_entry_shape(e)
        assert loaded <= ts(e["last_updated"]) <= generated, (e, cfg, doc["generated_at"])
    return generated


def ids(s):
    return [s.anon_url if i == "ANON" else i for i in IDS]


def test_stats_shape_field_by_field(live):
    s = live
    r = s.get()
    assert r.status == 200, r
    assert (r.header("content-type") or "").split(";")[0].strip() == "application/json", r.headers
    doc = r.json()
    generated = check_top(doc, s.gw)
    by_id = {e["id"]: e for e in doc["endpoints"]}
    assert sorted(by_id) == sorted(ids(s)), list(by_id)
    assert len(doc["endpoints"]) == 5

    # enabled, healthy, after 3 proxied requests
    e = by_id["healthy@v1"]
    assert (e["name"], e["version"], e["url"], e["prefix"]) == \
        ("healthy", "v1", s.up.url("/api"), "/healthy/v1"), e
    assert e["methods"] == ["GET", "POST"], e
    assert e["auth_type"] == "bearer", e
    assert (e["status"], e["health"]) == ("enabled", "up"), e
    assert e["circuit_breaker"] == {"state": "closed", "consecutive_failures": 0,
                                    "opened_at": None, "next_attempt_at": None}, e
    assert (e["requests"]["total"], e["requests"]["failed"], e["requests"]["fallbacks"]) == (3, 0, 0), e
    p50, p99 = e["requests"]["latency_ms"]["p50"], e["requests"]["latency_ms"]["p99"]
    assert is_num(p50) and is_num(p99) and 0 < p50 <= p99 < 5000, e
    hc = e["last_health_check"]
    assert hc is not None, e
    assert (hc["ok"], hc["status"], hc["error"]) == (True, 200, None), hc
    assert is_num(hc["latency_ms"]), hc
    assert ts(hc["at"]) <= generated, hc

    # disabled
    e = by_id["off"]
    assert (e["name"], e["url"], e["prefix"]) == ("off", s.up.url("/off"), "/off"), e
    assert e["version"] is None, e
    assert (e["status"], e["health"]) == ("disabled", "unknown"), e
    assert e["circuit_breaker"] is None, e
    assert e["last_health_check"] is None, e
    assert e["requests"]["total"] == 0, e

    # health down (the probe answers 500); SPEC 5: health turning down opens the breaker
    e = by_id["sick"]
    assert (e["status"], e["health"]) == ("enabled", "down"), e
    hc = e["last_health_check"]
    assert hc is not None and hc["ok"] is False and hc["status"] == 500, hc
    assert is_num(hc["latency_ms"]), hc
    assert e["circuit_breaker"] is not None and e["circuit_breaker"]["state"] == "open", e
    assert e["requests"]["total"] == 0, e

    # open breaker after 2 refused connections; no health checks
    e = by_id["broken"]
    assert (e["status"], e["health"]) == ("enabled", "unknown"), e
    assert e["last_health_check"] is None, e
    cb = e["circuit_breaker"]
    assert cb["state"] == "open", e
    assert cb["consecutive_failures"] >= 2, e
    opened, nxt = ts(cb["opened_at"]), ts(cb["next_attempt_at"])
    assert opened <= generated, cb
    delta_ms = round((nxt - opened).total_seconds() * 1000)
    assert delta_ms == RESET_TIMEOUT_MS, (cb, delta_ms)
    assert ts(e["last_updated"]) >= opened, e  # the breaker transition is the latest change
    assert (e["requests"]["total"], e["requests"]["failed"]) == (2, 2), e
    assert e["requests"]["latency_ms"]["p50"] is None or is_num(e["requests"]["latency_ms"]["p50"])

    # no name: the id is the URL
    e = by_id[s.anon_url]
    assert (e["name"], e["url"], e["prefix"], e["status"]) == (None, s.anon_url, "/anon", "enabled"), e
    assert e["circuit_breaker"]["state"] == "closed", e
    assert e["requests"]["total"] == 0
    assert e["requests"]["latency_ms"] == {"p50": None, "p99": None}, e


@pytest.mark.parametrize("query,expected", [
    ("status=enabled", ["healthy@v1", "sick", "broken", "ANON"]),
    ("status=disabled", ["off"]),
    ("health=up", ["healthy@v1"]),
    ("health=down", ["sick"]),
    ("health=unknown", ["off", "broken", "ANON"]),
    ("status=enabled&health=unknown", ["broken", "ANON"]),
    ("status=disabled&health=up", []),
])
def test_stats_filters(live, query, expected):
    s = live
    r = s.get(f"{STATS}?{query}")
    assert r.status == 200, r
    doc = r.json()
    check_top(doc, s.gw)
    want = sorted(s.anon_url if i == "ANON" else i for i in expected)
    assert sorted(e["id"] for e in doc["endpoints"]) == want, (query, doc["endpoints"])


@pytest.mark.parametrize("query", ["status=bogus", "health=bogus", "status=Enabled",
                                   "health=", "status="])
def test_stats_unknown_filter_value_is_400(live, query):
    assert_problem(live.get(f"{STATS}?{query}"), 400, "bad_request")


def test_stats_by_id(live):
    s = live
    full = {e["id"]: e for e in s.get().json()["endpoints"]}
    for id_ in ("healthy@v1", "off", "broken", "sick"):
        r = s.get(f"{STATS}/{quote(id_, safe='')}")
        assert r.status == 200, (id_, r)
        e = r.json()
        check_entry_shape(e)
        assert e["id"] == id_, e
        assert (e["status"], e["health"], e["url"]) == \
            (full[id_]["status"], full[id_]["health"], full[id_]["url"]), e
    # '@' also works unencoded
    assert s.get(f"{STATS}/healthy@v1").json()["id"] == "healthy@v1"
    # an id containing '/', percent-encoded
    target = f"{STATS}/{quote(s.anon_url, safe='')}"
    assert "%2F" in target
    r = s.get(target)
    assert r.status == 200, r
    e = r.json()
    check_entry_shape(e)
    assert (e["id"], e["name"], e["url"]) == (s.anon_url, None, s.anon_url), e
    # lower-case escapes mean the same
    r = s.get(target.replace("%2F", "%2f").replace("%3A", "%3a"))
    assert r.status == 200 and r.json()["id"] == s.anon_url, r


@pytest.mark.parametrize("id_", ["nope", "healthy", "healthy@v2", "HEALTHY@v1", "off%2Fx"])
def test_stats_unknown_id_is_404(live, id_):
    assert_problem(live.get(f"{STATS}/{id_}"), 404, "no_route")


def test_stats_needs_a_token(live):
    for target in (STATS, f"{STATS}/healthy@v1", f"{STATS}?status=bogus", f"{STATS}/nope"):
        r = live.gw.get(target)
        assert r.status == 401, (target, r)
        assert r.header("www-authenticate") == 'Bearer realm="gatehouse"', r.headers



def test_numbers_are_plain_decimals(live):
    """Latencies read like the SPEC example (`"p50": 1.2`), never in exponent form
    (`9.92E-1`). json calls parse_float for every number with a fraction or an exponent."""
    s = live
    for target in (STATS, f"{STATS}/healthy%40v1"):
        r = s.get(target)
        assert r.status == 200, r
        floats = []
        json.loads(r.body, parse_float=lambda text: floats.append(text) or 0.0)
        assert floats, f"no fractional number in {target}: {r.body[:500]!r}"
        for text in floats:
            assert re.fullmatch(r"-?\d+\.\d+", text), f"{text!r} in {r.body[:2000]!r}"
