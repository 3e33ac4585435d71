"""SPEC section 4: what is forwarded, what comes back."""

import re

import pytest
import yaml

from gh_gateway import build_config, endpoint
from gh_raw import ConnectionClosed, RawConn, build_request, chunked
from gh_upstream import Response, json_response


@pytest.fixture
def gw(start_gateway, upstream):
    return start_gateway({"endpoints": [
        endpoint(upstream.url("/api"), name="users", version="v1"),
        endpoint(upstream.url("/keep"), name="nostrip", prefix="/ns", strip_prefix=False),
        endpoint(upstream.url(), name="root"),
        endpoint(upstream.url("/ph"), name="ph", preserve_host=True),
    ]})


def only_request(up):
    reqs = up.snapshot()
    assert len(reqs) == 1, reqs
    return reqs[0]


def test_strip_prefix_joins_base_path_and_keeps_query(gw, upstream):
    r = gw.get("/users/v1/42?x=1")
    assert r.status == 200, r
    assert only_request(upstream).target == "/api/42?x=1"


def test_strip_prefix_false_keeps_prefix(gw, upstream):
    assert gw.get("/ns/a/b?y=2").status == 200
    assert only_request(upstream).target == "/keep/ns/a/b?y=2"


def test_no_base_path(gw, upstream):
    assert gw.get("/root/a").status == 200
    assert gw.get("/root").status == 200
    assert [q.target for q in upstream.snapshot()] == ["/a", "/"]


def test_query_is_forwarded_byte_for_byte(gw, upstream):
    q = "?a=1&b=%20x&c&d=%2F%2e&e=caf%C3%A9&a=2"
    assert gw.get("/root/p" + q).status == 200
    assert only_request(upstream).target == "/p" + q


def test_method_and_body_forwarded(gw, upstream):
    r = gw.request("PATCH", "/root/p", {"Content-Type": "application/json"}, body=b'{"a":1}')
    assert r.status == 200, r
    q = only_request(upstream)
    assert q.method == "PATCH"
    assert q.body == b'{"a":1}'
    assert q.header("content-type") == "application/json"
    assert q.header("content-length") == "7"


def test_credentials_and_end_to_end_headers_forwarded_unchanged(gw, upstream):
    hs = [("Authorization", "Bearer abc.def.ghi"), ("Cookie", "a=1; b=2"),
          ("X-Custom", "  spaced value"), ("Accept", "text/html"), ("Accept", "application/json")]
    assert gw.get("/root/p", hs).status == 200
    q = only_request(upstream)
    assert q.header("authorization") == "Bearer abc.def.ghi"
    assert q.header("cookie") == "a=1; b=2"
    assert q.header("x-custom") == "spaced value"
    accept = ", ".join(q.headers_all("accept"))
    assert accept == "text/html, application/json"


def test_hop_by_hop_request_headers_not_forwarded(gw, upstream):
    hs = [("Connection", "keep-alive, X-Hop-Named"), ("X-Hop-Named", "1"),
          ("Keep-Alive", "timeout=5"), ("TE", "trailers"), ("Trailer", "X-Trailer"),
          ("Proxy-Connection", "keep-alive"), ("Proxy-Authorization", "Basic Zm9vOmJhcg=="),
          ("X-End-To-End", "yes")]
    with RawConn(gw.port) as c:
        r = c.request(build_request("GET", "/root/p", hs, close=False))
    assert r.status == 200, r
    q = only_request(upstream)
    names = {k.lower() for k, _ in q.headers}
    for h in ("x-hop-named", "keep-alive", "te", "trailer", "proxy-connection",
              "proxy-authorization"):
        assert h not in names, (h, q.headers)
    assert "x-hop-named" not in (q.header("connection") or "").lower()
    assert q.header("x-end-to-end") == "yes"


def test_hop_by_hop_response_headers_not_forwarded(start_gateway, make_upstream):
    up = make_upstream(lambda req, conn: Response(200, [
        ("Connection", "X-Up-Hop"), ("X-Up-Hop", "1"), ("Keep-Alive", "timeout=5"),
        ("X-Up-End", "yes")], b"ok"))
    gw = start_gateway({"endpoints": [endpoint(up.url(), name="h")]})
    r = gw.get("/h/x")
    assert r.status == 200 and r.body == b"ok", r
    assert r.header("x-up-end") == "yes"
    assert r.header("x-up-hop") is None, r
    assert r.header("keep-alive") is None, r


