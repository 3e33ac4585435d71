"""SPEC section 1 (command line) and the error reporting of section 2."""

import re
import textwrap


from gh_gateway import endpoint, run_cli

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
