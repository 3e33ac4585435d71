"""Fixtures for the end-to-end suite: the real gatehouse binary, fake upstreams on
port 0, and a test PKI.  Run with: /usr/bin/python3 -m pytest tests/e2e -q
The binary is $GATEHOUSE_BIN, else <repo>/build/gatehouse."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gh_gateway import Gateway, gatehouse_bin  # noqa: E402
from gh_tls import make_pki  # noqa: E402
from gh_upstream import Upstream  # noqa: E402


def pytest_sessionstart(session):
    # A missing binary is a failure, not a reason to skip: a suite that skips everything
    # would pass CI without testing anything.
    if not os.access(gatehouse_bin(), os.X_OK):
        raise pytest.UsageError(f"gatehouse binary not found at {gatehouse_bin()}; run make build")


@pytest.fixture
def start_gateway(tmp_path):
    """Factory: start_gateway(config_dict_or_text, args=(), env=None, style="run",
    client_tls=None) (client_tls: an ssl.SSLContext when the config has `tls`).

    Waits for GET /readyz == 200. At teardown each gateway still running gets SIGTERM
    and must exit 0 within the deadline."""
    gateways = []

    def start(config, args=(), env=None, style="run", wait=True, client_tls=None):
        gw = Gateway(config, tmp_path / f"gw{len(gateways)}", args=args, env=env, style=style,
                     client_tls=client_tls)
        gateways.append(gw)
        return gw.start(wait=wait)

    yield start
    problems = []
    for gw in gateways:
        if gw.proc is None:
            continue
        if gw.proc.poll() is not None:
            gw._close_files()
            continue  # the test stopped it and checked what it wanted
        try:
            rc = gw.stop()
        except AssertionError as e:
            problems.append(str(e))
            continue
        if rc != 0:
            problems.append(f"gatehouse exited {rc} after SIGTERM\nlog:\n{gw.log_text()}")
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)


@pytest.fixture
def make_upstream():
    """Factory: make_upstream(handler=None, **kw) -> Upstream (closed at teardown)."""
    ups = []

    def make(handler=None, **kw):
        u = Upstream(handler, **kw)
        ups.append(u)
        return u

    yield make
    for u in ups:
        u.close()


@pytest.fixture
def upstream(make_upstream):
    """One echo upstream."""
    return make_upstream()


@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))