def test_x_forwarded_headers(gw, upstream):
    hs = [("Host", "api.example.com:8443"), ("X-Forwarded-For", "203.0.113.7")]
    assert gw.get("/users/v1/42", hs, host=None).status == 200
    q = only_request(upstream)
    assert q.header("x-forwarded-for") == "203.0.113.7, 127.0.0.1"
    assert q.header("x-forwarded-proto") == "http"
    assert q.header("x-forwarded-host") == "api.example.com:8443"
    assert q.header("x-forwarded-prefix") == "/users/v1"


def test_x_forwarded_for_set_when_absent(gw, upstream):
    assert gw.get("/root/x").status == 200
    q = only_request(upstream)
    assert q.header("x-forwarded-for") == "127.0.0.1"
    assert q.header("x-forwarded-prefix") == "/root"


def test_x_forwarded_for_appends_to_multiple_fields(gw, upstream):
    hs = [("X-Forwarded-For", "198.51.100.1"), ("X-Forwarded-For", "198.51.100.2")]
    assert gw.get("/root/x", hs).status == 200
    q = only_request(upstream)
    joined = ", ".join(q.headers_all("x-forwarded-for"))
    assert joined == "198.51.100.1, 198.51.100.2, 127.0.0.1"


def test_request_id_generated_when_absent(gw, upstream):
    r1 = gw.get("/root/x")
    r2 = gw.get("/root/y")
    reqs = upstream.snapshot()
    ids = [q.header("x-request-id") for q in reqs]
    assert all(ids) and ids[0] != ids[1], ids
    assert r1.header("x-request-id") == ids[0]
    assert r2.header("x-request-id") == ids[1]
    assert re.fullmatch(r"[A-Za-z0-9._:-]{8,200}", ids[0]), ids


def test_request_id_kept_when_sane(gw, upstream):
    rid = "client-req-0123456789abcdef"
    r = gw.get("/root/x", {"X-Request-Id": rid})
    assert r.header("x-request-id") == rid
    q = only_request(upstream)
    assert q.headers_all("x-request-id") == [rid]


@pytest.mark.parametrize("bad", ['has spaces and "quotes" <script>', "x" * 2000])
def test_request_id_replaced_when_not_sane(gw, upstream, bad):
    r = gw.get("/root/x", {"X-Request-Id": bad})
    assert r.status == 200, r
    q = only_request(upstream)
    ids = q.headers_all("x-request-id")
    assert len(ids) == 1 and ids[0] != bad and ids[0], ids
    assert r.header("x-request-id") == ids[0]


def test_request_id_on_gateway_errors(gw, upstream):
    r = gw.get("/nowhere", {"X-Request-Id": "err-id-42"})
    assert r.status == 404
    assert r.header("x-request-id") == "err-id-42"
    assert r.json()["request_id"] == "err-id-42"


def test_host_rewritten_to_upstream(gw, upstream):
    assert gw.get("/root/x", host="client.example").status == 200
    assert only_request(upstream).headers_all("host") == [upstream.hostport]


def test_preserve_host(gw, upstream):
    assert gw.get("/ph/x", host="client.example:1234").status == 200
    assert only_request(upstream).headers_all("host") == ["client.example:1234"]


@pytest.mark.parametrize("status", [404, 500, 201, 418])
def test_upstream_status_headers_and_body_pass_through(start_gateway, make_upstream, status):
    body = b"upstream says: status %d\n" % status
    up = make_upstream(lambda req, conn: Response(status, [
        ("Content-Type", "text/plain; charset=latin-1"),
        ("Set-Cookie", "a=1; Path=/"), ("Set-Cookie", "b=2; HttpOnly"),
        ("X-Custom", "value"), ("Location", "/elsewhere"), ("Cache-Control", "no-cache")], body))
    gw = start_gateway({"endpoints": [endpoint(up.url(), name="p")]})
    r = gw.get("/p/x")
    assert r.status == status, r
    assert r.body == body
    assert r.header("content-type") == "text/plain; charset=latin-1"
    assert r.headers_all("set-cookie") == ["a=1; Path=/", "b=2; HttpOnly"]
    assert r.header("x-custom") == "value"
    assert r.header("location") == "/elsewhere"
    assert r.header("cache-control") == "no-cache"
    assert r.header("x-request-id")


