"""TLS termination on listen (SPEC 12): HTTPS through to a real upstream, versions,
ALPN, SNI over RSA and ECDSA certificates, plain HTTP on the TLS port, client
certificates, stalled handshakes, the handshake and expiry metrics, and the SPEC 4
rules over TLS. Every certificate comes from a CA made by the test. Rotation (reload,
watch) is in test_tls_rotation.py."""

from __future__ import annotations

import datetime
import hashlib
import http.client
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import threading
import time

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from gh_gateway import Gateway, endpoint, run_cli
from gh_raw import ConnectionClosed, RawConn, assert_problem, build_request
from gh_tls import ListenerCA, peer_serial
from gh_upstream import Response, echo_handler

BIG = 20 * 1024 * 1024


@pytest.fixture(scope="module")
def ca():
    return ListenerCA()


@pytest.fixture
def server_pair(ca, tmp_path):
    leaf = ca.issue()
    return (leaf,) + leaf.write(tmp_path / "certs", "server")


def tls_config(upstream, cert, key, limits=None, **tls) -> dict:
    cfg = {"tls": {"cert_file": str(cert), "key_file": str(key), **tls},
           "endpoints": [endpoint(upstream.url(), name="e")]}
    if limits:
        cfg["limits"] = limits
    return cfg


def headers_of(resp) -> dict:
    return {k.lower(): v for k, v in resp.json()["headers"]}


def metric(gw, line_start: str) -> float:
    text = gw.get("/metrics").text
    for line in text.splitlines():
        if line.startswith(line_start + " "):
            return float(line.split()[-1])
    raise AssertionError(f"no {line_start} in /metrics:\n{text}")


def s_client(port: int, *args, ca_file=None, request: bool = False) -> str:
    """openssl s_client's output. `request`: sends a GET and reads until the gateway
    closes (so TLS 1.3 session tickets, sent after the handshake, have arrived)."""
    cmd = ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "localhost"]
    if ca_file:
        cmd += ["-CAfile", str(ca_file)]
    data = b""
    if request:
        cmd.append("-ign_eof")
        data = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    r = subprocess.run(cmd + list(args), input=data, capture_output=True, timeout=15)
    return (r.stdout + r.stderr).decode("latin-1")


# -- HTTPS through to the upstream ---------------------------------------------------------

def test_https_get_post_chunked_download_and_pipelining(start_gateway, make_upstream, ca,
                                                       server_pair, tmp_path):
    big = os.urandom(BIG)

    def handler(req, conn):
        if req.path == "/big":
            return Response(200, [("Content-Type", "application/octet-stream")], big)
        return echo_handler(req, conn)

    up = make_upstream(handler)
    _, cert, key = server_pair
    ca_file = ca.write(tmp_path / "ca.pem")
    gw = start_gateway(tls_config(up, cert, key), client_tls=ca.client_context())

    # curl over TLS 1.2 and 1.3, the certificate checked against the test CA.
    for flags, version in ((["--tlsv1.2", "--tls-max", "1.2"], "1.2"), (["--tlsv1.3"], "1.3")):
        out = subprocess.run(["curl", "-sS", "--cacert", str(ca_file), "-w", "\n%{http_code}"] + flags
                             + [f"https://localhost:{gw.port}/e/get?x=1"],
                             capture_output=True, timeout=20)
        assert out.returncode == 0, out.stderr
        body, _, code = out.stdout.rpartition(b"\n")
        assert code == b"200", out
        doc = json.loads(body)
        assert doc["target"] == "/get?x=1"
        hs = {k.lower(): v for k, v in doc["headers"]}
        assert hs["x-forwarded-proto"] == "https", version

    # Python's http.client: a POST body through to the upstream.
    conn = http.client.HTTPSConnection("127.0.0.1", gw.port, context=ca.client_context(), timeout=10)
    conn.request("POST", "/e/post", body=b"hello over tls", headers={"Content-Type": "text/plain"})
    r = conn.getresponse()
    doc = json.loads(r.read())
    assert r.status == 200
    assert doc["method"] == "POST" and doc["body"] == "hello over tls"
    conn.close()

    # A chunked upload in pieces, streamed through.
    pieces = [os.urandom(100_000) for _ in range(5)]
    with gw.connect(timeout=10) as c:
        c.send(b"POST /e/upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
               b"Connection: close\r\n\r\n")
        for p in pieces:
            c.send(b"%x\r\n" % len(p) + p + b"\r\n")
            time.sleep(0.01)
        c.send(b"0\r\n\r\n")
        r = c.read_response()
    assert r.status == 200, r
    assert r.json()["body_len"] == sum(map(len, pieces))
    assert r.json()["body_sha256"] == hashlib.sha256(b"".join(pieces)).hexdigest()

    # 20 MiB down, every byte.
    with gw.connect(timeout=20) as c:
        r = c.request(build_request("GET", "/e/big"))
    assert r.status == 200 and r.complete
    assert len(r.body) == BIG and hashlib.sha256(r.body).digest() == hashlib.sha256(big).digest()

    # Pipelining: three requests in one write, three answers in order.
    with gw.connect() as c:
        c.send(build_request("GET", "/e/1", close=False) + build_request("GET", "/e/2", close=False)
               + build_request("GET", "/e/3"))
        paths = [c.read_response().json()["path"] for _ in range(3)]
    assert paths == ["/1", "/2", "/3"]
    assert metric(gw, 'gatehouse_tls_handshakes_total{result="ok"}') >= 6


