"""SPEC section 11, live: a real gatehouse scraped by a real Prometheus (Debian's, 1 s
scrape and evaluation) that loads deploy/prometheus/alerts.yml and sends to a real
Alertmanager with the project's routing. Traffic trips a breaker; the breaker alert
must go pending under the real rules and reach Alertmanager's webhook under a copy of
them with every `for` cut to 1 s. Every PromQL expression of the Grafana dashboard is
run against this Prometheus and must parse and return data."""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
import urllib.request

import pytest
import yaml

from gh_gateway import Gateway, endpoint
from gh_monitoring import (DASHBOARD, DEPLOY_PROM, SYNTHETIC, Alertmanager, Prometheus,
                           SyntheticExporter, WebhookReceiver, need, poll)
from gh_upstream import Switch, Upstream

# Every metric name of SPEC section 10 (histograms by their base name).
SPEC_METRICS = {
    "gatehouse_requests_total", "gatehouse_request_duration_seconds",
    "gatehouse_upstream_duration_seconds", "gatehouse_errors_total", "gatehouse_endpoint_up",
    "gatehouse_endpoint_enabled", "gatehouse_circuit_breaker_state",
    "gatehouse_circuit_breaker_transitions_total", "gatehouse_fallbacks_total",
    "gatehouse_health_checks_total", "gatehouse_config_reloads_total",
    "gatehouse_config_last_reload_success_timestamp_seconds", "gatehouse_connections_open",
    "gatehouse_build_info", "gatehouse_target_up", "gatehouse_target_requests_total",
    "gatehouse_retries_total", "gatehouse_retry_budget_exhausted_total",
    "gatehouse_rate_limited_total", "gatehouse_redis_errors_total",
    "gatehouse_websocket_tunnels_open", "gatehouse_websocket_tunnels_total",
    "gatehouse_tls_handshakes_total", "gatehouse_tls_certificate_expiry_timestamp_seconds",
}
RATE_INTERVAL = "10s"   # what Grafana's $__rate_interval is at a 1 s scrape, rounded up
TRAFFIC_SECONDS = 120   # upper bound for the background client loop


def exported_names(text: str) -> set:
    names = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            names.add(line.split()[2])
    return names


def fast_rules(path, out):
    """The alert group of alerts.yml with every `for` cut to 1 s, labelled speed=fast."""
    doc = yaml.safe_load(path.read_text())
    groups = []
    for g in doc["groups"]:
        rules = [dict(r) for r in g["rules"] if "alert" in r]
        if not rules:
            continue
        for r in rules:
            r["for"] = "1s"
            r["labels"] = dict(r.get("labels", {}), speed="fast")
        groups.append({"name": g["name"] + "-fast", "rules": rules})
    out.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    return out


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("monitoring")
    t0 = time.monotonic()
    ok = Upstream(Switch("ok"))
    failing = Upstream(Switch(503))
    gw = Gateway({
        "endpoints": [
            # Rate limited below the traffic's pace, so the rate-limit panel has real data.
            endpoint(ok.url("/api"), name="users",
                     health_check={"path": "/health", "interval": "1s", "timeout": "500ms"},
                     rate_limit={"requests": 5, "per": "1s"}),
            # Retried (to the same server, after a backoff), so the retry panel has real
            # series (exported at 0 from the first scrape, counted as the 503s come).
            endpoint(failing.url("/api"), name="orders", retries={"attempts": 1},
                     circuit_breaker={"failure_threshold": 3, "reset_timeout": "60s"}),
        ]}, tmp / "gw")
    gw.start()
    real = gw.get("/metrics").body.decode()
    synth = SyntheticExporter(set(SYNTHETIC) - exported_names(real))
    hook = WebhookReceiver()
    am = Alertmanager(tmp / "am", hook.base).start()
    fast = fast_rules(DEPLOY_PROM / "alerts.yml", tmp / "alerts-fast.yml")
    prom = Prometheus(tmp / "prom", [f"127.0.0.1:{gw.port}", f"127.0.0.1:{synth.port}"],
                      [DEPLOY_PROM / "alerts.yml", fast], f"127.0.0.1:{am.port}").start()

    stop = threading.Event()
    counts = {"sent": 0}

    def traffic():
        # Both endpoints, a few requests a second, until the module is done.
        end = time.monotonic() + TRAFFIC_SECONDS
        while not stop.is_set() and time.monotonic() < end:
            for path in ("/users/x", "/orders/x", "/nowhere"):
                try:
                    gw.get(path, timeout=2)
                    counts["sent"] += 1
                except OSError:
                    pass
            stop.wait(0.1)

    t = threading.Thread(target=traffic, daemon=True)
    t.start()
    yield {"gw": gw, "prom": prom, "am": am, "hook": hook, "synth": synth, "t0": t0,
           "real_names": exported_names(real), "counts": counts}
    stop.set()
    t.join(5)
    prom.stop()
    am.stop()
    hook.close()
    synth.close()
    rc = gw.stop()
    ok.close()
    failing.close()
    assert rc == 0, gw.log_text()