def test_upstream_502_passes_through_untouched(start_gateway, make_upstream):
    up = make_upstream(lambda req, conn: Response(502, [("Content-Type", "text/html")],
                                                  b"<h1>their 502</h1>"))
    gw = start_gateway({"endpoints": [endpoint(up.url(), name="p")]})
    r = gw.get("/p/x")
    assert r.status == 502
    assert r.header("content-type") == "text/html"
    assert r.body == b"<h1>their 502</h1>"


def test_chunked_upload(gw, upstream):
    body = chunked(b"hello ", b"chunked " * 1000, b"world")
    data = build_request("POST", "/root/up", [("Transfer-Encoding", "chunked")]) + body
    r = gw.raw(data)
    assert r.status == 200, r
    q = only_request(upstream)
    assert q.body == b"hello " + b"chunked " * 1000 + b"world"
    te = (q.header("transfer-encoding") or "").lower()
    assert not (te and q.has("content-length")), q.headers
    assert te in ("", "chunked"), q.headers


def test_chunked_upload_with_trailers_and_extensions(gw, upstream):
    body = b"5;ext=1\r\nhello\r\n0\r\nX-Trailer: t\r\n\r\n"
    data = build_request("POST", "/root/up", [("Transfer-Encoding", "chunked")]) + body
    r = gw.raw(data)
    assert r.status == 200, r
    assert only_request(upstream).body == b"hello"


def test_chunked_download(start_gateway, make_upstream):
    pieces = [b"first ", b"x" * 70000, b" last"]
    up = make_upstream(lambda req, conn: Response(200, [("Content-Type", "text/plain")],
                                                  chunks=list(pieces)))
    gw = start_gateway({"endpoints": [endpoint(up.url(), name="c")]})
    r = gw.get("/c/x")
    assert r.status == 200 and r.complete, r
    assert r.body == b"".join(pieces)


def test_content_length_both_ways(start_gateway, make_upstream):
    up = make_upstream(lambda req, conn: Response(200, [], b"R" * 12345))
    gw = start_gateway({"endpoints": [endpoint(up.url(), name="c")]})
    r = gw.request("PUT", "/c/x", body=b"B" * 5000)
    assert r.status == 200, r
    assert r.header("content-length") == "12345"
    assert r.header("transfer-encoding") is None
    assert r.body == b"R" * 12345
    q = only_request(up)
    assert q.header("content-length") == "5000"
    assert q.header("transfer-encoding") is None
    assert q.body == b"B" * 5000


def test_empty_body_post(gw, upstream):
    r = gw.request("POST", "/root/e", body=b"")
    assert r.status == 200, r
    q = only_request(upstream)
    assert q.body == b"" and q.complete


def test_head_response_without_body(gw, upstream):
    r = gw.request("HEAD", "/root/h")
    assert r.status == 200 and r.body == b""
    assert int(r.header("content-length")) > 0  # what the upstream announced
    assert only_request(upstream).method == "HEAD"


def test_204_and_304_without_body(start_gateway, make_upstream):
    up = make_upstream(lambda req, conn: Response(int(req.path.strip("/")), [("ETag", '"e"')], b""))
    gw = start_gateway({"endpoints": [endpoint(up.url(), name="n")]})
    with RawConn(gw.port) as c:
        for st in (204, 304, 204):
            r = c.request(build_request("GET", f"/n/{st}", close=False))
            assert r.status == st and r.body == b"", r
        r = c.request(build_request("GET", "/n/200", close=False))
        assert r.status == 200


def test_upstream_keepalive_reuse(start_gateway, upstream):
    gw = start_gateway({"threads": 1, "endpoints": [endpoint(upstream.url(), name="k")]})
    for i in range(5):
        r = gw.get(f"/k/{i}")  # a new client connection each time
        assert r.status == 200, r
    assert len(upstream.snapshot()) == 5
    assert upstream.connections == 1