# -- versions, ALPN, resumption --------------------------------------------------------------

def test_tls_1_1_is_refused_and_1_2_and_1_3_are_served(start_gateway, upstream, ca, server_pair,
                                                       tmp_path):
    _, cert, key = server_pair
    gw = start_gateway(tls_config(upstream, cert, key), client_tls=ca.client_context())
    for v, name in ((ssl.TLSVersion.TLSv1_2, "TLSv1.2"), (ssl.TLSVersion.TLSv1_3, "TLSv1.3")):
        with RawConn(gw.port, tls=ca.client_context(minimum=v, maximum=v)) as c:
            assert c.sock.version() == name
            assert c.request(build_request("GET", "/e/x")).status == 200
    out = s_client(gw.port, "-tls1_1", ca_file=ca.write(tmp_path / "ca.pem"))
    assert "alert protocol version" in out, out
    assert "Cipher is (NONE)" in out, out


def test_min_version_1_3_refuses_a_1_2_only_client(start_gateway, upstream, ca, server_pair):
    _, cert, key = server_pair
    gw = start_gateway(tls_config(upstream, cert, key, min_version="1.3"),
                       client_tls=ca.client_context())
    with pytest.raises(ssl.SSLError):
        RawConn(gw.port, tls=ca.client_context(maximum=ssl.TLSVersion.TLSv1_2))
    with RawConn(gw.port, tls=ca.client_context()) as c:
        assert c.sock.version() == "TLSv1.3"
        assert c.request(build_request("GET", "/e/x")).status == 200


def test_alpn_without_http11_gets_no_application_protocol(start_gateway, upstream, ca,
                                                          server_pair, tmp_path):
    _, cert, key = server_pair
    gw = start_gateway(tls_config(upstream, cert, key), client_tls=ca.client_context())
    with pytest.raises(ssl.SSLError) as e:
        RawConn(gw.port, tls=ca.client_context(alpn=["h2"]))
    assert "alert no application protocol" in str(e.value), e.value
    out = s_client(gw.port, "-alpn", "h2", ca_file=ca.write(tmp_path / "ca.pem"))
    assert "no application protocol" in out and "alert number 120" in out, out
    with RawConn(gw.port, tls=ca.client_context(alpn=["h2", "http/1.1"])) as c:
        assert c.sock.selected_alpn_protocol() == "http/1.1"
        assert c.request(build_request("GET", "/e/x")).status == 200


