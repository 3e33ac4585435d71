"""SPEC section 3: routing.  One echo upstream; each endpoint gets its own base path
so the target the upstream received tells which endpoint was chosen."""

import pytest

from gh_gateway import endpoint
from gh_raw import assert_problem


def target_of(resp):
    assert resp.status == 200, resp
    return resp.json()["target"]


@pytest.fixture
def gw_versions(start_gateway, upstream):
    cfg = {"endpoints": [
        endpoint(upstream.url("/users"), name="users"),
        endpoint(upstream.url("/o1"), name="orders", version="v1"),
        endpoint(upstream.url("/o2"), name="orders", version="v2"),
        endpoint(upstream.url("/o10"), name="orders", version="v10"),
        endpoint(upstream.url("/s19"), name="svc", version="1.9"),
        endpoint(upstream.url("/s110"), name="svc", version="1.10"),
    ]}
    return start_gateway(cfg), upstream


def test_default_prefix_is_name(gw_versions):
    gw, _ = gw_versions
    assert target_of(gw.get("/users/42")) == "/users/42"


def test_default_prefix_is_name_and_version(gw_versions):
    gw, _ = gw_versions
    assert target_of(gw.get("/orders/v1/7")) == "/o1/7"
    assert target_of(gw.get("/orders/v2/7")) == "/o2/7"
    assert target_of(gw.get("/orders/v10/7")) == "/o10/7"


def test_bare_name_routes_to_newest_version_natural_order(gw_versions):
    gw, _ = gw_versions
    assert target_of(gw.get("/orders/7")) == "/o10/7"
    assert target_of(gw.get("/svc/7")) == "/s110/7"


def test_bare_name_honours_x_api_version(gw_versions):
    gw, _ = gw_versions
    assert target_of(gw.get("/orders/7", {"X-API-Version": "v2"})) == "/o2/7"
    assert target_of(gw.get("/orders/7", {"X-API-Version": "v1"})) == "/o1/7"
    assert target_of(gw.get("/svc/7", {"X-API-Version": "1.9"})) == "/s19/7"


def test_unknown_api_version_is_404(gw_versions):
    gw, up = gw_versions
    body = assert_problem(gw.get("/orders/7", {"X-API-Version": "v3"}), 404, "no_route")
    assert body["detail"] == 'no version "v3" of "orders"; available: v1, v2, v10'
    # A hostile value is quoted escaped and cut, and the answer stays valid JSON.
    odd = assert_problem(gw.get("/orders/7", {"X-API-Version": "\xff\"" + "x" * 100}),
                         404, "no_route")
    assert odd["detail"].startswith('no version "\\xff\\x22xxx'), odd["detail"]
    assert "x" * 61 not in odd["detail"]
    assert up.snapshot() == []


def test_bare_name_owned_by_an_endpoint_is_not_version_routed(start_gateway, upstream):
    gw = start_gateway({"endpoints": [
        endpoint(upstream.url("/plain"), name="catalog-plain", prefix="/catalog"),
        endpoint(upstream.url("/c1"), name="catalog", version="v1"),
    ]})
    assert target_of(gw.get("/catalog/x")) == "/plain/x"
    assert target_of(gw.get("/catalog/x", {"X-API-Version": "v1"})) == "/plain/x"
    assert target_of(gw.get("/catalog/v1/x")) == "/c1/x"


def test_whole_segment_match(gw_versions):
    gw, up = gw_versions
    assert target_of(gw.get("/users")) == "/users"
    assert target_of(gw.get("/users/")) == "/users/"
    assert_problem(gw.get("/usersx"), 404, "no_route")
    assert_problem(gw.get("/usersx/1"), 404, "no_route")
    assert all(r.target.startswith("/users") for r in up.snapshot())
    assert len(up.snapshot()) == 2


def test_no_match_is_404_problem(gw_versions):
    gw, up = gw_versions
    doc = assert_problem(gw.get("/nothing/here"), 404, "no_route")
    assert doc["type"]
    assert up.snapshot() == []


def test_longest_prefix_wins(start_gateway, upstream):
    gw = start_gateway({"endpoints": [
        endpoint(upstream.url("/short"), name="short", prefix="/api"),
        endpoint(upstream.url("/long"), name="long", prefix="/api/admin"),
    ]})
    assert target_of(gw.get("/api/admin/x")) == "/long/x"
    assert target_of(gw.get("/api/admin")) == "/long"
    assert target_of(gw.get("/api/adminx")) == "/short/adminx"
    assert target_of(gw.get("/api/other/y")) == "/short/other/y"


