"""Bodies moved socket to socket inside the kernel (splice through a pipe) between plain
connections: Content-Length bodies both ways and chunk data between the chunk lines,
with sizes around the 48 KiB threshold and far above it.  What a user sees must not
change: the bytes, their order and framing, what follows a body on the connection, the
access log's bytes_in/bytes_out, 499 for a client gone mid-upload, a cut answer (or 502)
when the upstream fails mid-body, upstream connections never reused after a failure, and
the `cached` fallback's copy.  TLS connections keep the relay buffer."""

import hashlib
import json
import os
import socket
import struct
import threading
import time
from pathlib import Path

import pytest

from gh_gateway import endpoint
from gh_raw import RawConn, build_request
from gh_tls import ListenerCA
from gh_upstream import Response, json_response

KiB = 1024
MiB = 1024 * KiB
THRESHOLD = 48 * KiB  # src/server/exchange_relay.cpp, kSpliceMin

LOG = {"log": {"format": "json", "level": "info", "access_log": True}}


def data_of(n: int, seed: int = 0) -> bytes:
    block = hashlib.sha256(b"%d" % seed).digest() * 2048  # 64 KiB, not all alike
    return (block * (n // len(block) + 1))[:n]


def access_entry(gw, rid):
    text = gw.wait_log(lambda t: f'"request_id":"{rid}"' in t)
    entries = [json.loads(l) for l in text.splitlines() if l.startswith("{")]
    entries = [e for e in entries if e.get("request_id") == rid and e.get("msg") == "access"]
    assert len(entries) == 1, f"expected one access line for {rid}:\n{text}"
    return entries[0]


def pipes(gw) -> int:
    """The gateway's open pipe descriptors (the splice relay's pipes)."""
    fd_dir = Path(f"/proc/{gw.proc.pid}/fd")
    n = 0
    for fd in fd_dir.iterdir():
        try:
            if os.readlink(fd).startswith("pipe:"):
                n += 1
        except OSError:
            pass  # closed meanwhile
    return n


def exchange_raw(port: int, request: bytes, timeout: float = 20) -> bytes:
    """Sends `request` (asking for the close) and returns every byte the gateway sent."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(request)
        out = bytearray()
        while True:
            b = s.recv(1 << 20)
            if not b:
                return bytes(out)
            out += b


def split_response(raw: bytes):
    head, _, body = raw.partition(b"\r\n\r\n")
    return head.decode("latin-1"), body


def dechunk(body: bytes) -> bytes:
    out = bytearray()
    i = 0
    while True:
        j = body.index(b"\r\n", i)
        size = int(body[i:j].split(b";")[0], 16)
        i = j + 2
        if size == 0:
            assert body[i:] == b"\r\n", body[i:i + 50]
            return bytes(out)
        out += body[i:i + size]
        assert body[i + size:i + size + 2] == b"\r\n"
        i += size + 2


def chunked_bytes(pieces, trailers: bytes = b"") -> bytes:
    return b"".join(b"%x\r\n" % len(p) + p + b"\r\n" for p in pieces) + b"0\r\n" + trailers + b"\r\n"


def body_digest(req, conn):
    return json_response({"len": req.body_len, "sha256": req.body_sha256,
                          "chunked": bool(getattr(req, "chunked", False))})


def get_request(path: str, rid: str, version: str = "1.1") -> bytes:
    return (f"GET {path} HTTP/{version}\r\nHost: t\r\nX-Request-Id: {rid}\r\n"
            f"Connection: close\r\n\r\n").encode()


# ---- downloads ------------------------------------------------------------------------

@pytest.mark.parametrize("size", [THRESHOLD - 1, THRESHOLD, THRESHOLD + 4 * KiB + 1, 64 * KiB,
                                  MiB, 20 * MiB])
def test_content_length_download_is_exact_and_logged_exactly(start_gateway, make_upstream, size):
    body = data_of(size)
    up = make_upstream(lambda req, conn: Response(200, [("Content-Type", "application/octet-stream")],
                                                  body))
    gw = start_gateway({**LOG, "endpoints": [endpoint(up.url(), name="d")]})
    rid = f"dl-{size}"
    raw = exchange_raw(gw.port, get_request("/d/x", rid))
    head, got = split_response(raw)
    assert head.startswith("HTTP/1.1 200"), head
    assert f"content-length: {size}" in head.lower()
    assert len(got) == size and got == body
    e = access_entry(gw, rid)
    assert e["status"] == 200
    assert e["bytes_out"] == len(raw), e  # every byte written, head and body


@pytest.mark.parametrize("version", ["1.1", "1.0"])
def test_chunked_download_keeps_every_chunk_in_order(start_gateway, make_upstream, version):
    pieces = [data_of(n, seed=i) for i, n in enumerate(
        [1000, THRESHOLD - 1, THRESHOLD, THRESHOLD + 1, 40 * KiB, 5, 300 * KiB, MiB, 17])]
    up = make_upstream(lambda req, conn: Response(200, [], chunks=iter(pieces)))
    gw = start_gateway({**LOG, "endpoints": [endpoint(up.url(), name="c")]})
    rid = f"chunked-dl-{version}"
    raw = exchange_raw(gw.port, get_request("/c/x", rid, version))
    head, body = split_response(raw)
    assert " 200 " in head.split("\r\n")[0], head
    if version == "1.1":
        assert "transfer-encoding: chunked" in head.lower(), head
        body = dechunk(body)
    else:
        assert "transfer-encoding" not in head.lower(), head  # until the close
    assert body == b"".join(pieces)
    assert access_entry(gw, rid)["bytes_out"] == len(raw)


def wait_for_pipe(gw, before: int) -> None:
    deadline = time.monotonic() + 5
    while pipes(gw) <= before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert pipes(gw) > before, "the body did not go through a pipe"


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_plain_download_moves_through_a_pipe_while_the_client_stalls(start_gateway, make_upstream,
                                                                     framing):
    body = data_of(20 * MiB)
    chunks = [body[:5 * MiB], body[5 * MiB:]]  # large chunks: their data is spliced
    up = make_upstream(lambda req, conn: Response(200, [], body) if framing == "content-length"
                       else Response(200, [], chunks=iter(chunks)))
    gw = start_gateway({"threads": 1, "endpoints": [endpoint(up.url(), name="p")]})
    before = pipes(gw)
    with RawConn(gw.port, timeout=20) as c:
        c.send(build_request("GET", "/p/x"))
        resp = c.read_head()
        assert resp.status == 200
        # The client reads nothing: the gateway's pipe holds what the client refused.
        wait_for_pipe(gw, before)
        resp = c.read_body(resp)
    assert resp.complete and resp.body == body


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_plain_upload_moves_through_a_pipe_while_the_upstream_stalls(start_gateway, make_upstream,
                                                                     framing):
    body = data_of(20 * MiB, seed=3)
    go = threading.Event()
    up = make_upstream(body_digest, store_body=False, before_body=lambda req, conn: go.wait(10))
    gw = start_gateway({"threads": 1, "limits": {"max_body": "64MiB"},
                        "endpoints": [endpoint(up.url(), name="p")]})
    before = pipes(gw)
    with RawConn(gw.port, timeout=20) as c:
        if framing == "chunked":
            c.send(build_request("POST", "/p/x", [("Transfer-Encoding", "chunked")]))
            wire = chunked_bytes([body[:MiB], body[MiB:]])
        else:
            c.send(build_request("POST", "/p/x", [("Content-Length", str(len(body)))]))
            wire = body
        t = threading.Thread(target=c.sock.sendall, args=(wire,), daemon=True)
        t.start()
        try:
            wait_for_pipe(gw, before)  # the upstream reads nothing yet
        finally:
            go.set()
        t.join(20)
        r = c.read_response()
    assert r.status == 200 and r.json()["len"] == len(body), r
    assert r.json()["sha256"] == hashlib.sha256(body).hexdigest()


def test_spliced_downloads_keep_reusing_one_upstream_connection(start_gateway, make_upstream):
    """A body taken by splice leaves readiness events behind on the upstream socket; the
    idle connection must not be taken for one that received unexpected bytes."""
    body = data_of(256 * KiB)
    up = make_upstream(lambda req, conn: Response(200, [], body))
    gw = start_gateway({"threads": 1, "endpoints": [endpoint(up.url(), name="k")]})
    with RawConn(gw.port, timeout=10) as c:
        for i in range(30):
            c.send(build_request("GET", f"/k/{i}", close=False))
            r = c.read_response()
            assert r.status == 200 and r.body == body, r
    assert up.connections == 1, f"{up.connections} upstream connections for 30 requests"


@pytest.fixture(scope="module")
def ca():
    return ListenerCA()


def test_tls_client_keeps_the_relay_buffer(start_gateway, make_upstream, ca, tmp_path):
    body = data_of(8 * MiB)
    up = make_upstream(lambda req, conn: Response(200, [], body))
    cert, key = ca.issue().write(tmp_path / "certs", "server")
    gw = start_gateway({"threads": 1, "tls": {"cert_file": str(cert), "key_file": str(key)},
                        "endpoints": [endpoint(up.url(), name="t")]},
                       client_tls=ca.client_context())
    before = pipes(gw)
    with RawConn(gw.port, timeout=20, tls=ca.client_context()) as c:
        c.send(build_request("GET", "/t/x"))
        resp = c.read_head()
        assert resp.status == 200
        stalled_until = time.monotonic() + 0.5
        while time.monotonic() < stalled_until:
            assert pipes(gw) == before, "a TLS body went into a pipe"
            time.sleep(0.02)
        resp = c.read_body(resp)
    assert resp.complete and resp.body == body
    assert pipes(gw) == before


def test_upstream_reset_mid_spliced_download_cuts_the_client_and_drops_the_connection(
        start_gateway, make_upstream):
    def handler(req, conn):
        if req.path == "/big":
            conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 1048576\r\n\r\n" + data_of(300 * KiB))
            time.sleep(0.1)  # the gateway has spliced what came
            conn.reset()
            return None
        return Response(200, [], b"fine")

    up = make_upstream(handler)
    gw = start_gateway({"threads": 1, "endpoints": [endpoint(up.url(), name="r")]})
    with RawConn(gw.port, timeout=5) as c:
        c.send(build_request("GET", "/r/big", close=False))
        r = c.read_response()
        assert r.status == 200
        assert not r.complete, "the client must see the response cut short"
        assert 0 < len(r.body) <= 300 * KiB
        assert r.body == data_of(300 * KiB)[:len(r.body)]
        assert c.eof
    r2 = gw.get("/r/next")
    assert r2.status == 200 and r2.body == b"fine"
    reqs = up.snapshot()
    assert reqs[1].conn_id != reqs[0].conn_id, "a broken upstream connection was reused"


def test_client_gone_mid_spliced_download_drops_the_upstream_connection(start_gateway,
                                                                        make_upstream):
    big = data_of(20 * MiB)
    up = make_upstream(lambda req, conn: Response(200, [], big if req.path == "/big" else b"ok"))
    gw = start_gateway({"threads": 1, "endpoints": [endpoint(up.url(), name="g")]})
    with RawConn(gw.port, timeout=5) as c:
        c.send(build_request("GET", "/g/big", close=False))
        assert c.read_head().status == 200
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    # The gateway must not hand the half-read connection to the next request.
    r = gw.get("/g/small")
    assert r.status == 200 and r.body == b"ok", r
    reqs = up.snapshot()
    assert [q.path for q in reqs] == ["/big", "/small"]
    assert reqs[1].conn_id != reqs[0].conn_id, "a half-read upstream connection was reused"


def test_cached_fallback_still_copies_a_large_body(start_gateway, make_upstream):
    body = data_of(200 * KiB)
    failing = threading.Event()

    def handler(req, conn):
        if failing.is_set():
            return Response(503, [], b"down")
        return Response(200, [("Content-Type", "application/octet-stream")], body)

    up = make_upstream(handler)
    cb = {"failure_threshold": 1, "reset_timeout": "30s", "fallback_strategy": "cached"}
    gw = start_gateway({"endpoints": [endpoint(up.url(), name="fb", circuit_breaker=cb)]})
    assert gw.get("/fb/big").body == body
    failing.set()
    assert gw.get("/fb/other").status == 503  # opens the breaker
    r = gw.get("/fb/big")
    assert r.status == 200 and r.header("x-gatehouse-fallback") == "cached", r
    assert r.body == body


# ---- uploads --------------------------------------------------------------------------

@pytest.mark.parametrize("size", [THRESHOLD - 1, THRESHOLD, 100 * KiB, MiB, 20 * MiB])
def test_content_length_upload_is_exact_and_logged_exactly(start_gateway, make_upstream, size):
    body = data_of(size, seed=size)
    up = make_upstream(body_digest, store_body=False)
    gw = start_gateway({**LOG, "limits": {"max_body": "64MiB"},
                        "endpoints": [endpoint(up.url(), name="u")]})
    rid = f"ul-{size}"
    head = (f"POST /u/x HTTP/1.1\r\nHost: t\r\nX-Request-Id: {rid}\r\nConnection: close\r\n"
            f"Content-Length: {size}\r\n\r\n").encode()
    raw = exchange_raw(gw.port, head + body)
    h, got = split_response(raw)
    assert h.startswith("HTTP/1.1 200"), h
    assert json.loads(got) == {"len": size, "sha256": hashlib.sha256(body).hexdigest(),
                               "chunked": False}
    assert access_entry(gw, rid)["bytes_in"] == len(head) + size


def test_chunked_upload_keeps_every_chunk_in_order(start_gateway, make_upstream):
    pieces = [data_of(n, seed=i) for i, n in enumerate(
        [100, THRESHOLD - 1, THRESHOLD, 20000, 300 * KiB, 7, MiB, THRESHOLD + 1])]
    whole = b"".join(pieces)
    up = make_upstream(body_digest, store_body=False)
    gw = start_gateway({**LOG, "endpoints": [endpoint(up.url(), name="u")]})
    rid = "chunked-ul"
    head = (f"POST /u/x HTTP/1.1\r\nHost: t\r\nX-Request-Id: {rid}\r\nConnection: close\r\n"
            f"Transfer-Encoding: chunked\r\n\r\n").encode()
    wire = head + chunked_bytes(pieces, trailers=b"X-Check: 1\r\n")
    raw = exchange_raw(gw.port, wire)
    h, got = split_response(raw)
    assert h.startswith("HTTP/1.1 200"), h
    assert json.loads(got) == {"len": len(whole), "sha256": hashlib.sha256(whole).hexdigest(),
                               "chunked": True}
    assert access_entry(gw, rid)["bytes_in"] == len(wire)


def test_chunked_upload_over_max_body_is_cut(start_gateway, make_upstream):
    up = make_upstream(body_digest, store_body=False)
    gw = start_gateway({"limits": {"max_body": "1MiB"}, "endpoints": [endpoint(up.url(), name="u")]})
    with RawConn(gw.port, timeout=10) as c:
        c.send(build_request("POST", "/u/x", [("Transfer-Encoding", "chunked")]))

        def sender():
            try:
                for i in range(8):
                    c.sock.sendall(b"%x\r\n" % (300 * KiB) + data_of(300 * KiB, seed=i) + b"\r\n")
                c.sock.sendall(b"0\r\n\r\n")
            except OSError:
                pass  # the gateway stops reading once the limit is passed

        t = threading.Thread(target=sender, daemon=True)
        t.start()
        r = c.read_response()
        t.join(10)
    assert r.status == 413, r
    reqs = up.wait_for_requests(1)
    assert not reqs[0].complete, "the upstream must not receive a complete over-limit body"


def test_pipelined_request_after_a_spliced_upload_body(start_gateway, make_upstream):
    body = data_of(200 * KiB)
    up = make_upstream(body_digest, store_body=False)
    gw = start_gateway({"endpoints": [endpoint(up.url(), name="u")]})
    with RawConn(gw.port, timeout=10) as c:
        c.send(build_request("POST", "/u/a", [("Content-Length", str(len(body)))], close=False)
               + body + build_request("GET", "/u/b", close=False))
        first = c.read_response()
        second = c.read_response()
    assert first.status == 200 and first.json()["len"] == len(body)
    assert first.json()["sha256"] == hashlib.sha256(body).hexdigest()
    assert second.status == 200 and second.json()["len"] == 0
    assert [q.path for q in up.snapshot()] == ["/a", "/b"]


def test_client_gone_mid_spliced_upload_is_499_and_drops_the_upstream_connection(
        start_gateway, make_upstream):
    up = make_upstream(body_digest, store_body=False)
    gw = start_gateway({**LOG, "threads": 1, "endpoints": [endpoint(up.url(), name="u")]})
    rid = "client-gone-ul"
    with RawConn(gw.port, timeout=5) as c:
        c.send(build_request("POST", "/u/a", [("Content-Length", str(4 * MiB)),
                                              ("X-Request-Id", rid)], close=False))
        c.sock.sendall(data_of(MiB))
        up.wait_for_requests(1)
        deadline = time.monotonic() + 5  # the upstream has been sent part of the body
        while up.snapshot()[0].body_len < 100 * KiB and time.monotonic() < deadline:
            time.sleep(0.02)
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    assert access_entry(gw, rid)["status"] == 499
    r = gw.get("/u/next")
    assert r.status == 200
    reqs = up.snapshot()
    assert not reqs[0].complete
    assert reqs[1].conn_id != reqs[0].conn_id, "a half-written upstream connection was reused"


def test_upstream_reset_mid_spliced_upload_is_502(start_gateway, make_upstream):
    def before_body(req, conn):
        if req.path == "/a":
            got = 0
            while got < 200 * KiB:
                got += len(conn.sock.recv(64 * KiB))
            conn.reset()

    up = make_upstream(body_digest, store_body=False, before_body=before_body)
    gw = start_gateway({"threads": 1, "endpoints": [endpoint(up.url(), name="u")]})
    size = 2 * MiB
    with RawConn(gw.port, timeout=10) as c:
        c.send(build_request("POST", "/u/a", [("Content-Length", str(size))], close=False))

        def sender():
            try:
                c.sock.sendall(data_of(size))
            except OSError:
                pass  # the gateway may close before taking it all

        t = threading.Thread(target=sender, daemon=True)
        t.start()
        r = c.read_response()
        t.join(10)
    assert r.status == 502, r
    r2 = gw.get("/u/next")
    assert r2.status == 200
    reqs = up.snapshot()
    assert reqs[1].conn_id != reqs[0].conn_id
