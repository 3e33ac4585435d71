"""SPEC 16 and the GET /dashboard row of SPEC 7, over HTTP: the status page and its files
are served by the gateway itself with the CSP, need no token themselves, and are absent
(404) without auth.jwt unless --insecure-admin. What the page does in a browser is
tests/browser/."""

from __future__ import annotations

import re
import secrets
import signal
import time

import pytest

from gh_gateway import endpoint
from gh_raw import assert_problem

SECRET_ENV = "GH_TEST_JWT_SECRET"
CSP = "default-src 'self'"
ASSETS = {
    "/dashboard/app.js": "text/javascript; charset=utf-8",
    "/dashboard/app.css": "text/css; charset=utf-8",
    "/dashboard/favicon.svg": "image/svg+xml",
}
# The only absolute URL any of the files may hold: the SVG namespace (a name, never fetched).
SVG_NS = "http://www.w3.org/2000/svg"


def jwt_config(upstream, **scopes):
    cfg = {"auth": {"jwt": {"algorithms": ["HS256"], "hmac_secret_env": SECRET_ENV}},
           "endpoints": [endpoint(upstream.url("/api"), name="users")]}
    if scopes:
        cfg["auth"]["scopes"] = scopes
    return cfg


@pytest.fixture
def secret():
    return secrets.token_urlsafe(48)


def meta(html: str, name: str) -> str:
    m = re.search(rf'<meta name="{re.escape(name)}" content="([^"]*)">', html)
    assert m, f"no meta {name} in the page"
    return m.group(1)


def assert_page_headers(r):
    assert r.header("content-security-policy") == CSP, r
    assert len(r.headers_all("content-security-policy")) == 1, r
    assert r.header("x-content-type-options") == "nosniff", r
    assert r.header("x-frame-options") == "DENY", r
    assert r.header("cache-control") == "no-store", r


def test_page_is_served_without_a_token_with_the_csp(start_gateway, upstream, secret):
    gw = start_gateway(jwt_config(upstream), env={SECRET_ENV: secret})
    r = gw.get("/dashboard")
    assert r.status == 200, r
    assert r.header("content-type") == "text/html; charset=utf-8", r
    assert_page_headers(r)
    html = r.text
    assert html.startswith("<!doctype html>")
    assert re.search(r'<meta name="viewport" content="width=device-width, initial-scale=1">', html)
    assert meta(html, "gatehouse-auth") == "bearer"
    assert meta(html, "gatehouse-stats-scope") == "gatehouse:stats"
    assert meta(html, "gatehouse-reload-scope") == "gatehouse:admin"
    assert meta(html, "gatehouse-scope-claim") == "scope"
    # The CSP forbids inline script and style: the page must have none, and load its
    # files from its own origin by absolute path.
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline script"
    assert "<style" not in html and " style=" not in html, "inline style"
    assert not re.search(r"\son\w+=", html), "inline event handler"
    refs = re.findall(r'(?:src|href)="([^"#]+)"', html)
    assert sorted(refs) == sorted(ASSETS), refs
    # The same page at /dashboard/, the API's own paths untouched.
    assert gw.get("/dashboard/").body == r.body
    assert upstream.count() == 0


def test_files_are_embedded_and_make_no_external_reference(start_gateway, upstream, secret):
    gw = start_gateway(jwt_config(upstream), env={SECRET_ENV: secret})
    total = len(gw.get("/dashboard").body)
    for path, ctype in ASSETS.items():
        r = gw.get(path)
        assert r.status == 200, (path, r)
        assert r.header("content-type") == ctype, (path, r)
        assert_page_headers(r)
        text = r.text
        total += len(r.body)
        for url in re.findall(r"(?:https?:)?//[A-Za-z0-9.-]+\.[a-z]{2,}[^\s'\"`)]*", text):
            assert url == SVG_NS, f"{path} refers to {url}"
        assert "@import" not in text and "url(" not in text, path
    # One small page: no framework, no fonts.
    assert total < 64 * 1024, total


