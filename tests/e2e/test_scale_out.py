"""SPEC section 11, scale-out proven locally: three gatehouse replicas share one config
directory laid out the way the kubelet mounts a ConfigMap (`gatehouse.yaml ->
..data/gatehouse.yaml`, `..data -> ..<timestamp>`), with `watch: true`. The file is
replaced the way a ConfigMap update replaces it (a new timestamped directory, then an
atomic rename of the `..data` symlink). Every replica must serve the new route within
2 s, while a client loop against all three sees no failed request.

One shared file has one `listen`, so each replica runs in a network namespace of its own
(as each pod has), on the same 127.0.0.1:8080, with its own sample upstream in that
namespace: all traffic stays on each namespace's loopback. The namespace is made by
`unshare --net` for the upstream process (no /run/netns mount, nothing left behind if
the test dies), gatehouse joins it with `nsenter`, and the test's client threads enter
it with setns(2), which switches only the calling thread."""

from __future__ import annotations

import ctypes
import http.client
import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from gh_gateway import gatehouse_bin

REPO = Path(__file__).resolve().parents[2]
SAMPLE_UPSTREAM = REPO / "deploy" / "compose" / "sample_upstream.py"
REPLICAS = 3
PORT = 8080
CONVERGE_DEADLINE = 2.0
CLONE_NEWNET = 0x40000000

CONFIG = """\
listen: 127.0.0.1:8080
threads: 1
shutdown_grace: 5s
watch: true
log: {{ level: info, format: json }}
endpoints:
  - name: old
    url: http://127.0.0.1:9000/api
    health_check: false
{extra}"""
NEW_ROUTE = """\
  - name: new
    url: http://127.0.0.1:9000/v2
    health_check: false
"""

_libc = ctypes.CDLL("libc.so.6", use_errno=True)


def enter_netns(name: str) -> None:
    """Moves the calling thread (only) into the network namespace file `name`."""
    fd = os.open(name, os.O_RDONLY)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns({name})")
    finally:
        os.close(fd)


def in_netns(name: str, fn):
    """Runs fn() on a fresh thread inside namespace `name`; returns its result."""
    out = {}

    def body():
        try:
            enter_netns(name)
            out["value"] = fn()
        except BaseException as e:  # re-raised on the caller's thread
            out["error"] = e
    t = threading.Thread(target=body)
    t.start()
    t.join()
    if "error" in out:
        raise out["error"]
    return out["value"]


def get(conn_or_none, path: str, timeout: float = 2.0):
    """GET on the given keep-alive connection, or on a new one; returns (status, body)."""
    conn = conn_or_none or http.client.HTTPConnection("127.0.0.1", PORT, timeout=timeout)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        if conn_or_none is None:
            conn.close()


def write_version(cfg: Path, version: str, text: str) -> None:
    """The kubelet's AtomicWriter: a new ..<version> dir, then ..data swapped by rename."""
    d = cfg / f"..{version}"
    d.mkdir()
    (d / "gatehouse.yaml").write_text(text)
    tmp = cfg / "..data_tmp"
    os.symlink(d.name, tmp)
    old = os.readlink(cfg / "..data") if (cfg / "..data").is_symlink() else None
    os.rename(tmp, cfg / "..data")
    if not (cfg / "gatehouse.yaml").is_symlink():
        os.symlink("..data/gatehouse.yaml", cfg / "gatehouse.yaml")
    if old:
        shutil.rmtree(cfg / old)


