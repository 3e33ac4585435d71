"""SPEC section 10 (metrics) and the GET /metrics row of section 7, end to end: traffic
is sent to the real binary, /metrics is scraped and parsed by a strict parser of the
Prometheus text format 0.0.4 written here, and every counter is checked against what was
sent. Metrics are recorded once a request has ended, so expectations are polled with a
deadline; an exact expectation that is overshot fails."""

from __future__ import annotations

import math
import re
import secrets
import shutil
import signal
import subprocess
import time

import jwt
import yaml

from gh_gateway import build_config, endpoint, pick_port, run_cli
from gh_raw import RawConn, assert_problem, build_request
from gh_upstream import Response, Switch, echo_handler

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
SECRET_ENV = "GH_TEST_METRICS_SECRET"
METRICS_SCOPE = "gatehouse:metrics"
DEADLINE = 5.0

# SPEC section 10: every family, its type and its label names.
FAMILIES = {
    "gatehouse_requests_total": ("counter", {"endpoint", "method", "code"}),
    "gatehouse_request_duration_seconds": ("histogram", {"endpoint"}),
    "gatehouse_upstream_duration_seconds": ("histogram", {"endpoint"}),
    "gatehouse_errors_total": ("counter", {"endpoint", "type"}),
    "gatehouse_endpoint_up": ("gauge", {"endpoint"}),
    "gatehouse_endpoint_enabled": ("gauge", {"endpoint"}),
    "gatehouse_circuit_breaker_state": ("gauge", {"endpoint", "state"}),
    "gatehouse_circuit_breaker_transitions_total": ("counter", {"endpoint", "from", "to"}),
    "gatehouse_fallbacks_total": ("counter", {"endpoint", "strategy"}),
    "gatehouse_health_checks_total": ("counter", {"endpoint", "result"}),
    "gatehouse_config_reloads_total": ("counter", {"result"}),
    "gatehouse_config_last_reload_success_timestamp_seconds": ("gauge", set()),
    "gatehouse_connections_open": ("gauge", set()),
    "gatehouse_build_info": ("gauge", {"version"}),
    "gatehouse_rate_limited_total": ("counter", {"endpoint"}),
    "gatehouse_redis_errors_total": ("counter", {"kind"}),
    "gatehouse_websocket_tunnels_open": ("gauge", {"endpoint"}),
    "gatehouse_websocket_tunnels_total": ("counter", {"endpoint"}),
    "gatehouse_target_up": ("gauge", {"endpoint", "target"}),
    "gatehouse_target_requests_total": ("counter", {"endpoint", "target", "code"}),
    "gatehouse_retries_total": ("counter", {"endpoint", "reason"}),
    "gatehouse_retry_budget_exhausted_total": ("counter", {"endpoint"}),
    "gatehouse_tls_handshakes_total": ("counter", {"result"}),
}
METHODS = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "OTHER"}
ERROR_CODES = {"bad_request", "unauthorized", "forbidden", "no_route", "method_not_allowed",
               "request_timeout", "payload_too_large", "uri_too_long", "headers_too_large",
               "internal_error", "not_implemented", "upstream_error", "circuit_open", "draining",
               "upstream_timeout", "invalid_config", "rate_limited", "rate_limit_unavailable"}
STATES = {"closed", "open", "half_open"}
ALLOWED_VALUES = {"method": METHODS, "type": ERROR_CODES, "state": STATES, "from": STATES,
                  "to": STATES, "strategy": {"error", "cached", "default"},
                  "result": {"success", "failure"}, "kind": {"connect", "timeout", "protocol"}}
TLS_RESULTS = {"ok", "failed"}


# ---- a strict parser of the text format ------------------------------------------------

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL_NAME = r"[a-zA-Z_][a-zA-Z0-9_]*"
SAMPLE_RE = re.compile(rf"^({NAME})(?:\{{(.*)\}})? (\S+)$")
LABEL_RE = re.compile(rf'({LABEL_NAME})="((?:[^"\\\n]|\\\\|\\"|\\n)*)"')
FLOAT_RE = re.compile(r"^[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|Inf)$|^NaN$")


def unescape(v: str) -> str:
    out, i = [], 0
    while i < len(v):
        if v[i] == "\\":
            nxt = v[i + 1]
            out.append({"\\": "\\", '"': '"', "n": "\n"}[nxt])
            i += 2
        else:
            out.append(v[i])
            i += 1
    return "".join(out)