def test_prometheus_scrapes_gatehouse(stack):
    prom, gw = stack["prom"], stack["gw"]

    def target_up():
        for t in prom.api("targets")["activeTargets"]:
            if t["labels"]["instance"] == f"127.0.0.1:{gw.port}" and t["health"] == "up":
                return t
    t = poll("gatehouse target up", target_up, 15)
    assert t["labels"]["job"] == "gatehouse"
    print(f"\ngatehouse target up {time.monotonic() - stack['t0']:.1f} s after start")
    got = poll("gatehouse_build_info in Prometheus",
               lambda: prom.query('gatehouse_build_info{job="gatehouse"}')["result"], 10)
    assert got[0]["metric"]["version"]


def test_scrape_passes_promtool_check_metrics(stack):
    text = stack["gw"].get("/metrics").body
    cp = subprocess.run([need("promtool"), "check", "metrics"], input=text,
                        capture_output=True, timeout=30)
    assert cp.returncode == 0, cp.stdout.decode() + cp.stderr.decode()


def test_gatehouse_and_synthetic_series_cover_spec_section_10(stack):
    real = {n for n in stack["real_names"] if n.startswith("gatehouse_")}
    assert real | set(stack["synth"].names) == SPEC_METRICS, \
        f"not exported: {SPEC_METRICS - real - set(stack['synth'].names)}; unknown: {real - SPEC_METRICS}"
    assert not real & set(stack["synth"].names)


def test_breaker_alert_goes_pending_and_fires_to_alertmanager(stack):
    prom, hook = stack["prom"], stack["hook"]
    pending = poll("GatehouseCircuitBreakerOpen pending (real rules, for: 1m)",
                   lambda: [a for a in prom.alerts("GatehouseCircuitBreakerOpen", endpoint="orders")
                            if "speed" not in a["labels"] and a["state"] in ("pending", "firing")], 30)
    t_pending = time.monotonic() - stack["t0"]
    assert pending[0]["labels"]["severity"] == "critical"
    firing = poll("GatehouseCircuitBreakerOpen firing (for: 1s copy)",
                  lambda: [a for a in prom.alerts("GatehouseCircuitBreakerOpen", endpoint="orders",
                                                  speed="fast") if a["state"] == "firing"], 30)
    t_firing = time.monotonic() - stack["t0"]
    assert firing[0]["annotations"]["runbook"] == "docs/deployment.md#gatehousecircuitbreakeropen"
    # critical -> the pager receiver, with the labels the routing groups on
    got = poll("the alert at Alertmanager's pager webhook",
               lambda: hook.find("GatehouseCircuitBreakerOpen", endpoint="orders", speed="fast"), 30)
    path, alert, at = got[0]
    assert path == "/alerts/pager", path
    t_notified = at - stack["t0"]
    print(f"\nbreaker alert: pending {t_pending:.1f} s, firing (for: 1s) {t_firing:.1f} s, "
          f"webhook {t_notified:.1f} s after gatehouse started")
    # The healthy endpoint's breaker stays closed: no alert for it, in any copy.
    assert not prom.alerts("GatehouseCircuitBreakerOpen", endpoint="users")
    assert not hook.find("GatehouseCircuitBreakerOpen", endpoint="users")


def dashboard_queries() -> list:
    doc = json.loads(DASHBOARD.read_text())
    exprs = []

    def walk(panels):
        for p in panels:
            walk(p.get("panels", []))
            for t in p.get("targets", []):
                exprs.append((p["title"], t["expr"]))
    walk(doc["panels"])
    variables = []
    for v in doc["templating"]["list"]:
        if v["type"] == "query":
            q = v["query"]["query"] if isinstance(v["query"], dict) else v["query"]
            variables.append((v["name"], q))
    return exprs, variables


def substitute(expr: str) -> str:
    expr = expr.replace("$__rate_interval", RATE_INTERVAL)
    # Every variable at its "All" value (allValue ".*" in the dashboard).
    return re.sub(r"\$(\w+)|\$\{(\w+)\}", ".*", expr)


def test_every_dashboard_query_parses_and_returns_data(stack):
    prom = stack["prom"]
    exprs, variables = dashboard_queries()
    assert len(exprs) >= 20
    # Let the slowest ones (rates over 10 s, recording rules) have their samples.
    poll("the first recording rule results",
         lambda: prom.query("endpoint:gatehouse_requests_5xx:ratio5m")["result"], 30)
    for title, expr in exprs:
        q = substitute(expr)
        prom.query(q)  # parses, or the test fails with Prometheus's error
        poll(f"data for panel {title!r}: {q}", lambda: prom.query(q)["result"], 20, every=0.5)
    for name, q in variables:
        m = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", q)
        assert m, f"variable {name}: {q}"
        selector, label = substitute(m.group(1)), m.group(2)
        values = poll(f"values of variable {name}",
                      lambda: prom.api(f"label/{label}/values", **{"match[]": selector}), 10)
        assert values, name


def test_orders_5xx_ratio_shows_its_first_errors(stack):
    # The recording rule counts the first 503s of a series created with its first
    # increment; every orders request is a 503 (the upstream's, then circuit_open).
    prom = stack["prom"]
    got = poll("orders 5xx ratio",
               lambda: prom.query('endpoint:gatehouse_requests_5xx:ratio5m{endpoint="orders"}')["result"], 30)
    assert float(got[0]["value"][1]) == pytest.approx(1.0)
    ok = prom.query('endpoint:gatehouse_requests_5xx:ratio5m{endpoint="users"}')["result"]
    assert ok and float(ok[0]["value"][1]) == 0.0