@pytest.fixture
def replicas(tmp_path):
    if os.geteuid() != 0:
        pytest.fail("the scale-out test makes network namespaces: run it as root (CI does)")
    for tool in ("ip", "unshare", "nsenter"):
        assert shutil.which(tool), f"{tool} not found: run scripts/install-deps.sh"
    cfg = tmp_path / "config"
    cfg.mkdir()
    write_version(cfg, "2026_01_01_00_00_00.1", CONFIG.format(extra=""))
    names = []
    procs, logs = [], []
    try:
        for i in range(REPLICAS):
            up_log = open(tmp_path / f"upstream{i}.log", "wb")
            gw_log = open(tmp_path / f"gatehouse{i}.log", "wb")
            logs += [up_log, gw_log]
            # the upstream makes the namespace: lo up, then exec into the server
            up = subprocess.Popen(
                ["unshare", "--net", "--", "sh", "-c",
                 'ip link set lo up && exec /usr/bin/python3 "$0" --host 127.0.0.1 --port 9000 --name "$1"',
                 str(SAMPLE_UPSTREAM), f"replica{i}"],
                stdout=up_log, stderr=subprocess.STDOUT)
            procs.append(up)
            ns = f"/proc/{up.pid}/ns/net"
            names.append(ns)
            deadline = time.monotonic() + 10
            while b"sample upstream" not in (tmp_path / f"upstream{i}.log").read_bytes():
                assert up.poll() is None and time.monotonic() < deadline, \
                    (tmp_path / f"upstream{i}.log").read_text()
                time.sleep(0.02)
            procs.append(subprocess.Popen(
                ["nsenter", f"--net={ns}", gatehouse_bin(), "run", "-c", str(cfg / "gatehouse.yaml")],
                stdout=gw_log, stderr=subprocess.STDOUT, cwd=tmp_path))
        for i, ns in enumerate(names):
            def ready():
                end = time.monotonic() + 10
                while time.monotonic() < end:
                    try:
                        if get(None, "/readyz")[0] == 200 and get(None, "/old/x")[0] == 200:
                            return True
                    except OSError:
                        pass
                    time.sleep(0.05)
                return False
            assert in_netns(ns, ready), \
                f"replica {i} not ready:\n{(tmp_path / f'gatehouse{i}.log').read_text()}"
        yield {"cfg": cfg, "names": names, "tmp": tmp_path}
    finally:
        gateways = procs[1::2]
        for p in gateways:
            p.send_signal(signal.SIGTERM)
        rcs = []
        for p in gateways:
            try:
                rcs.append(p.wait(10))
            except subprocess.TimeoutExpired:
                p.kill()
                rcs.append("timeout")
        for p in procs[0::2]:
            p.kill()
            p.wait(5)
        for f in logs:
            f.close()
    assert rcs == [0] * REPLICAS, f"gatehouse exit codes after SIGTERM: {rcs}"


def test_configmap_swap_reaches_every_replica_without_a_failed_request(replicas):
    cfg, names = replicas["cfg"], replicas["names"]
    stop = threading.Event()
    swapped_at = {}
    results = [{"ok": 0, "failed": [], "new_at": None} for _ in names]

    def client(i: int, ns: str) -> None:
        enter_netns(ns)
        res = results[i]
        conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=2)
        end = time.monotonic() + 20   # bound, whatever happens
        while not stop.is_set() and time.monotonic() < end:
            # the old route, on a keep-alive connection, must never fail
            try:
                status, _ = get(conn, "/old/x")
            except (OSError, http.client.HTTPException) as e:
                status = repr(e)
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=2)
            if status == 200:
                res["ok"] += 1
            else:
                res["failed"].append(status)
            # the new route, on a fresh connection, until it answers
            if res["new_at"] is None and "t" in swapped_at:
                try:
                    status, body = get(None, "/new/x")
                    if status == 200:
                        assert b'"path": "/v2/x"' in body, body
                        res["new_at"] = time.monotonic()
                except (OSError, http.client.HTTPException):
                    res["failed"].append("new route connection error")
            time.sleep(0.005)
        conn.close()

    threads = [threading.Thread(target=client, args=(i, ns)) for i, ns in enumerate(names)]
    for t in threads:
        t.start()
    time.sleep(0.5)                      # traffic flowing on the old config
    # before the swap the new route is unknown everywhere
    for ns in names:
        assert in_netns(ns, lambda: get(None, "/new/x")[0]) == 404
    swapped_at["t"] = time.monotonic()
    write_version(cfg, "2026_01_01_00_05_00.2", CONFIG.format(extra=NEW_ROUTE))
    deadline = swapped_at["t"] + CONVERGE_DEADLINE
    while time.monotonic() < deadline and not all(r["new_at"] for r in results):
        time.sleep(0.01)
    time.sleep(0.5)                      # keep the loop going past the reload
    stop.set()
    for t in threads:
        t.join(10)
    for i, r in enumerate(results):
        log = (replicas["tmp"] / f"gatehouse{i}.log").read_text()
        assert r["new_at"] is not None, f"replica {i} never served /new within {CONVERGE_DEADLINE}s\n{log}"
        assert not r["failed"], f"replica {i}: failed requests {r['failed'][:5]}\n{log}"
        assert r["ok"] > 20, f"replica {i}: only {r['ok']} requests"
        assert '"msg":"config reloaded"' in log, log
        assert "config reload failed" not in log, log
    took = max(r["new_at"] for r in results) - swapped_at["t"]
    print(f"\nscale-out: {REPLICAS} replicas served the new route {took * 1000:.0f} ms after the "
          f"..data swap; {sum(r['ok'] for r in results)} requests on the old route, none failed")
    assert took < CONVERGE_DEADLINE