def parse_labels(text: str) -> dict:
    labels, pos = {}, 0
    while pos < len(text):
        m = LABEL_RE.match(text, pos)
        assert m, f"bad label syntax at {text[pos:]!r} in {{{text}}}"
        name, value = m.group(1), unescape(m.group(2))
        assert name not in labels, f"duplicate label {name} in {{{text}}}"
        labels[name] = value
        pos = m.end()
        if pos < len(text):
            assert text[pos] == ",", f"expected ',' at {text[pos:]!r}"
            pos += 1
            assert pos < len(text), f"trailing comma in {{{text}}}"
    return labels


def parse_value(text: str) -> float:
    assert FLOAT_RE.match(text), f"not a Prometheus float: {text!r}"
    return float(text.replace("Inf", "inf"))


class Scrape:
    def __init__(self, text: str):
        self.text = text
        self.types, self.helps = {}, {}
        self.samples = []  # (family, sample name, labels, value)
        self._parse()

    def _family_of(self, name: str) -> str:
        for suffix in ("_bucket", "_sum", "_count"):
            base = name[: -len(suffix)]
            if name.endswith(suffix) and self.types.get(base) == "histogram":
                return base
        return name

    def _parse(self) -> None:
        assert self.text.endswith("\n"), "the exposition must end with a newline"
        seen_series, done_families, current = set(), set(), None
        for line in self.text[:-1].split("\n"):
            assert line, "no blank lines"
            if line.startswith("#"):
                parts = line.split(" ", 3)
                assert len(parts) >= 3 and parts[1] in ("HELP", "TYPE"), f"bad comment: {line!r}"
                name = parts[2]
                assert re.fullmatch(NAME, name), line
                if parts[1] == "HELP":
                    assert name not in self.helps, f"second HELP for {name}"
                    self.helps[name] = parts[3] if len(parts) > 3 else ""
                else:
                    assert name not in self.types, f"second TYPE for {name}"
                    assert len(parts) == 4 and parts[3] in ("counter", "gauge", "histogram",
                                                            "summary", "untyped"), line
                    assert not any(s[0] == name for s in self.samples), f"TYPE after samples: {name}"
                    self.types[name] = parts[3]
                continue
            m = SAMPLE_RE.match(line)
            assert m, f"bad sample line: {line!r}"
            name, labels = m.group(1), parse_labels(m.group(2) or "")
            value = parse_value(m.group(3))
            family = self._family_of(name)
            assert family in self.types, f"sample before its TYPE: {line!r}"
            if family != current:
                assert family not in done_families, f"samples of {family} are not contiguous"
                if current is not None:
                    done_families.add(current)
                current = family
            key = (name, tuple(sorted(labels.items())))
            assert key not in seen_series, f"duplicate series: {line!r}"
            seen_series.add(key)
            self.samples.append((family, name, labels, value))
        self._check_histograms()

    def _check_histograms(self) -> None:
        for family, t in self.types.items():
            if t != "histogram":
                continue
            series = {}
            for fam, name, labels, value in self.samples:
                if fam != family:
                    continue
                rest = {k: v for k, v in labels.items() if k != "le"}
                s = series.setdefault(tuple(sorted(rest.items())), {"buckets": []})
                if name == family + "_bucket":
                    assert "le" in labels, f"bucket without le: {labels}"
                    s["buckets"].append((parse_value(labels["le"]), value))
                elif name == family + "_sum":
                    s["sum"] = value
                elif name == family + "_count":
                    s["count"] = value
                else:
                    raise AssertionError(f"unexpected sample {name} in histogram {family}")
            for key, s in series.items():
                b = s["buckets"]
                assert b and "sum" in s and "count" in s, (family, key, s)
                assert [le for le, _ in b] == sorted(le for le, _ in b), (family, key, b)
                assert b[-1][0] == math.inf, f"{family}{key}: last bucket must be +Inf"
                counts = [c for _, c in b]
                assert counts == sorted(counts), f"{family}{key}: buckets not cumulative {counts}"
                assert b[-1][1] == s["count"], f"{family}{key}: +Inf bucket != _count"
                assert s["sum"] >= 0, (family, key, s)

    # -- queries -----------------------------------------------------------------------
    def series(self, name: str, **labels) -> list:
        return [(lab, v) for _, n, lab, v in self.samples
                if n == name and all(lab.get(k) == str(x) for k, x in labels.items())]

    def value(self, name: str, **labels):
        """The value of the one series with exactly these labels (besides le), or None."""
        found = [v for lab, v in self.series(name, **labels)
                 if set(lab) - {"le"} == set(labels)]
        assert len(found) <= 1, (name, labels, found)
        return found[0] if found else None

    def val0(self, name: str, **labels) -> float:
        v = self.value(name, **labels)
        return 0 if v is None else v

    def requests(self, endpoint_id: str) -> dict:
        return {(lab["method"], lab["code"]): v
                for lab, v in self.series("gatehouse_requests_total", endpoint=endpoint_id)}

    def endpoints(self) -> set:
        return {lab["endpoint"] for _, _, lab, _ in self.samples if "endpoint" in lab}

    def hist(self, family: str, endpoint_id: str) -> dict:
        buckets = {lab["le"]: v for lab, v in self.series(family + "_bucket", endpoint=endpoint_id)}
        return {"buckets": buckets, "count": self.value(family + "_count", endpoint=endpoint_id),
                "sum": self.value(family + "_sum", endpoint=endpoint_id)}