def test_client_keepalive(gw, upstream):
    with RawConn(gw.port) as c:
        for i in range(5):
            r = c.request(build_request("POST", f"/root/{i}", body=b"n%d" % i, close=False))
            assert r.status == 200, r
            assert r.json()["target"] == f"/{i}"
            assert r.json()["body"] == f"n{i}"
        r = c.request(build_request("GET", "/root/last", close=True))
        assert r.status == 200
        assert c.wait_closed(3)
    assert len(upstream.snapshot()) == 6


def test_http10_client(gw, upstream):
    r = gw.raw(b"GET /root/old HTTP/1.0\r\n\r\n")
    assert r.status == 200, r
    assert only_request(upstream).target == "/old"


def test_pipelined_requests_answered_in_order(gw, upstream):
    data = (build_request("GET", "/root/1", close=False)
            + build_request("POST", "/root/2", body=b"two", close=False)
            + build_request("GET", "/root/3", close=True))
    with RawConn(gw.port) as c:
        c.send(data)
        targets = [c.read_response().json()["target"] for _ in range(3)]
    assert targets == ["/1", "/2", "/3"]


def test_large_response_headers_pass_through(start_gateway, make_upstream):
    big = "v" * 6000
    up = make_upstream(lambda req, conn: json_response({}, headers=[("X-Big", big)]))
    gw = start_gateway({"endpoints": [endpoint(up.url(), name="b")]})
    r = gw.get("/b/x")
    assert r.status == 200 and r.header("x-big") == big


def test_client_supplied_forwarding_headers_are_overwritten(gw, upstream):
    hs = [("X-Forwarded-Proto", "https"), ("X-Forwarded-Host", "evil.example"),
          ("X-Forwarded-Prefix", "/admin")]
    assert gw.get("/root/x", hs, host="real.example").status == 200
    q = only_request(upstream)
    assert q.headers_all("x-forwarded-proto") == ["http"]
    assert q.headers_all("x-forwarded-host") == ["real.example"]
    assert q.headers_all("x-forwarded-prefix") == ["/root"]


