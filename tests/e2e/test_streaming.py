"""SPEC section 4: bodies stream both ways with back-pressure; memory per request stays
bounded whatever the body size.  20 MiB each way; the gateway's peak RSS may grow by
far less than the body.  Each side pauses (bounded, on an event) so that a gateway
without back-pressure would have the time to buffer the whole body."""

import hashlib
import os
import threading

import pytest

from gh_gateway import endpoint
from gh_raw import RawConn, build_request
from gh_upstream import Response, json_response

MiB = 1024 * 1024
BODY = 20 * MiB
MAX_GROWTH_KIB = 8 * 1024
PAUSE = 0.5  # seconds a side waits before it starts reading


def blocks(total: int, block: int = 256 * 1024):
    pattern = os.urandom(block)
    sent = 0
    i = 0
    while sent < total:
        n = min(block, total - sent)
        b = pattern[i % 97:] + pattern[: i % 97]
        yield b[:n]
        sent += n
        i += 1


def expected_digest(total: int, seed_blocks) -> str:
    h = hashlib.sha256()
    for b in seed_blocks:
        h.update(b)
    return h.hexdigest()


def baseline(gw):
    """A warm-up exchange, then the RSS we compare against."""
    reset = gw.reset_hwm()
    return gw.rss_kib() if reset else max(gw.rss_kib(), gw.hwm_kib())


def test_20mib_download_streams(start_gateway, make_upstream):
    data = list(blocks(BODY))
    digest = expected_digest(BODY, data)
    sent_all = threading.Event()

    def handler(req, conn):
        if req.path != "/big":
            return Response(200, [], b"warm")
        conn.write_response(Response(200, [("Content-Length", str(BODY)),
                                           ("Content-Type", "application/octet-stream")],
                                     iter(data)))
        sent_all.set()
        return None

    up = make_upstream(handler)
    gw = start_gateway({"endpoints": [endpoint(up.url(), name="dl")]})
    assert gw.get("/dl/warm").body == b"warm"
    base = baseline(gw)

    with RawConn(gw.port, timeout=20) as c:
        c.send(build_request("GET", "/dl/big"))
        resp = c.read_head()
        assert resp.status == 200, resp
        assert resp.header("content-length") == str(BODY)
        # Do not read for a while: with back-pressure the gateway stops reading from
        # the upstream once the socket buffers are full; without it, it buffers.
        sent_all.wait(PAUSE)
        h = hashlib.sha256()
        got = len(c.buf)
        h.update(c.buf)
        c.buf.clear()
        c.sock.settimeout(20)
        while got < BODY:
            chunk = c.sock.recv(1024 * 1024)
            if not chunk:
                break
            got += len(chunk)
            h.update(chunk)
    assert got == BODY
    assert h.hexdigest() == digest
    growth = gw.hwm_kib() - base
    assert growth < MAX_GROWTH_KIB, f"gateway peak RSS grew by {growth} KiB for a 20 MiB download"


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_20mib_upload_streams(start_gateway, make_upstream, framing):
    data = list(blocks(BODY))
    digest = expected_digest(BODY, data)
    client_done = threading.Event()

    def before_body(req, conn):
        if req.path == "/big":
            client_done.wait(PAUSE)  # let a buffering gateway fill up

    def handler(req, conn):
        return json_response({"len": req.body_len, "sha256": req.body_sha256})

    up = make_upstream(handler, store_body=False, before_body=before_body)
    gw = start_gateway({"limits": {"max_body": "64MiB"},
                        "endpoints": [endpoint(up.url(), name="ul")]})
    assert gw.request("POST", "/ul/warm", body=b"w").status == 200
    base = baseline(gw)

    with RawConn(gw.port, timeout=20) as c:
        if framing == "chunked":
            c.send(build_request("POST", "/ul/big", [("Transfer-Encoding", "chunked")]))
        else:
            c.send(build_request("POST", "/ul/big", [("Content-Length", str(BODY))]))
        errors = []

        def sender():
            try:
                for b in data:
                    if framing == "chunked":
                        c.sock.sendall(b"%x\r\n" % len(b) + b + b"\r\n")
                    else:
                        c.sock.sendall(b)
                if framing == "chunked":
                    c.sock.sendall(b"0\r\n\r\n")
            except OSError as e:
                errors.append(e)
            finally:
                client_done.set()

        t = threading.Thread(target=sender, daemon=True)
        t.start()
        t.join(30)
        assert not t.is_alive() and not errors, errors
        resp = c.read_response()
    assert resp.status == 200, resp
    assert resp.json() == {"len": BODY, "sha256": digest}
    growth = gw.hwm_kib() - base
    assert growth < MAX_GROWTH_KIB, f"gateway peak RSS grew by {growth} KiB for a 20 MiB upload"
