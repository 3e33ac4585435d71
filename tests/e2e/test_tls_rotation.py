"""Certificate rotation without a restart (SPEC 12): reload by API and SIGHUP, and
`watch: true` on the certificate files (in-place writes, a Kubernetes Secret's `..data`
symlink swap). New handshakes see the new certificate, established connections keep
working, a broken certificate fails the reload with 422 and the old one keeps serving."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from gh_gateway import endpoint
from gh_raw import RawConn, build_request
from gh_tls import ListenerCA, peer_serial

RELOAD = "/endpoints/reload"


@pytest.fixture(scope="module")
def ca():
    return ListenerCA()


def config(upstream, cert, key, watch=False) -> dict:
    return {"watch": watch, "tls": {"cert_file": str(cert), "key_file": str(key)},
            "endpoints": [endpoint(upstream.url(), name="e")]}


def serial_now(gw, ctx) -> int:
    with RawConn(gw.port, tls=ctx) as c:
        assert c.request(build_request("GET", "/e/x")).status == 200
        return peer_serial(c.sock)


def wait_serial(gw, ctx, serial, timeout=10.0) -> None:
    deadline = time.monotonic() + timeout
    seen = None
    while time.monotonic() < deadline:
        seen = serial_now(gw, ctx)
        if seen == serial:
            return
        time.sleep(0.05)
    raise AssertionError(f"new handshakes still see serial {seen}, not {serial}\n{gw.log_text()}")


def position_of(config_text: str, key: str) -> tuple:
    """Line and column (1-based) of the value of the first `key:` in the YAML."""
    for n, line in enumerate(config_text.splitlines(), 1):
        i = line.find(key + ":")
        if i >= 0:
            return n, i + len(key) + 2 + 1
    raise AssertionError(key)


def test_reload_serves_new_handshakes_while_an_old_connection_keeps_working(start_gateway,
                                                                             upstream, ca,
                                                                             tmp_path):
    a, b = ca.issue(), ca.issue()
    cert, key = a.write(tmp_path, "server")
    ctx = ca.client_context()
    gw = start_gateway(config(upstream, cert, key), args=["--insecure-admin"], client_tls=ctx)
    old = gw.connect()
    assert old.request(build_request("GET", "/e/1", close=False)).status == 200
    assert peer_serial(old.sock) == a.serial

    b.write(tmp_path, "server")  # same files, new contents: a change by itself
    r = gw.request("POST", RELOAD)
    assert r.status == 200, r
    assert r.json()["result"] == "applied" and r.json()["config_version"] == 2, r.json()
    assert serial_now(gw, ctx) == b.serial
    # The connection made before the reload goes on with its certificate.
    assert old.request(build_request("GET", "/e/2", close=False)).status == 200
    assert peer_serial(old.sock) == a.serial
    old.close()
    # Nothing changed since: unchanged, same version.
    r = gw.request("POST", RELOAD)
    assert r.json()["result"] == "unchanged" and r.json()["config_version"] == 2, r.json()


def test_broken_certificate_fails_the_reload_with_its_position_and_the_old_one_serves(
        start_gateway, upstream, ca, tmp_path):
    a = ca.issue()
    cert, key = a.write(tmp_path, "server")
    ctx = ca.client_context()
    gw = start_gateway(config(upstream, cert, key), args=["--insecure-admin"], client_tls=ctx)
    cert.write_text("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n")
    r = gw.request("POST", RELOAD)
    assert r.status == 422, r
    doc = r.json()
    assert doc["code"] == "invalid_config"
    line, column = position_of(gw.config_text, "cert_file")
    assert {"path": "tls.cert_file", "line": line, "column": column} == {
        k: doc["errors"][0][k] for k in ("path", "line", "column")}, doc
    assert str(cert) in doc["errors"][0]["message"] and "holds no PEM certificate" in doc["errors"][0]["message"]
    assert serial_now(gw, ctx) == a.serial
    # A key that belongs to another certificate: refused at key_file.
    other = ca.issue()
    cert.write_bytes(a.cert_pem)
    key.write_bytes(other.key_pem)
    r = gw.request("POST", RELOAD)
    assert r.status == 422, r
    line, column = position_of(gw.config_text, "key_file")
    err = r.json()["errors"][0]
    assert (err["path"], err["line"], err["column"]) == ("tls.key_file", line, column), err
    assert "does not match the certificate" in err["message"]
    assert serial_now(gw, ctx) == a.serial
    text = gw.request("GET", "/metrics").text
    assert 'gatehouse_config_reloads_total{result="failure"} 2' in text


def test_rotation_under_a_client_loop_fails_no_request(start_gateway, upstream, ca, tmp_path):
    leaves = [ca.issue() for _ in range(4)]
    cert, key = leaves[0].write(tmp_path, "server")
    ctx = ca.client_context()
    gw = start_gateway(config(upstream, cert, key), client_tls=ctx)
    stop = threading.Event()
    failures, served, seen = [], [0], set()

    def loop():
        while not stop.is_set():
            try:
                with RawConn(gw.port, tls=ctx) as c:
                    r = c.request(build_request("GET", "/e/x"))
                    seen.add(peer_serial(c.sock))
                    if r.status != 200:
                        failures.append(r)
                served[0] += 1
            except Exception as e:  # noqa: BLE001 - every failure counts
                failures.append(e)

    def met(leaf):
        # The loop's own connections meet this certificate before the next rotation (on
        # a busy machine they may not have made one yet).
        deadline = time.monotonic() + 10
        while leaf.serial not in seen and time.monotonic() < deadline:
            time.sleep(0.02)

    threads = [threading.Thread(target=loop) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        met(leaves[0])
        for leaf in leaves[1:]:
            # Written the way cert-manager does not, but an operator might: one file,
            # then the other, then SIGHUP.
            tmp_c, tmp_k = leaf.write(tmp_path / "next", "server")
            os.replace(tmp_k, key)
            os.replace(tmp_c, cert)
            gw.signal(signal.SIGHUP)
            wait_serial(gw, ctx, leaf.serial)
            met(leaf)
    finally:
        stop.set()
        for t in threads:
            t.join(10)
    assert failures == [], failures[:3]
    assert served[0] > 20
    assert {leaf.serial for leaf in leaves} <= seen


def secret_dir(root, leaf, version):
    """A Kubernetes Secret volume: tls.crt -> ..data/tls.crt, ..data -> ..<version>."""
    d = root / f"..{version}"
    leaf.write(d, "tls")
    tmp = root / "..data_tmp"
    os.symlink(f"..{version}", tmp)
    os.replace(tmp, root / "..data")  # the kubelet's atomic swap
    for name in ("tls.crt", "tls.key"):
        link = root / name
        if not link.is_symlink():
            os.symlink(f"..data/{name}", link)


def test_watch_follows_a_secret_symlink_swap_and_an_in_place_write(start_gateway, upstream, ca,
                                                                  tmp_path):
    a, b, c = ca.issue(), ca.issue(), ca.issue()
    secret = tmp_path / "secret"
    secret.mkdir()
    secret_dir(secret, a, "2026_01_01")
    ctx = ca.client_context()
    gw = start_gateway(config(upstream, secret / "tls.crt", secret / "tls.key", watch=True),
                       client_tls=ctx)
    assert serial_now(gw, ctx) == a.serial
    kept = gw.connect()
    assert kept.request(build_request("GET", "/e/1", close=False)).status == 200

    secret_dir(secret, b, "2026_02_01")  # the config file itself is untouched
    wait_serial(gw, ctx, b.serial)
    assert kept.request(build_request("GET", "/e/2", close=False)).status == 200
    assert peer_serial(kept.sock) == a.serial
    kept.close()

    # In place, into the files the links point at now.
    real = secret / "..2026_02_01"
    (real / "tls.key").write_bytes(c.key_pem)
    (real / "tls.crt").write_bytes(c.cert_pem)
    wait_serial(gw, ctx, c.serial)
    assert "config reloaded" in gw.log_text()
