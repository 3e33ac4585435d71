"""The README's tour as a newcomer runs it: scripts/run-check.sh (`make run-check`) runs
every command line of README.md's tour blocks against the demo on free ports and
asserts each answer, the breaker and load-balancing sequences included, then presses
Ctrl-C on `make run` under a terminal. Here so that CI runs it too."""

import os
import subprocess

from gh_gateway import REPO, gatehouse_bin


def test_readme_tour_runs_as_printed_and_ctrl_c_on_make_run_exits_0():
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    env["GATEHOUSE_BIN"] = gatehouse_bin()
    p = subprocess.run(["bash", str(REPO / "scripts" / "run-check.sh")], capture_output=True,
                       text=True, timeout=300, env=env, stdin=subprocess.DEVNULL)
    report = p.stdout + p.stderr
    assert p.returncode == 0, report
    assert "run-check: all checks passed" in p.stdout, report
    assert "FAIL" not in p.stdout, report
    # The breaker part really ran: the upstream's own 503, then the breaker's.
    assert "curl -X POST localhost:" in p.stdout and "/_demo/fail -> 200" in p.stdout, report
    # The load-balancing part: the spread, the failing server's requests retried, the
    # server out of rotation, then back.
    assert p.stdout.count("/users/v2/[1-4]' -> 200") == 4, report
    assert "/endpoints/stats/users@v2 -> 200" in p.stdout, report
    assert "interrupt-check: Ctrl-C on" in p.stdout, report