def check_contract(s: Scrape) -> None:
    """Every family of SPEC section 10, with its type and exactly its labels."""
    for name, (typ, labels) in FAMILIES.items():
        assert s.types.get(name) == typ, f"{name}: TYPE {s.types.get(name)!r}, want {typ}"
        assert name in s.helps, f"{name} has no HELP"
    for family, name, lab, _ in s.samples:
        assert family in FAMILIES, f"unexpected family {family}"
        want = set(FAMILIES[family][1]) | ({"le"} if name.endswith("_bucket") else set())
        assert set(lab) == want, f"{name}: labels {sorted(lab)}, want {sorted(want)}"
        for k, v in lab.items():
            allowed = TLS_RESULTS if family == "gatehouse_tls_handshakes_total" and k == "result" \
                else ALLOWED_VALUES.get(k)
            if allowed is not None:
                assert v in allowed, f"{name}: {k}={v!r}"
            if k == "code":
                assert re.fullmatch(r"\d{3}", v), f"{name}: code={v!r}"


def scrape(gw, headers=None) -> Scrape:
    r = gw.get("/metrics", headers=headers)
    assert r.status == 200, r
    assert r.header("content-type") == CONTENT_TYPE, r.headers
    s = Scrape(r.body.decode("utf-8"))
    check_contract(s)
    return s


def wait_scrape(gw, predicate, headers=None, timeout=DEADLINE) -> Scrape:
    end = time.monotonic() + timeout
    while True:
        s = scrape(gw, headers)
        if predicate(s):
            return s
        if time.monotonic() > end:
            return s  # the caller's asserts say what differs
        time.sleep(0.02)


def token(secret: str, scope: str) -> str:
    now = int(time.time())
    return jwt.encode({"sub": "e2e", "scope": scope, "iat": now, "exp": now + 600}, secret,
                      algorithm="HS256")


# ---- requests_total, histograms, errors --------------------------------------------------