def test_method_not_allowed_405_with_allow_and_no_fallthrough(start_gateway, upstream):
    gw = start_gateway({"endpoints": [
        endpoint(upstream.url("/short"), name="short", prefix="/api"),
        endpoint(upstream.url("/long"), name="long", prefix="/api/admin",
                 methods=["GET", "put"]),
    ]})
    r = gw.request("POST", "/api/admin/x", body=b"{}")
    assert_problem(r, 405, "method_not_allowed")
    allow = {m.strip() for m in (r.header("allow") or "").split(",")}
    assert {"GET", "HEAD", "PUT"} <= allow, r
    assert "POST" not in allow
    assert r.header("x-request-id")
    assert up_targets(upstream) == []
    # methods are upper-cased on load: "put" allows PUT
    assert target_of(gw.request("PUT", "/api/admin/x", body=b"x")) == "/long/x"


def up_targets(up):
    return [r.target for r in up.snapshot()]


def test_head_allowed_where_get_is(start_gateway, upstream):
    gw = start_gateway({"endpoints": [
        endpoint(upstream.url("/g"), name="g", methods=["GET"]),
    ]})
    r = gw.request("HEAD", "/g/x")
    assert r.status == 200, r
    assert r.body == b""
    reqs = upstream.snapshot()
    assert [(q.method, q.target) for q in reqs] == [("HEAD", "/g/x")]


def test_disabled_endpoint_is_404(start_gateway, upstream):
    gw = start_gateway({"endpoints": [
        endpoint(upstream.url("/on"), name="on"),
        endpoint(upstream.url("/off"), name="off", disabled=True),
    ]})
    assert_problem(gw.get("/off/x"), 404, "no_route")
    assert target_of(gw.get("/on/x")) == "/on/x"
    assert up_targets(upstream) == ["/on/x"]


def test_disabled_endpoint_may_share_a_prefix(start_gateway, upstream):
    gw = start_gateway({"endpoints": [
        endpoint(upstream.url("/new"), name="new", prefix="/shared"),
        endpoint(upstream.url("/old"), name="old", prefix="/shared", disabled=True),
    ]})
    assert target_of(gw.get("/shared/x")) == "/new/x"


@pytest.fixture
def gw_norm(start_gateway, upstream):
    gw = start_gateway({"endpoints": [
        endpoint(upstream.url("/base"), name="users"),
        endpoint(upstream.url("/secret"), name="admin"),
    ]})
    return gw, upstream


@pytest.mark.parametrize("path,expected", [
    ("/users/a/../b", "/base/b"),
    ("/users/./a/./b", "/base/a/b"),
    ("/users/a/%2e%2e/b", "/base/b"),
    ("/users/a/%2E%2E/b", "/base/b"),
    ("/users/%7Ejohn", "/base/~john"),
    ("/users/a//b", "/base/a//b"),
    ("/users/a/b/..", "/base/a/"),
    ("/users/a/../b?q=../x&r=%2e%2e", "/base/b?q=../x&r=%2e%2e"),
])
def test_path_normalisation(gw_norm, path, expected):
    gw, _ = gw_norm
    assert target_of(gw.get(path)) == expected


@pytest.mark.parametrize("path,expected", [
    ("/users/a%2Fb", "/base/a%2Fb"),
    ("/users/a%2fb", "/base/a%2Fb"),
    ("/users/a%5Cb", "/base/a%5Cb"),
    ("/users/a%2F..%2Fb", "/base/a%2F..%2Fb"),
])
def test_encoded_slash_and_backslash_stay_encoded(gw_norm, path, expected):
    gw, _ = gw_norm
    # hex case of kept escapes is not part of the contract
    assert target_of(gw.get(path)).lower() == expected.lower()


def test_dot_segments_route_after_normalisation(gw_norm):
    """/users/../admin/x is routed as /admin/x, never forwarded to the users endpoint."""
    gw, up = gw_norm
    assert target_of(gw.get("/users/../admin/x")) == "/secret/x"
    assert target_of(gw.get("/users/%2e%2e/admin/x")) == "/secret/x"
    assert all(not r.target.startswith("/base") for r in up.snapshot())


def test_dot_segments_cannot_escape_to_unrouted_path(gw_norm):
    gw, up = gw_norm
    assert_problem(gw.get("/users/../../etc/passwd"), 404, "no_route")
    assert up.snapshot() == []


def test_x_api_version_ignored_on_versioned_path(gw_versions):
    gw, _ = gw_versions
    assert target_of(gw.get("/orders/v1/7", {"X-API-Version": "v2"})) == "/o1/7"


def test_head_not_allowed_when_get_is_not(start_gateway, upstream):
    gw = start_gateway({"endpoints": [endpoint(upstream.url(), name="w", methods=["POST"])]})
    r = gw.request("HEAD", "/w/x")
    assert r.status == 405
    assert "POST" in (r.header("allow") or "")
    assert upstream.snapshot() == []
