"""SPEC sections 2 and 7: what a refused reload answers (a 422 that is valid UTF-8 JSON
whatever bytes the file holds, at most 1,000 errors listed with `error_count` the total,
values quoted and escaped), and a deleted disabled endpoint in the report's `removed`."""

import json

import yaml

from gh_gateway import build_config, endpoint
from gh_raw import assert_problem

RELOAD = "/endpoints/reload"


def strict_json(body: bytes):
    """The body as JSON, refusing anything that is not UTF-8."""
    return json.loads(body.decode("utf-8", "strict"))


def refused(gw) -> dict:
    r = gw.request("POST", RELOAD)
    assert_problem(r, 422, "invalid_config")
    doc = strict_json(r.body)
    assert len(doc["errors"]) <= doc["error_count"], doc
    return doc


def start(start_gateway, upstream, **cfg):
    cfg.setdefault("endpoints", [endpoint(upstream.url(), name="keep")])
    return start_gateway(cfg, args=["--insecure-admin"])


def test_file_that_is_not_utf8_is_refused_with_the_offset(start_gateway, upstream):
    gw = start(start_gateway, upstream)
    good = gw.config_path.read_bytes()
    data = good + b"# caf\xc3\xa9 then a stray \xff byte\n"
    gw.config_path.write_bytes(data)
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as e:
        offset = e.start
    doc = refused(gw)
    assert doc["error_count"] == 1, doc
    message = doc["errors"][0]["message"]
    assert f"at offset {offset} (counted from 0)" in message, message
    assert "0xFF" in message and "not UTF-8" in message, message
    assert doc["errors"][0]["line"] == good.count(b"\n") + 1, doc
    assert gw.get("/keep/x").status == 200


def test_error_list_is_capped_at_1000_with_the_total(start_gateway, upstream):
    gw = start(start_gateway, upstream)
    text = gw.config_path.read_text() + "".join(f"unknown_{i}: 1\n" for i in range(1500))
    gw.config_path.write_text(text)
    doc = refused(gw)
    assert doc["error_count"] == 1500, doc["error_count"]
    assert len(doc["errors"]) == 1000
    lines = [e["line"] for e in doc["errors"]]
    assert lines == sorted(lines), "the first errors by position are listed"
    assert doc["errors"][0]["path"] == "unknown_0", doc["errors"][0]


def test_values_are_quoted_escaped_and_cut(start_gateway, upstream):
    gw = start(start_gateway, upstream)
    cfg = build_config({"endpoints": [
        endpoint("ftp://127.0.0.1:9003", name="files"),
        endpoint(upstream.url(), name="a\tb\x01\"c\\"),  # YAML escapes put these bytes in
        endpoint(upstream.url(), name="x" * 100 + " y"),  # a space: not a valid name
    ]}, gw.port)
    gw.config_path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    doc = refused(gw)
    by_path = {e["path"]: e["message"] for e in doc["errors"]}
    assert by_path["endpoints[0].url"] == \
        '"ftp://127.0.0.1:9003": must be an http:// or https:// URL', by_path
    assert by_path["endpoints[1].name"].startswith('"a\\tb\\u0001\\"c\\\\": '), by_path
    assert by_path["endpoints[2].name"].startswith('"' + "x" * 60 + '"...: '), by_path
    for message in by_path.values():
        assert not any(ord(c) < 0x20 for c in message), message


def test_too_deep_and_unclosed_quote_are_refused_with_the_reason(start_gateway, upstream):
    gw = start(start_gateway, upstream)
    gw.config_path.write_text("listen: " + "[" * 100000 + "\n")
    doc = refused(gw)
    assert "nested deeper than 64 levels" in doc["errors"][0]["message"], doc
    gw.config_path.write_text("threads: 2\nlisten: \"127.0.0.1:1\nendpoints: []\n")
    doc = refused(gw)
    assert doc["error_count"] == 1, doc
    e = doc["errors"][0]
    assert (e["line"], e["column"]) == (2, 9), e
    assert "never closed" in e["message"], e
    assert gw.get("/keep/x").status == 200


def test_deleted_disabled_endpoint_is_in_removed(start_gateway, upstream):
    gw = start(start_gateway, upstream, endpoints=[
        endpoint(upstream.url(), name="keep"),
        endpoint(upstream.url("/legacy"), name="legacy", disabled=True)])
    cfg = build_config({"endpoints": [endpoint(upstream.url(), name="keep")]}, gw.port)
    gw.config_path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    r = gw.request("POST", RELOAD)
    assert r.status == 200, r
    doc = r.json()
    assert doc["result"] == "applied", doc
    assert doc["removed"] == ["legacy"], doc
    assert doc["disabled"] == [] and doc["unchanged"] == ["keep"], doc
    assert doc["config_version"] == 2, doc
    stats = gw.get("/endpoints/stats").json()
    assert [e["id"] for e in stats["endpoints"]] == ["keep"], stats