def test_requests_counted_by_endpoint_method_and_code(start_gateway, make_upstream):
    up = make_upstream()
    # access_log off: metrics are recorded all the same
    gw = start_gateway({"log": {"access_log": False},
                        "endpoints": [endpoint(up.url("/api"), name="svc"),
                                      endpoint(up.url("/ro"), name="ro", methods=["GET"])]})
    sent = {}

    def send(method, path, expect, ep, body=None):
        r = gw.request(method, path, body=body)
        assert r.status == expect, (method, path, r)
        if ep is not None:
            sent[(ep, method if method in METHODS else "OTHER", str(expect))] = \
                sent.get((ep, method if method in METHODS else "OTHER", str(expect)), 0) + 1

    for i in range(3):
        send("GET", f"/svc/items/{i}?q={secrets.token_hex(4)}", 200, "svc")
    for _ in range(2):
        send("POST", "/svc/items", 200, "svc", body=b"{}")
    send("DELETE", "/svc/items/1", 200, "svc")
    send("HEAD", "/svc/items/1", 200, "svc")
    send("BREW", "/svc/pot", 200, "svc")               # extension method: OTHER
    send("POST", "/ro/x", 405, "ro")                   # method_not_allowed, known endpoint
    send("GET", "/nothing/here", 404, "")
    send("PROPFIND", "/nothing/either", 404, "")       # unmatched and a weird method
    r = gw.raw(b"GET /svc/x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")  # duplicate Host
    assert r.status == 400, r
    sent[("", "OTHER", "400")] = 1  # a refused head has no method worth trusting

    svc_total = sum(v for (ep, _, _), v in sent.items() if ep == "svc")

    def done(s):
        return all(s.requests(ep).get((m, c)) == n for (ep, m, c), n in sent.items())

    s = wait_scrape(gw, done)
    assert s.requests("svc") == {(m, c): n for (ep, m, c), n in sent.items() if ep == "svc"}
    assert s.requests("ro") == {("POST", "405"): 1}
    got_unmatched = s.requests("")
    for (ep, m, c), n in sent.items():
        if ep == "":
            assert got_unmatched.get((m, c)) == n, (m, c, got_unmatched)
    # the unmatched series hold only what went unmatched: the 404s, the 400, /readyz and
    # /metrics (GET 200), and a /readyz the harness may have polled while the gateway was
    # still starting (GET 503)
    assert set(got_unmatched) <= {("GET", "404"), ("OTHER", "404"), ("OTHER", "400"), ("GET", "200"),
                                  ("GET", "503")}

    # histograms: one observation per request
    h = s.hist("gatehouse_request_duration_seconds", "svc")
    assert h["count"] == svc_total and h["buckets"]["+Inf"] == svc_total, h
    assert 0 < h["sum"] < 60, h
    assert "0.001" in h["buckets"] and "10" in h["buckets"], h
    u = s.hist("gatehouse_upstream_duration_seconds", "svc")
    assert u["count"] == svc_total, u        # every svc request reached the upstream
    assert u["sum"] <= h["sum"], (u, h)      # the upstream part of each request
    assert s.hist("gatehouse_request_duration_seconds", "ro")["count"] == 1
    assert s.hist("gatehouse_upstream_duration_seconds", "ro")["count"] is None  # never forwarded
    assert s.hist("gatehouse_request_duration_seconds", "")["count"] >= 3

    # errors the gateway produced
    assert s.value("gatehouse_errors_total", endpoint="ro", type="method_not_allowed") == 1
    assert s.value("gatehouse_errors_total", endpoint="", type="no_route") == 2
    assert s.value("gatehouse_errors_total", endpoint="", type="bad_request") == 1
    assert s.value("gatehouse_errors_total", endpoint="svc", type="upstream_error") is None

    # no raw paths or user-controlled values anywhere in the labels
    for _, _, lab, _ in s.samples:
        for v in lab.values():
            assert "/" not in v or v.startswith("http"), lab
            assert "BREW" not in v and "PROPFIND" not in v and "items" not in v, lab


def test_gateway_api_requests_are_unmatched_and_counted(start_gateway, upstream):
    gw = start_gateway({"endpoints": [endpoint(upstream.url(), name="svc")]})
    assert gw.get("/healthz").status == 200
    assert gw.request("POST", "/healthz").status == 405
    s = wait_scrape(gw, lambda s: s.value("gatehouse_errors_total", endpoint="",
                                          type="method_not_allowed") == 1)
    assert s.value("gatehouse_errors_total", endpoint="", type="method_not_allowed") == 1
    assert s.requests("").get(("POST", "405")) == 1
    assert s.requests("svc") == {}


def test_upstream_refused_then_circuit_open(start_gateway):
    dead = pick_port()  # nothing listens: connections are refused
    gw = start_gateway({"endpoints": [endpoint(
        f"http://127.0.0.1:{dead}/x", name="dead",
        circuit_breaker={"failure_threshold": 2, "reset_timeout": "30s"})]})
    for _ in range(2):
        assert_problem(gw.get("/dead/a"), 502, "upstream_error")
    assert_problem(gw.get("/dead/a"), 503, "circuit_open")
    s = wait_scrape(gw, lambda s: s.requests("dead").get(("GET", "503")) == 1)
    assert s.requests("dead") == {("GET", "502"): 2, ("GET", "503"): 1}
    assert s.value("gatehouse_errors_total", endpoint="dead", type="upstream_error") == 2
    assert s.value("gatehouse_errors_total", endpoint="dead", type="circuit_open") == 1
    assert s.value("gatehouse_fallbacks_total", endpoint="dead", strategy="error") == 1
    assert s.value("gatehouse_circuit_breaker_transitions_total", endpoint="dead",
                   **{"from": "closed", "to": "open"}) == 1
    assert len(s.series("gatehouse_circuit_breaker_transitions_total", endpoint="dead")) == 1
    for st in STATES:
        assert s.value("gatehouse_circuit_breaker_state", endpoint="dead", state=st) == \
            (1 if st == "open" else 0), st
    assert s.value("gatehouse_endpoint_up", endpoint="dead") == 0  # unknown health, breaker open
    assert s.value("gatehouse_endpoint_enabled", endpoint="dead") == 1
    # the two attempts that went to the upstream; the fallback answer did not
    assert s.hist("gatehouse_upstream_duration_seconds", "dead")["count"] == 2
    assert s.hist("gatehouse_request_duration_seconds", "dead")["count"] == 3