def test_head_and_other_methods(start_gateway, upstream, secret):
    gw = start_gateway(jwt_config(upstream), env={SECRET_ENV: secret})
    get = gw.get("/dashboard")
    head = gw.request("HEAD", "/dashboard")
    assert head.status == 200 and head.body == b"", head
    assert head.header("content-length") == str(len(get.body))
    assert_page_headers(head)
    for method in ("POST", "PUT", "DELETE"):
        r = gw.request(method, "/dashboard", body=b"" if method != "DELETE" else None)
        assert_problem(r, 405, "method_not_allowed")
        assert r.header("allow") == "GET, HEAD", r
    assert_problem(gw.get("/dashboard/nope.js"), 404, "no_route")
    assert_problem(gw.get("/dashboard/index.html"), 404, "no_route")
    assert_problem(gw.get("/dashboard/app.js/more"), 404, "no_route")


def test_page_carries_the_configured_scopes_and_follows_reloads(start_gateway, upstream, secret):
    cfg = jwt_config(upstream, stats="ops:read", reload="ops:<reload>")
    cfg["auth"]["jwt"]["scope_claim"] = "scp"
    gw = start_gateway(cfg, env={SECRET_ENV: secret})
    html = gw.get("/dashboard").text
    assert meta(html, "gatehouse-stats-scope") == "ops:read"
    assert meta(html, "gatehouse-reload-scope") == "ops:&lt;reload&gt;"  # escaped
    assert meta(html, "gatehouse-scope-claim") == "scp"
    gw.config_path.write_text(gw.config_text.replace("ops:<reload>", "ops:admin"))
    gw.signal(signal.SIGHUP)
    deadline = time.monotonic() + 5
    while meta(gw.get("/dashboard").text, "gatehouse-reload-scope") != "ops:admin":
        assert time.monotonic() < deadline, gw.log_text()
        time.sleep(0.05)


def test_absent_without_auth_jwt(start_gateway, upstream):
    gw = start_gateway({"endpoints": [endpoint(upstream.url("/api"), name="users")]})
    for path in ("/dashboard", "/dashboard/", "/dashboard/app.js"):
        assert_problem(gw.get(path), 404, "no_route")
    # Absent for every method, as the stats API (no 405 that would reveal it).
    assert_problem(gw.request("POST", "/dashboard", body=b""), 404, "no_route")
    assert_problem(gw.get("/endpoints/stats"), 404, "no_route")
    assert upstream.count() == 0


def test_insecure_admin_serves_it_asking_no_token(start_gateway, upstream):
    gw = start_gateway({"endpoints": [endpoint(upstream.url("/api"), name="users")]},
                       args=["--insecure-admin"])
    r = gw.get("/dashboard")
    assert r.status == 200, r
    assert_page_headers(r)
    assert meta(r.text, "gatehouse-auth") == "none"
    assert gw.get("/dashboard/app.js").status == 200
    # ... and the data it polls is there without a token too.
    assert gw.get("/endpoints/stats").status == 200


def test_insecure_admin_with_auth_jwt_asks_no_token(start_gateway, upstream, secret):
    gw = start_gateway(jwt_config(upstream), env={SECRET_ENV: secret}, args=["--insecure-admin"])
    assert meta(gw.get("/dashboard").text, "gatehouse-auth") == "none"


def test_a_catch_all_prefix_does_not_take_the_page(start_gateway, upstream, secret):
    cfg = jwt_config(upstream)
    cfg["endpoints"] = [endpoint(upstream.url("/api"), name="all", prefix="/")]
    gw = start_gateway(cfg, env={SECRET_ENV: secret})
    assert gw.get("/dashboard").status == 200
    assert gw.get("/dashboardx").status == 200  # not reserved: proxied
    assert upstream.count() == 1
