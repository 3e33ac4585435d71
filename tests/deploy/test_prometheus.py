"""Alert rules, their promtool unit tests, the scrape config and Alertmanager's routing."""

from __future__ import annotations

import shutil

import yaml

from gh_deploy import DEPLOY, run, tool

PROM = DEPLOY / "prometheus"

# SPEC section 11's list of alerts, by the name each has in alerts.yml.
SPEC_ALERTS = {
    "GatehouseCircuitBreakerOpen",       # any breaker open > 1 min
    "GatehouseEndpointDown",             # endpoint down > 2 min
    "GatehouseHighErrorRatio",           # 5xx ratio > 5% over 5 min per endpoint
    "GatehouseHighLatencyP99",           # p99 over a bound
    "GatehouseConfigReloadFailed",       # any reload failure
    "GatehouseTargetDown",               # a gatehouse scrape target down
    "GatehouseServerDown",               # a server (target) of an endpoint down
    "GatehouseRetryBudgetExhausted",     # retry budget exhausted
    "GatehouseRateLimitRedisErrors",     # rate-limit Redis errors
    "GatehouseTLSCertificateExpiringSoon",  # certificate expiring within 14 days
}


def alerts_in_rules() -> dict:
    doc = yaml.safe_load((PROM / "alerts.yml").read_text())
    return {r["alert"]: r for g in doc["groups"] for r in g["rules"] if "alert" in r}


def test_promtool_check_rules():
    out = run([tool("promtool"), "check", "rules", PROM / "alerts.yml"]).stdout
    assert "SUCCESS" in out


def test_every_spec_alert_is_defined_with_severity_and_runbook():
    rules = alerts_in_rules()
    assert SPEC_ALERTS <= set(rules), f"missing: {SPEC_ALERTS - set(rules)}"
    docs = (DEPLOY.parent / "docs" / "deployment.md").read_text()
    for name, rule in rules.items():
        assert rule["labels"]["severity"] in ("critical", "warning"), name
        assert {"summary", "description", "runbook"} <= set(rule["annotations"]), name
        assert rule["annotations"]["runbook"] == f"docs/deployment.md#{name.lower()}"
        assert f"### {name}" in docs, f"docs/deployment.md does not explain {name}"


def test_every_alert_has_a_firing_and_a_quiet_promtool_case():
    tests = yaml.safe_load((PROM / "alerts.test.yml").read_text())["tests"]
    fired, quiet = set(), set()
    for t in tests:
        for case in t.get("alert_rule_test", []):
            (fired if case["exp_alerts"] else quiet).add(case["alertname"])
    rules = set(alerts_in_rules())
    assert rules <= fired, f"no case fires {rules - fired}"
    assert rules <= quiet, f"no case where {rules - quiet} must stay quiet"


def test_promtool_unit_tests_pass():
    out = run([tool("promtool"), "test", "rules", PROM / "alerts.test.yml"]).stdout
    assert "SUCCESS" in out


def test_promtool_unit_tests_catch_a_rule_that_loses_first_errors(tmp_path):
    # The rules count the first errors of a new series (alerts.yml, "First errors"):
    # a plain increase() would miss them, and the promtool cases must notice.
    doc = yaml.safe_load((PROM / "alerts.yml").read_text())
    rec = doc["groups"][0]["rules"][0]
    assert rec["record"] == "endpoint_code:gatehouse_requests:increase5m"
    rec["expr"] = "sum by (job, endpoint, code) (increase(gatehouse_requests_total[5m]))"
    (tmp_path / "alerts.yml").write_text(yaml.safe_dump(doc, sort_keys=False))
    shutil.copy(PROM / "alerts.test.yml", tmp_path)
    cp = run([tool("promtool"), "test", "rules", tmp_path / "alerts.test.yml"], check=False)
    assert cp.returncode != 0
    assert "first errors count" in cp.stdout + cp.stderr


def test_promtool_check_config():
    out = run([tool("promtool"), "check", "config", PROM / "prometheus.yml"]).stdout
    assert "SUCCESS" in out
    cfg = yaml.safe_load((PROM / "prometheus.yml").read_text())
    assert [j["job_name"] for j in cfg["scrape_configs"]] == ["gatehouse"]


def test_amtool_check_config():
    out = run([tool("amtool"), "check-config", PROM / "alertmanager.yml"]).stdout
    assert "SUCCESS" in out


def test_alertmanager_routes_critical_to_pager_and_warning_to_chat():
    amtool = tool("amtool")
    cfg = f"--config.file={PROM / 'alertmanager.yml'}"
    for labels, receiver in ((["alertname=GatehouseCircuitBreakerOpen", "severity=critical"], "pager"),
                             (["alertname=GatehouseHighErrorRatio", "severity=warning"], "chat"),
                             (["alertname=Other"], "chat")):
        out = run([amtool, "config", "routes", "test", cfg, *labels]).stdout.strip()
        assert out == receiver, (labels, out)
    # every critical alert reaches the pager
    for name, rule in alerts_in_rules().items():
        out = run([amtool, "config", "routes", "test", cfg, f"alertname={name}",
                   f"severity={rule['labels']['severity']}"]).stdout.strip()
        assert out == ("pager" if rule["labels"]["severity"] == "critical" else "chat"), name
