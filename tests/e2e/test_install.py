"""`make install` (CMake install rules, PREFIX and DESTDIR) and the systemd unit in
deploy/systemd/: the staged tree, the installed binary on the installed example config,
the unit's directives, and `systemd-analyze verify` on the installed unit."""

import os
import re
import secrets
import shutil
import subprocess
from pathlib import Path

import pytest

from gh_gateway import REPO, gatehouse_bin

UNIT = REPO / "deploy" / "systemd" / "gatehouse.service"


def build_dir_and_type():
    """The build folder of the binary under test, and the build type it was configured
    with: `make install` reconfigures with BUILD_TYPE, which must not change it."""
    build = Path(gatehouse_bin()).resolve().parent
    cache = (build / "CMakeCache.txt").read_text()
    m = re.search(r"^CMAKE_BUILD_TYPE:\w+=(\S*)$", cache, re.M)
    return build, (m.group(1) if m else "Release")


def make_install(prefix, destdir=None):
    build, build_type = build_dir_and_type()
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    args = ["make", "--no-print-directory", "-C", str(REPO), "install",
            f"BUILD_DIR={build}", f"BUILD_TYPE={build_type}", f"PREFIX={prefix}"]
    if destdir is not None:
        args.append(f"DESTDIR={destdir}")
    p = subprocess.run(args, capture_output=True, text=True, timeout=600, env=env,
                       stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p.stdout + p.stderr
    return p


def unit_directives(text):
    """{(section, key): [values]} of a systemd unit file, comments and blank lines skipped."""
    out, section = {}, None
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        out.setdefault((section, key.strip()), []).append(value.strip())
    return out


@pytest.fixture(scope="module")
def staged(tmp_path_factory):
    root = tmp_path_factory.mktemp("stage")
    make_install("/usr", destdir=root)
    return root


def test_make_install_stages_binary_config_docs_and_unit_under_destdir(staged):
    files = sorted(str(p.relative_to(staged)) for p in staged.rglob("*") if p.is_file())
    for want in ["usr/bin/gatehouse",
                 "usr/share/doc/gatehouse/README.md",
                 "usr/share/doc/gatehouse/operations.md",
                 "usr/share/doc/gatehouse/configuration.md",
                 "usr/share/doc/gatehouse/examples/gatehouse.yaml",
                 "usr/lib/systemd/system/gatehouse.service",
                 "usr/lib/sysusers.d/gatehouse.conf"]:
        assert want in files, files
    assert all(f.startswith("usr/") for f in files), files
    assert os.access(staged / "usr/bin/gatehouse", os.X_OK)

    unit = unit_directives((staged / "usr/lib/systemd/system/gatehouse.service").read_text())
    # Paths follow PREFIX, never DESTDIR (the staging root is not where it will run).
    assert unit[("Service", "ExecStart")] == ["/usr/bin/gatehouse run -c /etc/gatehouse/gatehouse.yaml"]
    assert unit[("Service", "ExecReload")][0] == "/usr/bin/gatehouse check -c /etc/gatehouse/gatehouse.yaml"
    assert str(staged) not in (staged / "usr/lib/systemd/system/gatehouse.service").read_text()
    assert "u gatehouse " in (staged / "usr/lib/sysusers.d/gatehouse.conf").read_text()


def test_installed_binary_runs_version_and_checks_the_installed_example(staged):
    binary = staged / "usr/bin/gatehouse"
    p = subprocess.run([binary, "version"], capture_output=True, text=True, timeout=15)
    assert p.returncode == 0 and re.match(r"gatehouse \d+\.\d+\.\d+", p.stdout), p.stdout + p.stderr

    example = staged / "usr/share/doc/gatehouse/examples/gatehouse.yaml"
    env = dict(os.environ, GATEHOUSE_JWT_SECRET=secrets.token_hex(32))
    p = subprocess.run([binary, "check", "-c", example], capture_output=True, text=True,
                       timeout=15, env=env)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "ok" in p.stdout

    env.pop("GATEHOUSE_JWT_SECRET")   # the check is real: without its key the file is refused
    p = subprocess.run([binary, "check", "-c", example], capture_output=True, text=True,
                       timeout=15, env=env)
    assert p.returncode == 1, p.stdout + p.stderr


def test_unit_has_reload_drain_user_and_hardening():
    unit = unit_directives(UNIT.read_text())
    s = lambda key: unit.get(("Service", key), [])  # noqa: E731
    assert s("Type") == ["simple"]
    assert s("ExecStart") == ["/usr/local/bin/gatehouse run -c /etc/gatehouse/gatehouse.yaml"]
    assert s("ExecReload")[-1] == "/bin/kill -HUP $MAINPID"
    assert s("KillSignal") == ["SIGTERM"]
    # Stopping must outlast the drain: shutdown_grace defaults to 15s.
    stop = re.fullmatch(r"(\d+)s?", s("TimeoutStopSec")[0])
    assert stop and int(stop.group(1)) > 15, s("TimeoutStopSec")
    assert s("User") == ["gatehouse"] and s("Group") == ["gatehouse"]
    for key, value in [("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"),
                       ("ProtectHome", "yes"), ("PrivateTmp", "yes"), ("PrivateDevices", "yes"),
                       ("CapabilityBoundingSet", "CAP_NET_BIND_SERVICE"),
                       ("AmbientCapabilities", "CAP_NET_BIND_SERVICE"),
                       ("RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX")]:
        assert s(key) == [value], (key, s(key))
    assert "@system-service" in s("SystemCallFilter")
    assert int(s("LimitNOFILE")[0]) >= 10000          # limits.max_connections' default
    assert unit[("Install", "WantedBy")] == ["multi-user.target"]


def test_systemd_analyze_verifies_the_installed_unit(tmp_path):
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze missing: scripts/install-deps.sh installs systemd"
    # Installed without DESTDIR, so the unit's ExecStart names a binary that exists.
    make_install(tmp_path / "prefix")
    unit = tmp_path / "prefix/lib/systemd/system/gatehouse.service"
    assert f"ExecStart={tmp_path}/prefix/bin/gatehouse run" in unit.read_text()
    p = subprocess.run([analyze, "verify", "--man=no", unit], capture_output=True, text=True,
                       timeout=60)
    # Unknown keys and bad values are only warnings (exit 0): any output is a failure.
    assert p.returncode == 0 and not (p.stdout + p.stderr).strip(), p.stdout + p.stderr

    # systemd's own hardening score (0 best, 10 worst): 1.5 today; an option dropped by
    # mistake pushes it over 2.0.
    p = subprocess.run([analyze, "security", "--offline=yes", "--threshold=20", unit],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