def test_breaker_round_trip_and_default_and_cached_fallbacks(start_gateway, make_upstream):
    sw = Switch("ok")
    up = make_upstream(sw)
    cb = {"failure_threshold": 2, "reset_timeout": "300ms"}
    gw = start_gateway({"endpoints": [
        endpoint(up.url("/d"), name="dflt",
                 circuit_breaker=dict(cb, fallback_strategy="default"),
                 fallback={"status": 200, "content_type": "application/json", "body": "{}"}),
        endpoint(up.url("/c"), name="cach", circuit_breaker=dict(cb, fallback_strategy="cached"),
                 cache={"ttl": "60s", "max_entries": 10, "max_bytes": "1MiB"})]})
    assert gw.get("/cach/page").status == 200     # stored for the cached fallback
    sw.set(503)
    for ep in ("dflt", "cach"):
        for _ in range(2):
            assert gw.get(f"/{ep}/page").status == 503
    r = gw.get("/dflt/page")
    assert r.status == 200 and r.header("x-gatehouse-fallback") == "default", r
    r = gw.get("/cach/page")
    assert r.status == 200 and r.header("x-gatehouse-fallback") == "cached", r
    assert_problem(gw.get("/cach/never-seen"), 503, "circuit_open")  # cache miss -> error
    s = wait_scrape(gw, lambda s: s.val0("gatehouse_fallbacks_total", endpoint="cach",
                                         strategy="error") == 1)
    assert s.value("gatehouse_fallbacks_total", endpoint="dflt", strategy="default") == 1
    assert s.value("gatehouse_fallbacks_total", endpoint="cach", strategy="cached") == 1
    assert s.value("gatehouse_fallbacks_total", endpoint="cach", strategy="error") == 1
    assert s.value("gatehouse_errors_total", endpoint="cach", type="circuit_open") == 1
    assert s.value("gatehouse_errors_total", endpoint="dflt", type="circuit_open") is None
    # upstream 503s pass through: not gateway errors
    assert s.value("gatehouse_errors_total", endpoint="dflt", type="upstream_error") is None

    # recover: after reset_timeout a trial succeeds and the breaker closes
    sw.set("ok")
    end = time.monotonic() + DEADLINE
    while gw.get("/dflt/page").header("x-gatehouse-fallback") == "default":
        assert time.monotonic() < end, "breaker did not close"
        time.sleep(0.05)
    trans = {"closed": {"open": 1}, "open": {"half_open": 1}, "half_open": {"closed": 1}}

    def closed(s):
        return s.value("gatehouse_circuit_breaker_state", endpoint="dflt", state="closed") == 1

    s = wait_scrape(gw, closed)
    assert closed(s)
    got = {(lab["from"], lab["to"]): v
           for lab, v in s.series("gatehouse_circuit_breaker_transitions_total", endpoint="dflt")}
    assert got == {(f, t): n for f, d in trans.items() for t, n in d.items()}, got
    assert s.value("gatehouse_endpoint_up", endpoint="dflt") == 1


# ---- health, enabled, up ------------------------------------------------------------------