def test_close_delimited_upstream_response(start_gateway, make_upstream):
    def handler(req, conn):
        conn.send(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n" + b"z" * 50000)
        conn.close()
        return None

    up = make_upstream(handler)
    gw = start_gateway({"endpoints": [endpoint(up.url(), name="cd")]})
    with RawConn(gw.port) as c:
        r = c.request(build_request("GET", "/cd/x", close=False))
    assert r.status == 200 and r.complete, r
    assert r.body == b"z" * 50000


def test_upstream_interim_responses_are_skipped_or_relayed(start_gateway, make_upstream):
    def handler(req, conn):
        conn.send(b"HTTP/1.1 100 Continue\r\n\r\n"
                  b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n")
        return Response(200, [], b"final")

    up = make_upstream(handler)
    gw = start_gateway({"endpoints": [endpoint(up.url(), name="i")]})
    with RawConn(gw.port) as c:
        c.send(build_request("GET", "/i/x"))
        r = c.read_response()  # skips any relayed 1xx
    assert r.status == 200 and r.body == b"final", r


def test_upstream_connection_close_is_honoured(start_gateway, make_upstream):
    up = make_upstream(lambda req, conn: Response(200, [], b"bye", close=True))
    gw = start_gateway({"threads": 1, "endpoints": [endpoint(up.url(), name="cc")]})
    for _ in range(3):
        r = gw.get("/cc/x")
        assert r.status == 200 and r.body == b"bye", r
    assert up.connections == 3
    assert len(up.complete_requests()) == 3


def test_upstream_keepalive_reuse_after_post(start_gateway, upstream):
    gw = start_gateway({"threads": 1, "endpoints": [endpoint(upstream.url(), name="k")]})
    for i in range(3):
        assert gw.request("POST", f"/k/{i}", body=b"b" * 1000).status == 200
        assert gw.get(f"/k/g{i}").status == 200
    assert upstream.connections == 1


def test_root_path_is_404(gw, upstream):
    r = gw.get("/")
    assert r.status == 404
    assert upstream.snapshot() == []


def test_http10_client_gets_dechunked_body(start_gateway, make_upstream):
    up = make_upstream(lambda req, conn: Response(200, [], chunks=[b"abc", b"def" * 1000]))
    gw = start_gateway({"endpoints": [endpoint(up.url(), name="c")]})
    with RawConn(gw.port) as c:
        c.send(b"GET /c/x HTTP/1.0\r\n\r\n")
        head = c.read_head()
        assert head.header("transfer-encoding") is None, head
        r = c.read_body(head)
    assert r.status == 200 and r.body == b"abc" + b"def" * 1000


@pytest.mark.parametrize("method,target,status", [
    ("POST", "/nowhere", 404),      # no route
    ("DELETE", "/ro/x", 405),       # method not allowed
])
def test_body_of_refused_request_is_never_parsed_as_a_request(start_gateway, upstream,
                                                               method, target, status):
    """The body of a request the gateway refuses must be consumed or the connection
    closed: it must never be read as the next request (request smuggling)."""
    gw = start_gateway({"endpoints": [endpoint(upstream.url(), name="ro", methods=["GET"])]})
    smuggled = b"GET /ro/smuggled HTTP/1.1\r\nHost: gw.test\r\n\r\n"
    with RawConn(gw.port) as c:
        c.send(build_request(method, target, body=smuggled, close=False))
        r = c.read_response()
        assert r.status == status, r
        try:
            c.send(build_request("GET", "/ro/next", close=True))
            nxt = c.read_response()
        except (OSError, ConnectionClosed):
            nxt = None  # the gateway closed the connection: fine
    if nxt is not None:
        assert nxt.status == 200, nxt
    assert "/smuggled" not in [q.target for q in upstream.snapshot()]


def test_absolute_form_target(gw, upstream):
    """RFC 9112 3.2.2: a server must accept the absolute form."""
    r = gw.raw(b"GET http://gw.test/root/abs?q=1 HTTP/1.1\r\nHost: gw.test\r\n"
               b"Connection: close\r\n\r\n")
    assert r.status == 200, r
    assert only_request(upstream).target == "/abs?q=1"


def test_obs_text_in_header_value_is_forwarded(gw, upstream):
    r = gw.raw(b"GET /root/x HTTP/1.1\r\nHost: gw.test\r\nX-Latin: caf\xe9\r\n"
               b"Connection: close\r\n\r\n")
    assert r.status == 200, r
    assert only_request(upstream).header("x-latin") == "caf\xe9"


def test_client_disconnect_while_upstream_is_slow(start_gateway, make_upstream):
    def handler(req, conn):
        if req.path == "/slow":
            conn.upstream.stopped.wait(1.0)  # slow on purpose
        return Response(200, [], b"done")

    up = make_upstream(handler)
    gw = start_gateway({"endpoints": [endpoint(up.url(), name="s")]})
    c = RawConn(gw.port)
    c.send(build_request("GET", "/s/slow"))
    up.wait_for_requests(1)
    c.close()  # the client gives up
    r = gw.get("/s/fast")
    assert r.status == 200 and r.body == b"done"


def test_x_forwarded_for_is_the_peer_of_an_ipv6_or_ipv4_client(start_gateway, upstream):
    """The client's address comes with the accepted connection: on a dual-stack listener
    an IPv6 client is forwarded as itself, an IPv4 one as its mapped address."""
    text = yaml.safe_dump(build_config({"listen": "[::]:@PORT@", "threads": 1,
                                        "endpoints": [endpoint(upstream.url(), name="root")]}, 0),
                          sort_keys=False)
    gw = start_gateway(text)
    with RawConn(gw.port, host="::1") as c:
        assert c.request(build_request("GET", "/root/six")).status == 200
    with RawConn(gw.port, host="127.0.0.1") as c:
        assert c.request(build_request("GET", "/root/four")).status == 200
    seen = {q.path: q.header("x-forwarded-for") for q in upstream.snapshot()}
    assert seen == {"/six": "::1", "/four": "::ffff:127.0.0.1"}, seen