def test_sessions_resume_by_ticket_and_renegotiation_is_refused(start_gateway, upstream, ca,
                                                              server_pair, tmp_path):
    _, cert, key = server_pair
    gw = start_gateway(tls_config(upstream, cert, key), client_tls=ca.client_context())
    sess = tmp_path / "session.pem"
    ca_file = ca.write(tmp_path / "ca.pem")
    for v in ("-tls1_2", "-tls1_3"):
        first = s_client(gw.port, v, "-sess_out", str(sess), ca_file=ca_file, request=True)
        assert "New, TLSv1." in first and '{"status":"ok"}' in first, first
        renewed = tmp_path / f"renewed{v}.pem"
        again = s_client(gw.port, v, "-sess_in", str(sess), "-sess_out", str(renewed),
                         ca_file=ca_file, request=True)
        assert "Reused, TLSv1." in again and '{"status":"ok"}' in again, again
        if v == "-tls1_3":
            # A TLS 1.3 ticket is for one use (RFC 8446 C.4): a resumed handshake gets a
            # new one, and that one resumes in turn.
            assert "Post-Handshake New Session Ticket arrived" in again, again
            third = s_client(gw.port, v, "-sess_in", str(renewed), ca_file=ca_file,
                             request=True)
            assert "Reused, TLSv1.3" in third and '{"status":"ok"}' in third, third
    # TLS 1.2 renegotiation: s_client's "R" command asks for it; the server refuses.
    cmd = ["openssl", "s_client", "-connect", f"127.0.0.1:{gw.port}", "-tls1_2", "-CAfile",
           str(ca_file)]
    r = subprocess.run(cmd, input=b"R\n", capture_output=True, timeout=15)
    out = (r.stdout + r.stderr).decode("latin-1")
    assert "RENEGOTIATING" in out, out
    assert "no renegotiation" in out, out
    assert "Compression: NONE" in out, out


# -- SNI -----------------------------------------------------------------------------------

def test_sni_picks_the_certificate_rsa_or_ecdsa_and_the_default_otherwise(start_gateway, upstream,
                                                                        ca, tmp_path):
    default = ca.issue()
    api = ca.issue(dns=("api.test",), ips=(), key_type="rsa", cn="api")
    apps = ca.issue(dns=("*.apps.test",), ips=(), key_type="ec", cn="apps")
    d = tmp_path / "certs"
    dc, dk = default.write(d, "default")
    ac, ak = api.write(d, "api")
    pc, pk = apps.write(d, "apps")
    gw = start_gateway(tls_config(upstream, dc, dk, certificates=[
        {"cert_file": str(ac), "key_file": str(ak)}, {"cert_file": str(pc), "key_file": str(pk)}]),
        client_tls=ca.client_context())
    loose = ca.client_context()
    loose.check_hostname = False  # the default certificate names neither; the CA still checks it

    def served(name):
        with RawConn(gw.port, tls=loose, server_hostname=name) as c:
            assert c.request(build_request("GET", "/e/x")).status == 200
            return peer_serial(c.sock)

    assert served("api.test") == api.serial
    assert served("API.Test") == api.serial
    assert served("x.apps.test") == apps.serial
    assert served("a.b.apps.test") == default.serial  # one label only
    assert served("apps.test") == default.serial
    assert served("nothing.test") == default.serial
    assert served(None) == default.serial
    # With names checked, as a browser would.
    with RawConn(gw.port, tls=ca.client_context(), server_hostname="api.test") as c:
        assert isinstance(c.sock.getpeercert(binary_form=False), dict)
    from cryptography import x509 as _x509
    for name, kind in (("api.test", rsa.RSAPublicKey), ("z.apps.test", ec.EllipticCurvePublicKey)):
        with RawConn(gw.port, tls=loose, server_hostname=name) as c:
            key = _x509.load_der_x509_certificate(c.sock.getpeercert(True)).public_key()
            assert isinstance(key, kind), name


# -- plain HTTP on the TLS port ------------------------------------------------------------

def test_plain_http_to_the_tls_port_is_400_and_closed(start_gateway, upstream, ca, server_pair):
    _, cert, key = server_pair
    gw = start_gateway(tls_config(upstream, cert, key), client_tls=ca.client_context())
    with RawConn(gw.port) as c:  # no TLS
        c.send(build_request("GET", "/e/x", close=False))
        r = c.read_response()
        doc = assert_problem(r, 400, "bad_request")
        assert doc["detail"] == "plain HTTP request sent to a TLS listener"
        assert r.header("Connection") == "close"
        assert c.wait_closed()
    assert upstream.snapshot() == []


