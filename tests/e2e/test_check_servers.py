"""SPEC sections 2 and 13, the configuration side: `url` as a list of servers,
`load_balancing`, `hash_key` and `retries` through `gatehouse check` (every error with
its key path, line and column; `--routes` listing every server) and through a reload
(a changed server list is a change; a broken one is refused with its position)."""

import json
import textwrap

from gh_gateway import run_cli


def out(p):
    return p.stdout + p.stderr


def check(tmp_path, text, *extra):
    f = tmp_path / "gatehouse.yaml"
    f.write_text(textwrap.dedent(text))
    return f, run_cli(["check", "-c", str(f), *extra])


def test_check_accepts_servers_policies_and_retries(tmp_path):
    f, p = check(tmp_path, """\
        listen: 127.0.0.1:18080
        defaults:
          retries: {attempts: 1, budget: 10%}
        endpoints:
          - name: users
            url:
              - http://127.0.0.1:9001/api
              - {url: http://127.0.0.1:9002/api, weight: 3}
            load_balancing: hash
            hash_key: header:X-User-Id
            retries:
              attempts: 2
              on: [connect_failure, reset, timeout, 502, 503, 504]
              methods: [GET, HEAD, OPTIONS, PUT, DELETE]
              per_try_timeout: 5s
              budget: 20%
          - name: orders
            url: [http://127.0.0.1:9003, http://127.0.0.1:9004]
            load_balancing: least_request
          - {name: single, url: http://127.0.0.1:9005/s}
        """, "--routes")
    assert p.returncode == 0, out(p)
    lines = p.stdout.splitlines()
    assert lines[0] == f"{f}: ok (3 endpoints, 3 enabled)", out(p)
    table = lines[2:]
    servers_at = table[0].index("SERVERS")
    rows = {line.split()[0]: line[servers_at:] for line in table[1:]}
    assert rows == {
        "/orders": "http://127.0.0.1:9003, http://127.0.0.1:9004",
        "/single": "http://127.0.0.1:9005/s",
        "/users": "http://127.0.0.1:9001/api, http://127.0.0.1:9002/api (weight 3)",
    }, out(p)


# Line and column numbers below are asserted: keep this text exactly as it is.
BROKEN = """\
listen: 127.0.0.1:18080
defaults:
  retries: {budget: 120%, attempts: -1}
endpoints:
  - name: users
    url:
      - http://127.0.0.1:9001/api
      - https://127.0.0.1:9002/api
      - {url: http://127.0.0.1:9003/v2, weight: 0}
      - {url: "http://127.0.0.1:9001/api"}
    load_balancing: hash
  - name: orders
    url: []
    load_balancing: fair
    hash_key: client_ip
  - name: carts
    url: http://127.0.0.1:9010
    hash_key: "cookie:"
    retries:
      on: [reset, 500]
      methods: [GET, "P OST"]
      per_try_timeout: 0s
      atempts: 2
"""


def test_check_reports_every_rule_with_key_line_and_column(tmp_path):
    _, p = check(tmp_path, BROKEN)
    assert p.returncode == 1, out(p)
    assert p.stdout == "", out(p)
    expected = [
        'defaults.retries.budget (line 3, col 21): "120%": must be a percentage from 0% to '
        '100% (e.g. "20%")',
        'defaults.retries.attempts (line 3, col 37): "-1": must be a non-negative integer',
        'endpoints[0].url[1] (line 8, col 9): "https://127.0.0.1:9002/api": must use the same '
        'scheme as the first server (http://)',
        'endpoints[0].url[2].weight (line 9, col 49): "0": must be an integer from 1 to 256',
        'endpoints[0].url[3].url (line 10, col 15): "http://127.0.0.1:9001/api": is listed '
        'twice (first at line 7, col 9)',
        'endpoints[0].load_balancing (line 11, col 21): "hash": needs a hash_key (client_ip, '
        'header:NAME, cookie:NAME or query:NAME)',
        'endpoints[1].url (line 13, col 10): must list at least one server',
        'endpoints[1].load_balancing (line 14, col 21): "fair": must be one of round_robin, '
        'least_request, random, hash',
        'endpoints[2].hash_key (line 18, col 15): "cookie:": must be client_ip, header:NAME, '
        'cookie:NAME or query:NAME',
        'endpoints[2].hash_key (line 18, col 5): applies to load_balancing: hash only',
        'endpoints[2].retries.on[1] (line 20, col 19): "500": must be one of connect_failure, '
        'reset, timeout, 502, 503, 504',
        'endpoints[2].retries.methods[1] (line 21, col 22): "P OST": is not a valid HTTP '
        'method token',
        'endpoints[2].retries.per_try_timeout (line 22, col 24): "0s": must be greater than 0',
        'endpoints[2].retries.atempts (line 23, col 7): unknown key; did you mean "attempts"?',
    ]
    got = p.stderr.splitlines()
    for line in expected:
        assert line in got, f"missing: {line}\n{out(p)}"
    assert got[-1] == f"{len(expected)} errors", out(p)
    assert len(got) == len(expected) + 1, out(p)


def test_a_single_url_string_reads_as_before(tmp_path):
    _, p = check(tmp_path, """\
        endpoints:
          - name: files
            url: ftp://127.0.0.1:9003
        """)
    assert p.returncode == 1, out(p)
    assert p.stderr == ('endpoints[0].url (line 3, col 10): "ftp://127.0.0.1:9003": must be an '
                        'http:// or https:// URL\n1 error\n'), out(p)


def reload(gw):
    r = gw.request("POST", "/endpoints/reload")
    return r.status, json.loads(r.body)


def test_reload_reports_a_changed_server_list_and_refuses_a_broken_one(start_gateway, upstream):
    base = f"http://127.0.0.1:{upstream.port}"
    text = textwrap.dedent(f"""\
        endpoints:
          - name: svc
            health_check: false
            url: [{base}/a, "http://127.0.0.1:1/a"]
          - name: other
            health_check: false
            url: {base}/o
        """)
    gw = start_gateway(text, args=["--insecure-admin"])
    assert gw.get("/other/x").status == 200

    weighted = text.replace('"http://127.0.0.1:1/a"', '{url: "http://127.0.0.1:1/a", weight: 2}')
    gw.config_path.write_text(f"listen: 127.0.0.1:{gw.port}\n" + weighted)
    status, doc = reload(gw)
    assert status == 200, doc
    assert doc["result"] == "applied" and doc["updated"] == ["svc"], doc
    assert doc["unchanged"] == ["other"], doc

    broken = text.replace('"http://127.0.0.1:1/a"', '"https://127.0.0.1:1/a"')
    gw.config_path.write_text(f"listen: 127.0.0.1:{gw.port}\n" + broken)
    status, doc = reload(gw)
    assert status == 422, doc
    assert doc["error_count"] == 1, doc
    [err] = doc["errors"]
    url_line = (f"listen: 127.0.0.1:{gw.port}\n" + broken).splitlines()[4]
    assert err == {"path": "endpoints[0].url[1]", "line": 5,
                   "column": url_line.index('"https') + 1,
                   "message": '"https://127.0.0.1:1/a": must use the same scheme as the first '
                              'server (http://)'}, doc
    assert gw.get("/other/x").status == 200  # the old config is kept