def test_health_checks_endpoint_up_and_enabled(start_gateway, make_upstream):
    ok_up = make_upstream()

    def sick(req, conn):
        if req.path == "/health":
            return Response(500, [("Content-Type", "text/plain")], b"sick")
        return echo_handler(req, conn)

    sick_up = make_upstream(sick)
    hc = {"path": "/health", "interval": "100ms", "timeout": "500ms",
          "healthy_threshold": 1, "unhealthy_threshold": 2}
    gw = start_gateway({"endpoints": [
        endpoint(ok_up.url("/a"), name="good", health_check=hc),
        endpoint(sick_up.url("/b"), name="sick", health_check=hc),
        endpoint(ok_up.url("/c"), name="nohc"),
        endpoint(ok_up.url("/d"), name="off", disabled=True)]})

    def ready(s):
        return (s.val0("gatehouse_health_checks_total", endpoint="good", result="success") >= 3
                and s.val0("gatehouse_health_checks_total", endpoint="sick", result="failure") >= 3
                and s.value("gatehouse_endpoint_up", endpoint="sick") == 0)

    s = wait_scrape(gw, ready)
    assert ready(s), s.text
    assert s.value("gatehouse_health_checks_total", endpoint="good", result="failure") is None
    assert s.value("gatehouse_health_checks_total", endpoint="sick", result="success") is None
    assert not s.series("gatehouse_health_checks_total", endpoint="nohc")
    first = s.value("gatehouse_health_checks_total", endpoint="good", result="success")
    later = wait_scrape(gw, lambda t: t.val0("gatehouse_health_checks_total", endpoint="good",
                                             result="success") > first)
    assert later.value("gatehouse_health_checks_total", endpoint="good", result="success") > first

    assert s.value("gatehouse_endpoint_up", endpoint="good") == 1    # health up
    assert s.value("gatehouse_endpoint_up", endpoint="sick") == 0    # health down
    assert s.value("gatehouse_endpoint_up", endpoint="nohc") == 1    # unknown, breaker closed
    assert s.value("gatehouse_endpoint_up", endpoint="off") == 0
    for ep in ("good", "sick", "nohc"):
        assert s.value("gatehouse_endpoint_enabled", endpoint=ep) == 1, ep
    assert s.value("gatehouse_endpoint_enabled", endpoint="off") == 0
    # health turning down opened the sick endpoint's breaker
    assert s.value("gatehouse_circuit_breaker_state", endpoint="sick", state="open") == 1
    assert s.value("gatehouse_circuit_breaker_transitions_total", endpoint="sick",
                   **{"from": "closed", "to": "open"}) == 1
    # a disabled endpoint has no breaker
    assert not s.series("gatehouse_circuit_breaker_state", endpoint="off")


# ---- reloads --------------------------------------------------------------------------------

def write_config(gw, cfg: dict) -> None:
    cfg = build_config(cfg, gw.port)
    gw.config_path.write_text(yaml.safe_dump(cfg, sort_keys=False))


def test_reloads_counted_and_series_follow_the_table(start_gateway, upstream):
    v1 = {"endpoints": [endpoint(upstream.url("/k"), name="keep"),
                        endpoint(upstream.url("/g"), name="gone")]}
    t_start = time.time()
    gw = start_gateway(v1, args=["--insecure-admin"])
    for _ in range(3):
        assert gw.get("/keep/x").status == 200
    assert gw.get("/gone/x").status == 200
    s = wait_scrape(gw, lambda s: s.requests("keep").get(("GET", "200")) == 3
                    and s.requests("gone").get(("GET", "200")) == 1)
    assert s.requests("keep") == {("GET", "200"): 3}
    assert "gone" in s.endpoints()
    assert s.value("gatehouse_config_reloads_total", result="success") == 0
    assert s.value("gatehouse_config_reloads_total", result="failure") == 0
    ts0 = s.value("gatehouse_config_last_reload_success_timestamp_seconds")
    assert ts0 is not None and t_start - 1 <= ts0 <= time.time() + 1, ts0  # the initial load

    # keep changes a setting (same id), gone goes, new comes
    v2 = {"endpoints": [endpoint(upstream.url("/k"), name="keep", timeout="7s"),
                        endpoint(upstream.url("/n"), name="new")]}
    write_config(gw, v2)
    before = time.time()
    r = gw.request("POST", "/endpoints/reload")
    assert r.status == 200 and r.json()["result"] == "applied", r
    s = scrape(gw)
    assert s.value("gatehouse_config_reloads_total", result="success") == 1
    assert s.value("gatehouse_config_reloads_total", result="failure") == 0
    ts1 = s.value("gatehouse_config_last_reload_success_timestamp_seconds")
    assert math.floor(before * 1000) / 1000 <= ts1 <= time.time() + 1 and ts1 >= ts0, (ts0, ts1)
    assert s.requests("keep") == {("GET", "200"): 3}               # survived the reload
    assert s.hist("gatehouse_request_duration_seconds", "keep")["count"] == 3
    assert "gone" not in s.endpoints(), [l for l in s.text.splitlines() if "gone" in l]
    assert s.value("gatehouse_endpoint_enabled", endpoint="new") == 1
    assert gw.get("/keep/y").status == 200
    s = wait_scrape(gw, lambda s: s.requests("keep").get(("GET", "200")) == 4)
    assert s.requests("keep") == {("GET", "200"): 4}

    # an invalid file: API (422) and SIGHUP both count as failures; the timestamp stays
    gw.config_path.write_text("listen: [\n")
    assert_problem(gw.request("POST", "/endpoints/reload"), 422, "invalid_config")
    gw.signal(signal.SIGHUP)
    s = wait_scrape(gw, lambda s: s.value("gatehouse_config_reloads_total", result="failure") == 2)
    assert s.value("gatehouse_config_reloads_total", result="failure") == 2
    assert s.value("gatehouse_config_reloads_total", result="success") == 1
    assert s.value("gatehouse_config_last_reload_success_timestamp_seconds") == ts1
    assert s.value("gatehouse_errors_total", endpoint="", type="invalid_config") == 1

    # the same content again: "unchanged" is a success
    write_config(gw, v2)
    r = gw.request("POST", "/endpoints/reload")
    assert r.status == 200 and r.json()["result"] == "unchanged", r
    s = scrape(gw)
    assert s.value("gatehouse_config_reloads_total", result="success") == 2
    assert s.value("gatehouse_config_reloads_total", result="failure") == 2
    assert s.value("gatehouse_config_last_reload_success_timestamp_seconds") >= ts1

    # an endpoint that comes back starts from zero
    write_config(gw, v1)
    assert gw.request("POST", "/endpoints/reload").json()["result"] == "applied"
    s = scrape(gw)
    assert s.requests("gone") == {} and s.value("gatehouse_endpoint_enabled", endpoint="gone") == 1
    assert "new" not in s.endpoints()


