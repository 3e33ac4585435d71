"""SPEC sections 1 and 7: health endpoints, graceful shutdown."""

import signal
import socket
import threading
import time

import pytest

from gh_gateway import endpoint
from gh_raw import RawConn, build_request
from gh_upstream import Response


def test_healthz(start_gateway, upstream):
    gw = start_gateway({"endpoints": [endpoint(upstream.url(), name="a")]})
    r = gw.get("/healthz")
    assert r.status == 200
    assert r.json() == {"status": "ok"}
    assert (r.header("content-type") or "").startswith("application/json")
    assert upstream.snapshot() == []


def test_readyz(start_gateway, upstream):
    gw = start_gateway({"endpoints": [endpoint(upstream.url(), name="a")]})
    assert gw.get("/readyz").status == 200
    assert gw.request("HEAD", "/healthz").status == 200


def test_starts_with_no_endpoints(start_gateway):
    gw = start_gateway({"endpoints": []})
    assert gw.get("/healthz").status == 200
    assert gw.get("/anything").status == 404


def slow_upstream(make_upstream, delay=1.5):
    def handler(req, conn):
        conn.upstream.stopped.wait(delay)  # the upstream is slow on purpose
        return Response(200, [], b"slow-done")
    return make_upstream(handler)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_graceful_shutdown_finishes_in_flight_request(start_gateway, make_upstream, sig):
    up = slow_upstream(make_upstream)
    gw = start_gateway({"endpoints": [endpoint(up.url(), name="slow")]})
    result = {}

    def client():
        try:
            result["resp"] = gw.get("/slow/x", timeout=10)
        except Exception as e:  # reported below
            result["error"] = e

    t = threading.Thread(target=client)
    t.start()
    up.wait_for_requests(1, timeout=5)
    t0 = time.monotonic()
    gw.signal(sig)
    t.join(10)
    assert "error" not in result, result
    r = result["resp"]
    assert r.status == 200 and r.body == b"slow-done", r
    rc = gw.wait_exit(10)
    assert rc == 0, gw.log_text()
    assert time.monotonic() - t0 < 6


def test_new_connections_refused_while_draining(start_gateway, make_upstream):
    up = slow_upstream(make_upstream)
    gw = start_gateway({"endpoints": [endpoint(up.url(), name="slow")]})
    result = {}
    t = threading.Thread(target=lambda: result.setdefault("resp", gw.get("/slow/x", timeout=10)))
    t.start()
    up.wait_for_requests(1, timeout=5)
    gw.signal(signal.SIGTERM)
    refused = False
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline and gw.running:
        try:
            with socket.create_connection(("127.0.0.1", gw.port), timeout=0.2) as s:
                # accepted by the kernel? then the gateway must at least not serve it
                s.sendall(build_request("GET", "/healthz"))
                s.settimeout(0.5)
                data = s.recv(100)
                if data == b"" or data.startswith(b"HTTP/1.1 503"):
                    refused = True
                    break
        except (ConnectionRefusedError, ConnectionResetError, socket.timeout):
            refused = True
            break
        time.sleep(0.02)
    t.join(10)
    assert result.get("resp") is not None and result["resp"].status == 200, result
    assert gw.wait_exit(10) == 0
    assert refused, "new connections were still served after SIGTERM"


def test_idle_keepalive_connection_does_not_block_shutdown(start_gateway, upstream):
    gw = start_gateway({"shutdown_grace": "10s",
                        "endpoints": [endpoint(upstream.url(), name="a")]})
    c = RawConn(gw.port)
    assert c.request(build_request("GET", "/a/x", close=False)).status == 200
    t0 = time.monotonic()
    gw.signal(signal.SIGTERM)
    assert gw.wait_exit(10) == 0
    assert time.monotonic() - t0 < 3, "an idle keep-alive connection held up shutdown"
    assert c.wait_closed(1)
    c.close()


def test_shutdown_grace_bounds_a_stuck_request(start_gateway, make_upstream):
    up = slow_upstream(make_upstream, delay=30)
    gw = start_gateway({"shutdown_grace": "1s",
                        "endpoints": [endpoint(up.url(), name="slow", timeout="30s")]})
    c = RawConn(gw.port, timeout=10)
    c.send(build_request("GET", "/slow/x"))
    up.wait_for_requests(1, timeout=5)
    t0 = time.monotonic()
    gw.signal(signal.SIGTERM)
    assert gw.wait_exit(10) == 0
    assert time.monotonic() - t0 < 4
    c.close()


def test_concurrent_clients(start_gateway, upstream):
    gw = start_gateway({"endpoints": [endpoint(upstream.url("/c"), name="c")]})
    results = []
    lock = threading.Lock()

    def worker(i):
        with RawConn(gw.port, timeout=10) as c:
            for j in range(5):
                r = c.request(build_request("POST", f"/c/{i}/{j}", body=b"%d-%d" % (i, j),
                                            close=(j == 4)))
                with lock:
                    results.append((r.status, r.json()["target"], r.json()["body"], i, j))

    ts = [threading.Thread(target=worker, args=(i,)) for i in range(40)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(30)
    assert len(results) == 200
    for status, target, body, i, j in results:
        assert status == 200
        assert target == f"/c/{i}/{j}" and body == f"{i}-{j}"
