"""https upstreams: certificate verification (SPEC sections 2 and 4)."""

import pytest

from gh_gateway import endpoint
from gh_raw import assert_problem


@pytest.fixture
def tls_upstream(make_upstream, pki):
    return make_upstream(tls_context=pki.server_context())


def test_https_upstream_with_ca_file(start_gateway, tls_upstream, pki):
    gw = start_gateway({"endpoints": [endpoint(
        tls_upstream.url("/api"), name="s",
        tls={"ca_file": str(pki.ca_file), "server_name": "localhost"})]})
    r = gw.request("POST", "/s/x?q=1", body=b"secret")
    assert r.status == 200, r
    doc = r.json()
    assert doc["target"] == "/api/x?q=1"
    assert doc["body"] == "secret"
    assert r.json()["headers"]
    hdrs = {k.lower(): v for k, v in doc["headers"]}
    assert hdrs["x-forwarded-proto"] == "http"  # the client spoke http to the gateway


def test_https_upstream_ip_san_without_server_name(start_gateway, tls_upstream, pki):
    gw = start_gateway({"endpoints": [endpoint(
        tls_upstream.url(), name="s", tls={"ca_file": str(pki.ca_file)})]})
    r = gw.get("/s/x")
    assert r.status == 200, r


def test_https_upstream_keepalive(start_gateway, tls_upstream, pki):
    gw = start_gateway({"threads": 1, "endpoints": [endpoint(
        tls_upstream.url(), name="s",
        tls={"ca_file": str(pki.ca_file), "server_name": "localhost"})]})
    for i in range(4):
        assert gw.get(f"/s/{i}").status == 200
    assert tls_upstream.connections == 1


def test_wrong_ca_is_502(start_gateway, tls_upstream, pki):
    gw = start_gateway({"endpoints": [endpoint(
        tls_upstream.url(), name="s",
        tls={"ca_file": str(pki.other_ca_file), "server_name": "localhost"})]})
    assert_problem(gw.get("/s/x"), 502, "upstream_error")
    assert tls_upstream.complete_requests() == []


def test_system_trust_store_rejects_private_ca(start_gateway, tls_upstream):
    gw = start_gateway({"endpoints": [endpoint(tls_upstream.url(), name="s")]})
    assert_problem(gw.get("/s/x"), 502, "upstream_error")
    assert tls_upstream.complete_requests() == []


def test_server_name_mismatch_is_502(start_gateway, tls_upstream, pki):
    gw = start_gateway({"endpoints": [endpoint(
        tls_upstream.url(), name="s",
        tls={"ca_file": str(pki.ca_file), "server_name": "not-the-server.example"})]})
    assert_problem(gw.get("/s/x"), 502, "upstream_error")
    assert tls_upstream.complete_requests() == []


def test_verify_false_accepts_any_certificate(start_gateway, tls_upstream, pki):
    gw = start_gateway({"endpoints": [endpoint(
        tls_upstream.url(), name="s",
        tls={"ca_file": str(pki.other_ca_file), "verify": False})]})
    r = gw.get("/s/x")
    assert r.status == 200, r
    assert r.json()["target"] == "/x"


def test_plain_http_to_tls_upstream_is_502(start_gateway, tls_upstream):
    """Speaking http to an https port fails cleanly."""
    gw = start_gateway({"endpoints": [endpoint(f"http://127.0.0.1:{tls_upstream.port}/",
                                               name="s", timeout="2s")]})
    r = gw.get("/s/x", timeout=10)
    assert r.status in (502, 504), r