# ---- the endpoint itself -------------------------------------------------------------------

def test_metrics_scope_needs_a_token_with_it(start_gateway, upstream):
    secret = secrets.token_urlsafe(48)
    gw = start_gateway({"auth": {"jwt": {"algorithms": ["HS256"], "hmac_secret_env": SECRET_ENV},
                                 "scopes": {"metrics": METRICS_SCOPE}},
                        "endpoints": [endpoint(upstream.url(), name="svc")]},
                       env={SECRET_ENV: secret})
    r = gw.get("/metrics")
    assert_problem(r, 401, "unauthorized")
    assert r.header("www-authenticate") == 'Bearer realm="gatehouse"', r.headers
    r = gw.get("/metrics", headers={"Authorization": "Bearer not.a.token"})
    assert_problem(r, 401, "unauthorized")
    assert 'error="invalid_token"' in (r.header("www-authenticate") or ""), r.headers
    r = gw.get("/metrics", headers={"Authorization": f"Bearer {token(secret, 'gatehouse:stats')}"})
    assert_problem(r, 403, "forbidden")
    assert r.header("www-authenticate") == \
        f'Bearer realm="gatehouse", error="insufficient_scope", scope="{METRICS_SCOPE}"', r.headers
    good = {"Authorization": f"Bearer {token(secret, 'other ' + METRICS_SCOPE)}"}
    s = wait_scrape(gw, lambda s: s.value("gatehouse_errors_total", endpoint="",
                                          type="forbidden") == 1, headers=good)
    assert s.value("gatehouse_errors_total", endpoint="", type="unauthorized") == 2
    assert s.value("gatehouse_errors_total", endpoint="", type="forbidden") == 1
    assert s.requests("")[("GET", "401")] == 2


def test_metrics_open_when_scope_is_empty(start_gateway, upstream):
    secret = secrets.token_urlsafe(48)
    gw = start_gateway({"auth": {"jwt": {"algorithms": ["HS256"], "hmac_secret_env": SECRET_ENV},
                                 "scopes": {"stats": "gatehouse:stats", "metrics": ""}},
                        "endpoints": [endpoint(upstream.url(), name="svc")]},
                       env={SECRET_ENV: secret})
    scrape(gw)  # no token, 200
    # the stats API next door still wants its token
    assert gw.get("/endpoints/stats").status == 401