# -- client certificates ---------------------------------------------------------------------

def test_mtls_subject_forwarded_forgery_stripped_and_strangers_refused(start_gateway, upstream, ca,
                                                                      server_pair, tmp_path):
    _, cert, key = server_pair
    clients = ListenerCA("gatehouse e2e clients CA")
    client = clients.issue(dns=(), ips=(), client=True, cn="client one", org="Example, Inc.")
    stranger = ListenerCA("someone else").issue(dns=(), ips=(), client=True, cn="stranger")
    gw = start_gateway(tls_config(upstream, cert, key,
                                  client_ca_file=str(clients.write(tmp_path / "clients.pem"))),
                       client_tls=ca.client_context(cert=client, tmpdir=tmp_path))
    r = gw.get("/e/x", headers=[("X-Client-Cert-Subject", "CN=forged"),
                                ("x-client-cert-subject", "CN=forged again")])
    assert r.status == 200, r
    subjects = [v for k, v in r.json()["headers"] if k.lower() == "x-client-cert-subject"]
    assert subjects == [client.cert.subject.rfc4514_string()], subjects
    assert subjects[0] == "O=Example\\, Inc.,CN=client one"

    failed_before = metric(gw, 'gatehouse_tls_handshakes_total{result="failed"}')
    for ctx in (ca.client_context(), ca.client_context(cert=stranger, tmpdir=tmp_path)):
        # TLS 1.3 clients finish their side first: the refusal shows on the first read.
        with pytest.raises((ssl.SSLError, ConnectionClosed, OSError)):
            with RawConn(gw.port, tls=ctx) as c:
                c.request(build_request("GET", "/e/x"))
    assert len(upstream.snapshot()) == 1
    deadline = time.monotonic() + 5
    while metric(gw, 'gatehouse_tls_handshakes_total{result="failed"}') < failed_before + 2:
        assert time.monotonic() < deadline, "refused handshakes not counted"
        time.sleep(0.05)


def test_the_chain_sent_is_the_files_never_completed_from_the_client_cas(start_gateway, upstream,
                                                                         ca, server_pair,
                                                                         tmp_path):
    """The certificate file holds the leaf alone, and its issuer is also the client CA
    (in the gateway's trust store): the client still receives the leaf alone."""
    _, cert, key = server_pair
    client = ca.issue(dns=(), ips=(), client=True, cn="client")
    ccert, ckey = client.write(tmp_path / "client", "client")
    ca_file = ca.write(tmp_path / "ca.pem")
    gw = start_gateway(tls_config(upstream, cert, key, client_ca_file=str(ca_file)),
                       client_tls=ca.client_context(cert=client, tmpdir=tmp_path))
    out = s_client(gw.port, "-showcerts", "-cert", str(ccert), "-key", str(ckey),
                   ca_file=ca_file, request=True)
    assert '{"status":"ok"}' in out, out
    assert "Verify return code: 0 (ok)" in out, out
    assert out.count("-----BEGIN CERTIFICATE-----") == 1, out


def test_client_cert_subject_sent_by_a_client_is_stripped_on_a_plain_listener(start_gateway,
                                                                             upstream):
    gw = start_gateway({"endpoints": [endpoint(upstream.url(), name="e")]})
    r = gw.get("/e/x", headers=[("X-Client-Cert-Subject", "CN=admin")])
    assert r.status == 200
    assert "x-client-cert-subject" not in headers_of(r)
    assert headers_of(r)["x-forwarded-proto"] == "http"


# -- stalled handshakes --------------------------------------------------------------------

