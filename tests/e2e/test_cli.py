"""SPEC section 1 (command line) and the error reporting of section 2."""

import re
import subprocess
import textwrap

from gh_gateway import endpoint, gatehouse_bin, run_cli

VALID = textwrap.dedent("""\
    listen: 127.0.0.1:18080
    endpoints:
      - url: http://127.0.0.1:9001/api
        name: users
        version: v1
        health_check: false
    """)

# Line and column numbers below are asserted: keep this text exactly as it is.
INVALID = textwrap.dedent("""\
    listen: 127.0.0.1:18080
    endpoints:
      - url: ftp://example.com/x
        name: a
      - url: http://127.0.0.1:9002/b
        name: b
        prefx: /b
    """)


def out(p):
    return p.stdout + p.stderr


def test_version_prints_a_version():
    p = run_cli(["version"])
    assert p.returncode == 0, out(p)
    assert re.search(r"\d+\.\d+\.\d+", p.stdout), out(p)


def test_check_valid_file_exits_0(tmp_path):
    f = tmp_path / "ok.yaml"
    f.write_text(VALID)
    p = run_cli(["check", "-c", str(f)])
    assert p.returncode == 0, out(p)


def test_check_reports_every_error_with_path_line_and_column(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text(INVALID)
    p = run_cli(["check", "-c", str(f)])
    text = out(p)
    assert p.returncode == 1, text
    # the bad url: value at line 3, column 10 ("  - url: " is 9 characters)
    assert re.search(r"endpoints\[0\]\.url\b.*line 3\b.*col(umn)? 10\b", text), text
    # the unknown key, with a hint: key at line 7, column 5
    assert re.search(r"endpoints\[1\]\.prefx\b.*line 7\b.*col(umn)? 5\b", text), text
    hint = [line for line in text.splitlines() if "prefx" in line]
    assert any("did you mean" in line.lower() and "prefix" in line for line in hint), text


def test_check_reports_duplicate_keys(tmp_path):
    f = tmp_path / "dup.yaml"
    f.write_text(textwrap.dedent("""\
        listen: 127.0.0.1:18080
        endpoints:
          - url: http://127.0.0.1:9001/api
            name: users
            name: people
            health_check: false
        """))
    p = run_cli(["check", "-c", str(f)])
    assert p.returncode == 1, out(p)
    assert re.search(r"endpoints\[0\]\.name\b.*line 5\b", out(p)), out(p)


def test_check_missing_file_exits_1_with_message(tmp_path):
    missing = tmp_path / "nope.yaml"
    p = run_cli(["check", "-c", str(missing)])
    assert p.returncode == 1, out(p)
    assert "nope.yaml" in out(p), out(p)


def test_run_with_invalid_config_exits_1(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text(INVALID)
    p = run_cli(["run", "-c", str(f)])
    assert p.returncode == 1, out(p)
    assert "endpoints[0].url" in out(p), out(p)


def test_run_with_missing_file_exits_1(tmp_path):
    p = run_cli(["run", "-c", str(tmp_path / "absent.yaml")])
    assert p.returncode == 1, out(p)
    assert "absent.yaml" in out(p), out(p)


def test_unknown_option_is_usage_error():
    p = run_cli(["--definitely-not-an-option"])
    assert p.returncode == 2, out(p)


def test_unknown_subcommand_is_usage_error():
    p = run_cli(["frobnicate"])
    assert p.returncode == 2, out(p)


def test_check_without_config_is_usage_error():
    p = run_cli(["check"])
    assert p.returncode == 2, out(p)


def test_bare_dash_c_runs_the_gateway(start_gateway, upstream):
    gw = start_gateway({"endpoints": [endpoint(upstream.url("/b"), name="svc")]}, style="bare")
    r = gw.get("/svc/x")
    assert r.status == 200, r
    assert r.json()["target"] == "/b/x"


def test_env_log_level_debug_accepted(start_gateway, upstream):
    gw = start_gateway({"endpoints": [endpoint(upstream.url(), name="svc")]},
                       env={"GATEHOUSE_LOG_LEVEL": "debug"})
    assert gw.get("/svc/x").status == 200


def test_log_level_flag_accepted(start_gateway, upstream):
    gw = start_gateway({"endpoints": [endpoint(upstream.url(), name="svc")]},
                       args=["--log-level", "debug"])
    assert gw.get("/svc/x").status == 200


def _quiet_config(upstream):
    return {"log": {"level": "info", "access_log": False},
            "endpoints": [endpoint(upstream.url(), name="svc")]}


def test_config_load_is_logged_at_info(start_gateway, upstream):
    """Control for the two tests below: at info a config load line is written."""
    gw = start_gateway(_quiet_config(upstream))
    assert gw.get("/svc/x").status == 200
    gw.wait_log(lambda t: t.strip() != "")


def test_env_log_level_overrides_file(start_gateway, upstream):
    gw = start_gateway(_quiet_config(upstream), env={"GATEHOUSE_LOG_LEVEL": "error"})
    assert gw.get("/svc/x").status == 200
    assert gw.log_text().strip() == "", gw.log_text()


def test_log_level_flag_overrides_env_and_file(start_gateway, upstream):
    gw = start_gateway(_quiet_config(upstream), env={"GATEHOUSE_LOG_LEVEL": "info"},
                       args=["--log-level", "error"])
    assert gw.get("/svc/x").status == 200
    assert gw.log_text().strip() == "", gw.log_text()


# ---- SPEC 1: --version, check --routes, messages ----------------------------------------

def test_dash_dash_version_prints_the_version():
    p = run_cli(["--version"])
    assert p.returncode == 0, out(p)
    assert p.stdout.strip() == run_cli(["version"]).stdout.strip(), out(p)
    assert re.fullmatch(r"gatehouse \d+\.\d+\.\d+", p.stdout.strip()), out(p)


def test_check_ok_line_counts_with_grammar(tmp_path):
    f = tmp_path / "one.yaml"
    f.write_text("endpoints:\n  - {url: 'http://127.0.0.1:9001', name: a}\n")
    p = run_cli(["check", "-c", str(f)])
    assert p.returncode == 0, out(p)
    assert p.stdout == f"{f}: ok (1 endpoint, 1 enabled)\n", out(p)
    f.write_text(VALID)
    assert run_cli(["check", "-c", str(f)]).stdout == f"{f}: ok (1 endpoint, 1 enabled)\n"


ROUTES = textwrap.dedent("""\
    listen: 127.0.0.1:18080
    endpoints:
      - {url: http://127.0.0.1:9001/api, name: users, version: v1}
      - {url: http://127.0.0.1:9002/api, name: users, version: v10}
      - {url: http://127.0.0.1:9003/api, name: users, version: v9}
      - {url: http://127.0.0.1:9004/o, name: orders, methods: [get, POST]}
      - {url: http://127.0.0.1:9005/, name: legacy, disabled: true}
      - {url: http://127.0.0.1:9006/x, prefix: /anon}
    """)


def test_check_routes_prints_the_route_table(tmp_path):
    f = tmp_path / "routes.yaml"
    f.write_text(ROUTES)
    p = run_cli(["check", "-c", str(f), "--routes"])
    assert p.returncode == 0, out(p)
    lines = p.stdout.splitlines()
    assert lines[0] == f"{f}: ok (6 endpoints, 5 enabled)", out(p)
    assert lines[1] == "", out(p)
    table = lines[2:]
    # aligned columns: every column starts where its header does
    header = table[0]
    assert header.split() == ["PREFIX", "METHODS", "ENDPOINT", "SERVERS"], out(p)
    starts = [header.index(h) for h in ("METHODS", "ENDPOINT", "SERVERS")]
    for line in table[1:]:
        for s in starts:
            assert line[s - 2:s] == "  " and line[s] != " ", (line, out(p))
        assert line == line.rstrip(), repr(line)
    rows = [[line[:starts[0]].strip(), line[starts[0]:starts[1]].strip(),
             line[starts[1]:starts[2]].strip(), line[starts[2]:].strip()] for line in table[1:]]
    assert rows == [
        ["/anon", "*", "http://127.0.0.1:9006/x", "http://127.0.0.1:9006/x"],
        ["/orders", "GET,POST", "orders", "http://127.0.0.1:9004/o"],
        ["/users", "*", "users@v10 (newest; X-API-Version picks v1, v9, v10)",
         "http://127.0.0.1:9002/api"],
        ["/users/v1", "*", "users@v1", "http://127.0.0.1:9001/api"],
        ["/users/v10", "*", "users@v10", "http://127.0.0.1:9002/api"],
        ["/users/v9", "*", "users@v9", "http://127.0.0.1:9003/api"],
    ], out(p)
    # without the flag: no table
    assert run_cli(["check", "-c", str(f)]).stdout == lines[0] + "\n"


def test_check_routes_with_an_invalid_file_prints_only_errors(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text(INVALID)
    p = run_cli(["check", "--routes", "-c", str(f)])
    assert p.returncode == 1, out(p)
    assert "PREFIX" not in out(p), out(p)


SPEC_EXAMPLE = textwrap.dedent("""\
    listen: 127.0.0.1:18080
    endpoints:
      - name: files
        url: ftp://127.0.0.1:9003
    """)


def test_check_quotes_the_offending_value_as_spec_1_shows(tmp_path):
    f = tmp_path / "ftp.yaml"
    f.write_text(SPEC_EXAMPLE)
    p = run_cli(["check", "-c", str(f)])
    assert p.returncode == 1, out(p)
    assert p.stderr == ('endpoints[0].url (line 4, col 10): "ftp://127.0.0.1:9003": must be an '
                        'http:// or https:// URL\n1 error\n'), out(p)


def test_check_names_a_tab_used_for_indentation(tmp_path):
    f = tmp_path / "tab.yaml"
    f.write_text("endpoints:\n  - url: http://127.0.0.1:9001\n\tname: a\n")
    p = run_cli(["check", "-c", str(f)])
    assert p.returncode == 1, out(p)
    assert re.match(r"line 3, col 1: invalid YAML: a tab is used for indentation", p.stderr), out(p)


def test_check_points_at_an_unclosed_quote(tmp_path):
    f = tmp_path / "quote.yaml"
    f.write_text(textwrap.dedent("""\
        listen: 127.0.0.1:18080
        endpoints:
          - url: "http://127.0.0.1:9001
            name: a
          - url: http://127.0.0.1:9002
            name: b
        """))
    p = run_cli(["check", "-c", str(f)])
    assert p.returncode == 1, out(p)
    assert p.stderr.startswith("line 3, col 10: invalid YAML: the double quote opened here is "
                               "never closed"), out(p)


def test_check_refuses_deep_nesting_non_utf8_and_huge_files(tmp_path):
    f = tmp_path / "deep.yaml"
    f.write_text("listen: " + "[" * 100000 + "]" * 100000 + "\n")
    p = run_cli(["check", "-c", str(f)])
    assert p.returncode == 1 and "nested deeper than 64 levels" in p.stderr, out(p)

    f = tmp_path / "latin1.yaml"
    data = "listen: 127.0.0.1:18080\n# café\n".encode("latin-1")
    f.write_bytes(data)
    raw = subprocess.run([gatehouse_bin(), "check", "-c", str(f)], capture_output=True,
                         timeout=15, stdin=subprocess.DEVNULL)
    assert raw.returncode == 1, raw
    text = raw.stderr.decode("utf-8", "strict")  # the output is UTF-8 whatever the file held
    assert f"offset {data.index(0xE9)} (counted from 0)" in text, text

    f = tmp_path / "huge.yaml"
    with open(f, "wb") as fh:  # sparse: 64 MiB + 1 byte that take no disk space
        fh.truncate(64 * 1024 * 1024 + 1)
    p = run_cli(["check", "-c", str(f)])
    assert p.returncode == 1, out(p)
    assert "67108865 bytes, over the limit of 64 MiB" in p.stderr, out(p)
