"""The Grafana dashboard's shape, checked offline against Grafana's own TypeScript schema
(@grafana/schema, tsc --noEmit): the dashboard and every panel are written into a .ts
file as object literals typed Dashboard / Panel<Options, FieldConfig> of their panel type,
so a misspelt key, a wrong type or an unknown panel type fails. The queries themselves
run against a real Prometheus in tests/e2e/test_monitoring.py."""

from __future__ import annotations

import json

import pytest
import yaml

from gh_deploy import DEPLOY, NODE_BIN, run, tool

DASHBOARD = DEPLOY / "grafana" / "dashboards" / "gatehouse.json"
SCHEMA = "@grafana/schema/dist/esm/raw/composable/{0}/panelcfg/x/{1}PanelCfg_types.gen"
# Panel type id -> its schema in @grafana/schema: (folder, prefix, has a FieldConfig).
PANEL_SCHEMAS = {
    "timeseries": ("timeseries", "TimeSeries", True),
    "stat": ("stat", "Stat", False),
    "state-timeline": ("statetimeline", "StateTimeline", True),
    "table": ("table", "Table", True),
    "gauge": ("gauge", "Gauge", False),
    "bargauge": ("bargauge", "BarGauge", False),
    "text": ("text", "Text", False),
}
# What SPEC 11 asks the dashboard to show, by words that must appear in a panel title.
SPEC_PANELS = ["Request rate", "errors by type", "p50 / p95 / p99", "Endpoint up", "Server up",
               "Breakers not closed", "Breaker transitions", "Fallback", "Retries",
               "Rate-limited", "reloads", "Open connections"]


def all_panels(doc):
    for p in doc["panels"]:
        yield p
        yield from p.get("panels", [])


def typescript_check(doc) -> str:
    lines = ['import type { Dashboard, Panel, RowPanel } from "@grafana/schema";',
             # JSON holds an enum's value ("line"), TypeScript wants the enum member:
             # accept exactly the values of each string enum, everything else unchanged.
             "type Json<T> = T extends string ? `${T}` : T extends (infer U)[] ? Json<U>[]"
             " : T extends object ? { [K in keyof T]: Json<T[K]> } : T;"]
    used = sorted({p["type"] for p in all_panels(doc) if p["type"] != "row"})
    for t in used:
        if t not in PANEL_SCHEMAS:
            pytest.fail(f"unknown panel type {t!r} (known: {sorted(PANEL_SCHEMAS)})")
        folder, prefix, _ = PANEL_SCHEMAS[t]
        lines.append(f'import type * as {folder} from "{SCHEMA.format(folder, prefix)}";')
    lines.append(f"export const dashboard: Json<Dashboard> = {json.dumps(doc, indent=1)};")
    for i, p in enumerate(all_panels(doc)):
        if p["type"] == "row":
            lines.append(f"export const panel{i}: Json<RowPanel> = {json.dumps(p)};")
        else:
            ns, _, custom = PANEL_SCHEMAS[p["type"]]
            field = f"{ns}.FieldConfig" if custom else "Record<string, unknown>"
            # Panel<Options> does not type `options` itself: add the panel type's Options.
            lines.append(f"export const panel{i}: Json<Omit<Panel<{ns}.Options, {field}>, 'options'>"
                         f" & {{ options: {ns}.Options }}> = {json.dumps(p)};")
    return "\n".join(lines) + "\n"


def test_dashboard_is_valid_json_with_unique_ids_and_no_overlap():
    doc = json.loads(DASHBOARD.read_text())
    assert doc["uid"] == "gatehouse-overview" and doc["title"] == "gatehouse"
    ids = [p["id"] for p in all_panels(doc)]
    assert len(ids) == len(set(ids))
    cells = set()
    for p in all_panels(doc):
        g = p["gridPos"]
        assert 0 <= g["x"] and g["x"] + g["w"] <= 24, p["title"]
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells, f"panel {p['title']!r} overlaps another"
                cells.add((x, y))
        if p["type"] != "row":
            assert p["targets"] and all(t["expr"].strip() for t in p["targets"]), p["title"]
            assert p["datasource"]["uid"] == "${datasource}", p["title"]


def test_dashboard_has_the_spec_panels():
    titles = [p["title"] for p in all_panels(json.loads(DASHBOARD.read_text()))]
    for words in SPEC_PANELS:
        assert any(words.lower() in t.lower() for t in titles), f"no panel for {words!r}: {titles}"


def test_dashboard_matches_grafana_schema(tmp_path):
    tsc = tool("tsc")
    doc = json.loads(DASHBOARD.read_text())
    (tmp_path / "node_modules").symlink_to(NODE_BIN.parent)
    (tmp_path / "dashboard.ts").write_text(typescript_check(doc))
    (tmp_path / "tsconfig.json").write_text(json.dumps({
        "compilerOptions": {"strict": True, "noEmit": True, "module": "esnext",
                            "moduleResolution": "bundler", "target": "es2022",
                            "skipLibCheck": True, "types": []},
        "files": ["dashboard.ts"]}))
    run([tsc, "-p", tmp_path / "tsconfig.json"], timeout=180)


def test_schema_check_catches_a_misspelt_option(tmp_path):
    tsc = tool("tsc")
    doc = json.loads(DASHBOARD.read_text())
    panel = next(p for p in all_panels(doc) if p["type"] == "timeseries")
    panel["options"]["legend"]["placment"] = panel["options"]["legend"].pop("placement")
    (tmp_path / "node_modules").symlink_to(NODE_BIN.parent)
    (tmp_path / "dashboard.ts").write_text(typescript_check(doc))
    (tmp_path / "tsconfig.json").write_text(json.dumps({
        "compilerOptions": {"strict": True, "noEmit": True, "module": "esnext",
                            "moduleResolution": "bundler", "target": "es2022",
                            "skipLibCheck": True, "types": []},
        "files": ["dashboard.ts"]}))
    cp = run([tsc, "-p", tmp_path / "tsconfig.json"], timeout=180, check=False)
    assert cp.returncode != 0 and "placment" in cp.stdout, cp.stdout


def test_provisioning_points_at_the_dashboard_and_prometheus():
    prov = DEPLOY / "grafana" / "provisioning"
    ds = yaml.safe_load((prov / "datasources" / "prometheus.yml").read_text())
    assert ds["datasources"][0]["type"] == "prometheus"
    assert ds["datasources"][0]["url"] == "http://prometheus:9090"
    dash = yaml.safe_load((prov / "dashboards" / "gatehouse.yml").read_text())
    assert dash["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
