"""deploy/k8s: kustomize base and overlays rendered with `kubectl kustomize` (offline),
every object checked against the Kubernetes API schemas (kubernetes-models, from npm),
plus what SPEC 11 asks of the manifests."""

from __future__ import annotations

import json
import os
import re

import pytest
import yaml

from gh_deploy import DEPLOY, REPO, run, tool

K8S = DEPLOY / "k8s"
LAYERS = ["base", "overlays/production", "overlays/redis"]


def render(layer: str) -> list:
    out = run([tool("kubectl"), "kustomize", K8S / layer]).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def one(docs, kind, name=None):
    found = [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(found) == 1, f"{kind} {name}: {len(found)} found"
    return found[0]


def duration_s(text: str) -> float:
    m = re.fullmatch(r"(\d+)(ms|s|m)", text)
    assert m, text
    return int(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60}[m.group(2)]


@pytest.fixture(scope="module", params=LAYERS)
def layer(request):
    return request.param, render(request.param)


def test_every_object_matches_the_kubernetes_schema(layer):
    name, docs = layer
    node = tool("node")
    cp = run([node, DEPLOY / "tools" / "check-k8s.mjs"], input=json.dumps(docs), check=False)
    assert cp.returncode == 0, f"{name}:\n{cp.stdout}{cp.stderr}"
    assert cp.stdout.count("\nok ") + cp.stdout.startswith("ok ") == len(docs)


def test_schema_check_rejects_a_wrong_type_and_a_missing_field():
    docs = render("base")
    dep = one(docs, "Deployment")
    dep["spec"]["replicas"] = "3"
    del dep["spec"]["template"]["spec"]["containers"][0]["name"]
    cp = run([tool("node"), DEPLOY / "tools" / "check-k8s.mjs"], input=json.dumps(docs), check=False)
    assert cp.returncode == 1
    assert "spec/replicas must be integer" in cp.stdout, cp.stdout
    assert "containers/0 must have required property name" in cp.stdout, cp.stdout


def test_the_layers_hold_what_spec_11_lists(layer):
    name, docs = layer
    kinds = sorted(d["kind"] for d in docs)
    for kind in ("ConfigMap", "Deployment", "HorizontalPodAutoscaler", "PodDisruptionBudget", "Service"):
        assert kind in kinds, f"{name}: no {kind}"
    dep = one(docs, "Deployment", "gatehouse")
    assert dep["spec"]["replicas"] == 3
    hpa = one(docs, "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "gatehouse"
    assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"
    assert hpa["spec"]["minReplicas"] >= 3
    pdb = one(docs, "PodDisruptionBudget")
    assert pdb["spec"]["selector"]["matchLabels"].items() <= \
        dep["spec"]["template"]["metadata"]["labels"].items()
    svc = one(docs, "Service", "gatehouse")
    assert svc["spec"]["selector"].items() <= dep["spec"]["template"]["metadata"]["labels"].items()
    ann = dep["spec"]["template"]["metadata"]["annotations"]
    assert ann["prometheus.io/scrape"] == "true" and ann["prometheus.io/port"] == "8080"
    assert ann["prometheus.io/path"] == "/metrics"
    if name == "overlays/redis":
        one(docs, "Deployment", "gatehouse-redis")
        one(docs, "Service", "gatehouse-redis")


def test_pod_spec_probes_drain_security_resources(layer):
    name, docs = layer
    dep = one(docs, "Deployment", "gatehouse")
    pod = dep["spec"]["template"]["spec"]
    c = pod["containers"][0]
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    # preStop sleep + gatehouse's own drain (shutdown_grace) fit in the grace period
    pre = c["lifecycle"]["preStop"]["exec"]["command"]
    assert pre[0] == "/bin/sleep"
    cfg = yaml.safe_load(one(docs, "ConfigMap", "gatehouse-config")["data"]["gatehouse.yaml"])
    grace = pod["terminationGracePeriodSeconds"]
    assert int(pre[1]) < grace
    assert int(pre[1]) + duration_s(cfg["shutdown_grace"]) < grace, (pre, cfg["shutdown_grace"], grace)
    sec = pod["securityContext"]
    assert sec["runAsNonRoot"] is True and sec["runAsUser"] == 10001
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["securityContext"]["allowPrivilegeEscalation"] is False
    assert c["securityContext"]["capabilities"]["drop"] == ["ALL"]
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(c["resources"][kind]), kind
    # the config arrives as a whole directory (a subPath mount never sees updates)
    mount = next(m for m in c["volumeMounts"] if m["mountPath"] == "/etc/gatehouse")
    assert "subPath" not in mount
    vol = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    assert vol["configMap"]["name"] == "gatehouse-config"
    assert c["args"] == ["run", "-c", "/etc/gatehouse/gatehouse.yaml"]


def test_configmap_watches_and_is_not_hashed(layer):
    name, docs = layer
    cm = one(docs, "ConfigMap")
    # no name hash: an edit reaches running pods instead of rolling the Deployment
    assert cm["metadata"]["name"] == "gatehouse-config"
    cfg = yaml.safe_load(cm["data"]["gatehouse.yaml"])
    assert cfg["watch"] is True
    assert cfg["listen"] == "0.0.0.0:8080"


@pytest.mark.parametrize("layer_name", ["base", "overlays/production"])
def test_the_configmap_is_a_valid_gatehouse_config(layer_name, tmp_path):
    # (overlays/redis uses SPEC 14's redis/rate_limit keys, which the binary does not
    # parse yet; it is rendered and schema-checked above.)
    cm = one(render(layer_name), "ConfigMap")
    path = tmp_path / "gatehouse.yaml"
    path.write_text(cm["data"]["gatehouse.yaml"])
    gatehouse = os.environ.get("GATEHOUSE_BIN") or str(REPO / "build" / "gatehouse")
    cp = run([gatehouse, "check", "-c", path], check=False)
    assert cp.returncode == 0, cp.stdout + cp.stderr


def test_production_overlay_pins_the_image_in_its_namespace():
    docs = render("overlays/production")
    dep = one(docs, "Deployment")
    image = dep["spec"]["template"]["spec"]["containers"][0]["image"]
    assert re.fullmatch(r"ghcr\.io/[\w.-]+/gatehouse:[\w.-]+", image), image
    assert all(d["metadata"].get("namespace") == "gatehouse" for d in docs if d["kind"] != "Namespace")
    assert one(docs, "HorizontalPodAutoscaler")["spec"]["maxReplicas"] == 20