def test_methods_head_and_content_type(start_gateway, upstream):
    gw = start_gateway({"endpoints": [endpoint(upstream.url(), name="svc")]})
    for method in ("POST", "PUT", "DELETE"):
        r = gw.request(method, "/metrics", body=b"" if method != "DELETE" else None)
        assert_problem(r, 405, "method_not_allowed")
        assert r.header("allow") == "GET, HEAD", r.headers
    r = gw.request("HEAD", "/metrics")
    assert r.status == 200 and r.body == b"", r
    assert r.header("content-type") == CONTENT_TYPE
    assert int(r.header("content-length")) > 0
    assert gw.get("/metrics/extra").status == 404
    assert gw.get("/metrics?x=1").status == 200


def test_connections_open_and_build_info(start_gateway, upstream):
    gw = start_gateway({"endpoints": [endpoint(upstream.url(), name="svc")]})
    conns = []
    try:
        for _ in range(3):
            c = RawConn(gw.port)
            r = c.request(build_request("GET", "/svc/x", {"Connection": "keep-alive"}))
            assert r.status == 200, r
            conns.append(c)
        # three held open, plus the scrape's own
        s = wait_scrape(gw, lambda s: s.value("gatehouse_connections_open") == 4)
        assert s.value("gatehouse_connections_open") == 4
    finally:
        for c in conns:
            c.close()
    s = wait_scrape(gw, lambda s: s.value("gatehouse_connections_open") == 1)
    assert s.value("gatehouse_connections_open") == 1
    version = run_cli(["version"]).stdout.split()[-1]
    assert s.series("gatehouse_build_info") == [({"version": version}, 1.0)]


def test_odd_endpoint_ids_are_escaped(start_gateway, upstream):
    odd = 'we"ird\\id'
    gw = start_gateway({"endpoints": [endpoint(upstream.url(), name=odd, prefix="/odd"),
                                      endpoint(upstream.url("/anon/base"), prefix="/anon")]})
    assert gw.get("/odd/x").status == 200
    assert gw.get("/anon/x").status == 200
    s = wait_scrape(gw, lambda s: s.requests(odd).get(("GET", "200")) == 1
                    and s.requests(upstream.url("/anon/base")).get(("GET", "200")) == 1)
    assert s.requests(odd) == {("GET", "200"): 1}                  # parsed back unescaped
    assert s.requests(upstream.url("/anon/base")) == {("GET", "200"): 1}  # id = URL
    assert 'endpoint="we\\"ird\\\\id"' in s.text


def test_many_endpoints_scrape(start_gateway, upstream):
    n = 2000
    eps = [endpoint(upstream.url(f"/e{i}"), name=f"e{i}") for i in range(n)]
    gw = start_gateway({"endpoints": eps})
    assert gw.get("/e1234/x").status == 200
    s = wait_scrape(gw, lambda s: s.requests("e1234").get(("GET", "200")) == 1)
    assert len(s.series("gatehouse_endpoint_enabled")) == n
    assert len(s.series("gatehouse_circuit_breaker_state")) == 3 * n
    assert len(s.series("gatehouse_websocket_tunnels_open")) == n  # at 0 from the start
    assert len(s.series("gatehouse_websocket_tunnels_total")) == n
    # endpoints without traffic have no traffic series
    assert {lab["endpoint"] for lab, _ in s.series("gatehouse_request_duration_seconds_count")} \
        <= {"", "e1234"}


def test_promtool_accepts_the_output(start_gateway, make_upstream):
    # scripts/install-deps.sh installs it (Debian's prometheus): missing is a failure.
    promtool = shutil.which("promtool")
    assert promtool, "promtool is not installed (scripts/install-deps.sh installs prometheus)"
    dead = pick_port()
    up = make_upstream()
    gw = start_gateway({"endpoints": [
        endpoint(up.url(), name="svc"),
        endpoint(f"http://127.0.0.1:{dead}/", name="dead",
                 circuit_breaker={"failure_threshold": 1})]})
    assert gw.get("/svc/x").status == 200
    gw.get("/dead/x")
    gw.get("/dead/x")
    body = gw.get("/metrics").body
    p = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True, timeout=30)
    # promtool exits 0 when only lint hints (no errors) were found
    assert p.returncode == 0, (p.stdout, p.stderr)


def test_scope_without_auth_jwt_is_absent_unless_insecure_admin(start_gateway, upstream):
    cfg = {"auth": {"scopes": {"metrics": METRICS_SCOPE}},
           "endpoints": [endpoint(upstream.url(), name="svc")]}
    gw = start_gateway(cfg)
    assert_problem(gw.get("/metrics"), 404, "no_route")  # the token cannot be checked
    gw2 = start_gateway(cfg, args=["--insecure-admin"])
    scrape(gw2)