def test_500_stalled_handshakes_cost_their_sockets_only(start_gateway, upstream, ca, server_pair):
    _, cert, key = server_pair
    gw = start_gateway(tls_config(upstream, cert, key, limits={"header_timeout": "1500ms"}),
                       client_tls=ca.client_context())
    stalled = []
    try:
        for i in range(500):
            s = socket.create_connection(("127.0.0.1", gw.port), timeout=5)
            if i % 5 == 0:
                s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")  # a ClientHello begun
            stalled.append(s)
        # A real client is served at once meanwhile.
        t0 = time.monotonic()
        with RawConn(gw.port, tls=ca.client_context()) as c:
            assert c.request(build_request("GET", "/e/x")).status == 200
        assert time.monotonic() - t0 < 1.0
        # Each stalled one is closed by header_timeout.
        deadline = time.monotonic() + 6
        for s in stalled:
            s.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                assert s.recv(4096) is not None  # b"" (FIN) or an alert then FIN
                while s.recv(4096):
                    pass
            except ConnectionResetError:
                pass
    finally:
        for s in stalled:
            s.close()
    assert metric(gw, 'gatehouse_tls_handshakes_total{result="failed"}') >= 500
    assert metric(gw, "gatehouse_connections_open") <= 2


# -- expiry: metric and `check` --------------------------------------------------------------

