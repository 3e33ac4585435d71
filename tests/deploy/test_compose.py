"""deploy/docker-compose.yml checked with Debian's docker-compose (`config`), and the
gatehouse configs the image and the stack ship checked with `gatehouse check`. The stack
itself is brought up for real by deploy/test-compose.sh (make test-image)."""

from __future__ import annotations

import os

import yaml

from gh_deploy import DEPLOY, REPO, run, tool

SERVICES = {"gatehouse", "upstream-a", "upstream-b", "alert-sink", "prometheus", "alertmanager", "grafana"}


def compose_config() -> dict:
    out = run([tool("docker-compose"), "-f", DEPLOY / "docker-compose.yml", "config"],
              env={**os.environ, "DOCKER_HOST": "unix:///nonexistent"}).stdout
    return yaml.safe_load(out)


def test_compose_config_has_the_stack():
    cfg = compose_config()
    assert set(cfg["services"]) == SERVICES
    gw = cfg["services"]["gatehouse"]
    assert any(v["target"] == "/etc/gatehouse/gatehouse.yaml" if isinstance(v, dict)
               else v.endswith(":/etc/gatehouse/gatehouse.yaml:ro") for v in gw["volumes"])
    assert gw["stop_signal"] == "SIGTERM"
    prom = cfg["services"]["prometheus"]
    mounted = " ".join(str(v) for v in prom["volumes"])
    assert "alerts.yml" in mounted and "prometheus.yml" in mounted
    graf = " ".join(str(v) for v in cfg["services"]["grafana"]["volumes"])
    assert "provisioning" in graf and "dashboards" in graf
    # every published port is on loopback only
    for name, svc in cfg["services"].items():
        for p in svc.get("ports", []):
            host_ip = p.get("host_ip") if isinstance(p, dict) else str(p).split(":")[0]
            assert host_ip == "127.0.0.1", (name, p)


def test_shipped_gatehouse_configs_are_valid():
    gatehouse = os.environ.get("GATEHOUSE_BIN") or str(REPO / "build" / "gatehouse")
    for path in (DEPLOY / "compose" / "gatehouse.yaml", DEPLOY / "image" / "gatehouse.yaml"):
        cp = run([gatehouse, "check", "-c", path], check=False)
        assert cp.returncode == 0, cp.stdout + cp.stderr
