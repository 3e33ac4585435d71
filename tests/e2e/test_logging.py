"""SPEC sections 8 and 9: problem+json errors and the access log."""

import json

import pytest

from gh_gateway import endpoint
from gh_raw import assert_problem
from gh_upstream import Response


def json_lines(text):
    out = []
    for line in text.splitlines():
        if line.strip():
            out.append(json.loads(line))
    return out


def lines_with(text, needle):
    return [line for line in text.splitlines() if needle in line]


@pytest.fixture
def json_gw(start_gateway, make_upstream):
    up = make_upstream(lambda req, conn: Response(201, [], b"created!"))
    gw = start_gateway({"log": {"format": "json", "level": "info", "access_log": True},
                        "endpoints": [endpoint(up.url("/b"), name="users", version="v1")]})
    return gw, up


def access_entry(gw, rid):
    text = gw.wait_log(lambda t: rid in t)
    entries = [e for e in json_lines(text) if rid in json.dumps(e)]
    assert len(entries) == 1, f"expected one access line for {rid}:\n{text}"
    return entries[0]


def test_json_log_every_line_is_json(json_gw):
    gw, _ = json_gw
    rid = "json-lines-1"
    gw.request("POST", "/users/v1/x", {"X-Request-Id": rid}, body=b"abc")
    text = gw.wait_log(lambda t: rid in t)
    for line in text.splitlines():
        if line.strip():
            try:
                json.loads(line)
            except ValueError:
                pytest.fail(f"not a JSON line: {line!r}\nlog:\n{text}")


def test_json_access_log_core_fields(json_gw):
    gw, _ = json_gw
    rid = "json-access-1"
    r = gw.request("POST", "/users/v1/x?y=1", {"X-Request-Id": rid}, body=b"abc")
    assert r.status == 201
    e = access_entry(gw, rid)
    assert e["request_id"] == rid
    assert e["method"] == "POST"
    assert e["path"] == "/users/v1/x", e  # normalised, without the query
    assert e["status"] == 201
    assert e["endpoint"] == "users@v1"


def test_json_access_log_has_all_spec_fields(json_gw):
    """SPEC 9's fields, under the names docs/operations.md gives them."""
    gw, _ = json_gw
    rid = "json-access-2"
    gw.request("POST", "/users/v1/x", {"X-Request-Id": rid}, body=b"abcd")
    e = access_entry(gw, rid)
    expected = {"time", "level", "msg", "request_id", "client", "method", "path", "status",
                "endpoint", "upstream_status", "bytes_in", "bytes_out", "duration_ms",
                "breaker", "fallback"}
    assert expected <= set(e), f"access line lacks {sorted(expected - set(e))}: {e}"
    assert e["msg"] == "access"
    assert e["upstream_status"] == 201
    # Bytes on the wire, head and body (as nginx's $request_length and $bytes_sent).
    assert e["bytes_in"] > 4
    assert e["bytes_out"] > len(b"created!")
    assert isinstance(e["duration_ms"], (int, float)) and e["duration_ms"] >= 0
    assert e["breaker"] == "closed"
    assert e["fallback"] == ""
    assert e["client"].startswith("127.0.0.1")


def test_json_access_log_for_gateway_error(json_gw):
    gw, up = json_gw
    rid = "json-access-404"
    assert_problem(gw.get("/nope", {"X-Request-Id": rid}), 404, "no_route")
    e = access_entry(gw, rid)
    assert e["status"] == 404
    assert e["endpoint"] == ""  # docs/operations.md: "" when no route matched
    assert e["upstream_status"] is None  # no upstream answered
    assert e["method"] == "GET"


def test_one_access_line_per_request_json(json_gw):
    gw, _ = json_gw
    for i in range(5):
        gw.get(f"/users/v1/{i}", {"X-Request-Id": f"count-{i}-rid"})
    # Each thread writes its access lines in batches: lines of requests served by
    # different threads may appear out of order, so wait for all of them.
    text = gw.wait_log(lambda t: all(f"count-{i}-rid" in t for i in range(5)))
    for i in range(5):
        assert len(lines_with(text, f"count-{i}-rid")) == 1, text


def test_text_access_log_one_line_per_request(start_gateway, upstream):
    gw = start_gateway({"log": {"format": "text", "access_log": True},
                        "endpoints": [endpoint(upstream.url(), name="t")]})
    for i in range(3):
        assert gw.get(f"/t/p{i}", {"X-Request-Id": f"text-rid-{i}"}).status == 200
    text = gw.wait_log(lambda t: all(f"text-rid-{i}" in t for i in range(3)))
    for i in range(3):
        ls = lines_with(text, f"text-rid-{i}")
        assert len(ls) == 1, text
        assert f"/t/p{i}" in ls[0] and "200" in ls[0] and "GET" in ls[0], ls[0]


def test_access_log_disabled(start_gateway, upstream):
    gw = start_gateway({"log": {"format": "text", "access_log": False},
                        "endpoints": [endpoint(upstream.url(), name="t")]})
    assert gw.get("/t/x", {"X-Request-Id": "no-access-log-rid"}).status == 200
    assert gw.get("/nope", {"X-Request-Id": "no-access-log-rid2"}).status == 404
    # the gateway stops (flushing its logs) before we look
    assert gw.stop() == 0
    assert "no-access-log-rid" not in gw.log_text()


def test_problem_json_shape(start_gateway, upstream):
    gw = start_gateway({"endpoints": [endpoint(upstream.url(), name="t", methods=["GET"])]})
    doc = assert_problem(gw.request("DELETE", "/t/x"), 405, "method_not_allowed")
    assert doc["title"] and isinstance(doc["title"], str)
    assert doc["title"] == "Method Not Allowed"
    assert doc["type"] == "about:blank"  # SPEC 8
    assert doc["status"] == 405
    assert isinstance(doc["detail"], str) and doc["detail"]
    assert doc["endpoint"] == "t"  # SPEC 8: the endpoint, where one is known