def test_expiry_metric_per_certificate_and_check_warnings(start_gateway, upstream, ca, tmp_path):
    soon = ca.issue(days=3)
    expired = ca.issue(dns=("old.test",), ips=(), days=-1, start_days=-10)
    fine = ca.issue(dns=("fine.test",), ips=(), days=60)
    d = tmp_path / "certs"
    sc, sk = soon.write(d, "soon")
    ec_, ek = expired.write(d, "expired")
    fc, fk = fine.write(d, "fine")
    cfg = tls_config(upstream, sc, sk, certificates=[{"cert_file": str(ec_), "key_file": str(ek)},
                                                     {"cert_file": str(fc), "key_file": str(fk)}])
    probe = Gateway(cfg, tmp_path / "check")
    r = run_cli(["check", "-c", str(probe.config_path)])
    assert r.returncode == 0, r.stderr
    warnings = [line for line in r.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 2, r.stderr
    soon_date = soon.cert.not_valid_after.strftime("%Y-%m-%d %H:%M:%S UTC")
    old_date = expired.cert.not_valid_after.strftime("%Y-%m-%d %H:%M:%S UTC")
    assert any(str(sc) in w and f"expires on {soon_date}" in w for w in warnings), warnings
    assert any(str(ec_) in w and f"expired on {old_date}" in w for w in warnings), warnings
    assert not any(str(fc) in w for w in warnings)

    gw = start_gateway(cfg, client_tls=ca.client_context())
    for leaf, path in ((soon, sc), (expired, ec_), (fine, fc)):
        value = metric(gw, f'gatehouse_tls_certificate_expiry_timestamp_seconds{{certificate="{path}"}}')
        expected = leaf.cert.not_valid_after.replace(tzinfo=datetime.timezone.utc).timestamp()
        assert value == int(expected), path
    assert "expires on" in gw.log_text() and "expired on" in gw.log_text()


# -- SPEC 4 over TLS -------------------------------------------------------------------------

@pytest.fixture
def tls_gw(start_gateway, upstream, ca, server_pair):
    _, cert, key = server_pair
    cfg = tls_config(upstream, cert, key,
                     limits={"header_timeout": "1s", "max_header_bytes": "4KiB", "max_body": "1KiB"})
    return start_gateway(cfg, client_tls=ca.client_context())


@pytest.mark.parametrize("raw, status", [
    (b"POST /e/x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
    (b"GET /e/x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
    (b"GET /e/x HTTP/1.1\r\nHost: a/b\r\n\r\n", 400),
    (b"GET /e/x HTTP/1.1\r\nHost: a\r\nX: " + b"y" * 5000 + b"\r\n\r\n", 431),
    (b"GET /e/x HTTP/1.1\r\nHost: a\r\nBad Name: x\r\n\r\n", 400),
    (b"CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n", 501),
])
def test_bad_input_over_tls_is_refused_and_closed(tls_gw, upstream, raw, status):
    with tls_gw.connect() as c:
        c.send(raw)
        r = c.read_response()
        assert r.status == status, r
        assert c.wait_closed()
    assert upstream.snapshot() == []


def test_body_limit_and_slow_head_over_tls(tls_gw, upstream):
    r = tls_gw.request("POST", "/e/x", body=b"x" * 2000)
    assert_problem(r, 413, "payload_too_large")
    with tls_gw.connect() as c:
        c.send(b"GET /e/x HTTP/1.1\r\nHost: a\r\n")  # never finished
        t0 = time.monotonic()
        r = c.read_response()
        assert_problem(r, 408, "request_timeout")
        assert 0.5 < time.monotonic() - t0 < 3
        assert c.wait_closed()
    assert upstream.snapshot() == []


def test_keep_alive_over_tls_survives_idle_trimming(tls_gw, upstream):
    """An idle TLS connection gives its buffers back (its pending read is cancelled) and
    still serves its next request, also one split across the idle gap."""
    with tls_gw.connect() as c:
        assert c.request(build_request("GET", "/e/1", close=False)).status == 200
        time.sleep(0.4)  # trimmed after 100 ms
        assert c.request(build_request("GET", "/e/2", close=False)).status == 200
        c.send(b"GET /e/3 HTTP/1.1\r\n")
        time.sleep(0.4)
        c.send(b"Host: a\r\n\r\n")
        assert c.read_response().json()["path"] == "/3"


def test_drain_over_tls_finishes_the_request_in_flight_and_closes_idle_ones(start_gateway,
                                                                          make_upstream, ca,
                                                                          server_pair):
    release = threading.Event()

    def slow(req, conn):
        if req.path == "/slow":
            release.wait(5)
            return Response(200, [], b"slow-done")
        return echo_handler(req, conn)

    up = make_upstream(slow)
    _, cert, key = server_pair
    gw = start_gateway(tls_config(up, cert, key), client_tls=ca.client_context())
    idle = gw.connect()
    assert idle.request(build_request("GET", "/e/x", close=False)).status == 200
    silent = socket.create_connection(("127.0.0.1", gw.port))  # no handshake begun
    busy = gw.connect(timeout=10)
    busy.send(build_request("GET", "/e/slow", close=False))
    up.wait_for_requests(2, timeout=5)
    gw.signal(signal.SIGTERM)
    assert idle.wait_closed(2), "an idle TLS keep-alive connection was not closed by drain"
    silent.settimeout(2)
    assert silent.recv(10) == b""
    release.set()
    r = busy.read_response()
    assert r.status == 200 and r.body == b"slow-done", r
    assert r.header("Connection") == "close"
    assert gw.wait_exit(10) == 0
    for c in (idle, busy):
        c.close()
    silent.close()


SENDS = ("sendto", "sendmsg", "write", "writev")


def _traced(pid: int, out, connect_and_ask, count: int) -> tuple[dict, list]:
    """Runs connect_and_ask() `count` times under `strace -f -p pid` (the calls named
    below only); returns how often each call was made on a descriptor accepted meanwhile,
    from its accept4 to its close (epoll_ctl by operation), and `accept4` the accepts;
    and, per such descriptor, the bytes of the last send before its close."""
    calls = "accept,accept4,getpeername,ioctl,setsockopt,shutdown,epoll_ctl,close," + ",".join(SENDS)
    tracer = subprocess.Popen(["strace", "-f", "-qq", "-e", f"trace={calls}", "-o", str(out),
                               "-p", str(pid)], stderr=subprocess.PIPE)
    try:
        # strace attaches to every thread before it writes anything: wait for a call
        # of the gateway's (its housekeeping does none of these, a connection all of them).
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and tracer.poll() is None:
            connect_and_ask()
            if out.exists() and ("accept4(" in out.read_text() or "accept(" in out.read_text()):
                break
            time.sleep(0.05)
        assert tracer.poll() is None, tracer.stderr.read().decode()
        start = len(out.read_text().splitlines())
        for _ in range(count):
            connect_and_ask()
        time.sleep(0.3)  # the last close is written
    finally:
        tracer.send_signal(signal.SIGINT)
        tracer.wait(timeout=10)
    # A call another thread interrupted is written in two parts: join them.
    pending: dict = {}
    whole = []
    for line in out.read_text().splitlines()[start:]:
        tid, _, rest = line.partition(" ")
        rest = rest.strip()
        if rest.endswith("<unfinished ...>"):
            pending[tid] = rest[: -len("<unfinished ...>")]
        elif rest.startswith("<..."):
            whole.append(pending.pop(tid, "") + rest.split("resumed>", 1)[-1])
        else:
            whole.append(rest)
    counts: dict = {}
    accepted = set()
    last_send: dict = {}
    last_sends = []
    for call_line in whole:
        m = re.match(r"(\w+)\((.*)\)\s+=\s+(-?\d+)", call_line)
        if not m:
            continue
        call, args, ret = m.group(1), m.group(2), int(m.group(3))
        if call in ("accept", "accept4"):
            if ret >= 0:
                accepted.add(ret)
                counts[call] = counts.get(call, 0) + 1
            continue
        parts = [a.strip() for a in args.split(",")]
        if call == "epoll_ctl":
            fd, call = int(parts[2]), call + "_" + parts[1].removeprefix("EPOLL_CTL_")
        else:
            fd = int(parts[0])
        if fd in accepted:
            counts[call] = counts.get(call, 0) + 1
            if call in SENDS and ret > 0:
                last_send[fd] = ret
            if call == "close":
                accepted.discard(fd)
                if fd in last_send:
                    last_sends.append(last_send.pop(fd))
    return counts, last_sends


@pytest.mark.parametrize("tls", [True, False], ids=["tls", "plain"])
def test_a_new_connection_makes_no_needless_system_call(start_gateway, upstream, server_pair,
                                                        ca, tmp_path, tls):
    """A connection is taken with accept4 (non-blocking, the peer's address with it) and
    closed without a half-close when the client's HTTP/1.0 request was its last: no
    getpeername, no ioctl(FIONBIO), no TCP_NODELAY per connection (the listening socket
    has it), no shutdown, and no epoll_ctl DEL before close. Over TLS the answer leaves
    with the close_notify: the last send is more than the alert's record alone."""
    _, cert, key = server_pair
    cfg = tls_config(upstream, cert, key) if tls else {"endpoints": [endpoint(upstream.url(), name="e")]}
    cfg["threads"] = 1
    gw = start_gateway(cfg, client_tls=ca.client_context() if tls else None)
    assert gw.get("/e/warm").status == 200  # the upstream connection is pooled from now on

    def connect_and_ask():
        with RawConn(gw.port, tls=ca.client_context() if tls else None) as c:
            c.send(b"GET /e/x HTTP/1.0\r\nHost: gw.test\r\n\r\n")
            r = c.read_response()
            assert r.status == 200, r
            assert c.wait_closed(3)
            assert not c.reset

    counts, last_sends = _traced(gw.proc.pid, tmp_path / "strace.txt", connect_and_ask, 10)
    assert counts.get("accept4", 0) >= 10 and counts.get("accept", 0) == 0, counts
    for call in ("getpeername", "ioctl", "setsockopt", "shutdown", "epoll_ctl_DEL"):
        assert counts.get(call, 0) == 0, (call, counts)
    # ... while the trace saw each connection registered and closed.
    assert counts.get("epoll_ctl_ADD", 0) >= 10 and counts.get("close", 0) >= 10, counts
    if tls:
        assert len(last_sends) >= 10, last_sends
        # A TLS 1.3 close_notify alone is one 24-byte record (header, alert, type, tag).
        close_notify_alone = 24
        assert all(n > close_notify_alone for n in last_sends), last_sends


def test_a_client_hello_larger_than_the_first_read_completes(start_gateway, upstream, server_pair,
                                                             ca):
    """The listener reads the first 4 KiB of a connection before TLS starts: a hello
    beyond that (a long ALPN list) continues through the TLS layer's own reads."""
    _, cert, key = server_pair
    gw = start_gateway(tls_config(upstream, cert, key), client_tls=ca.client_context())
    ctx = ca.client_context()
    ctx.set_alpn_protocols([f"x{i}-" + "p" * 240 for i in range(24)] + ["http/1.1"])
    with RawConn(gw.port, tls=ctx) as c:
        assert c.sock.selected_alpn_protocol() == "http/1.1"
        r = c.request(build_request("GET", "/e/big-hello"))
        assert r.status == 200, r
