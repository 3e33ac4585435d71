"""testssl.sh (Debian's `testssl`), a peer's scanner, against the TLS listener: no
finding rated HIGH or CRITICAL. The certificate is a proper one for the name scanned
(signed by a CA the scan is given, 90 days, with an OCSP URI), so what is rated is the
listener's TLS setup."""

from __future__ import annotations

import json
import subprocess
from collections import Counter

from gh_gateway import endpoint
from gh_tls import ListenerCA


def test_testssl_finds_nothing_high_or_critical(start_gateway, upstream, tmp_path):
    ca = ListenerCA("gatehouse scan test CA")
    leaf = ca.issue(days=90, ocsp_url="http://ocsp.gatehouse.invalid/")
    cert, key = leaf.write(tmp_path, "server")
    ca_file = ca.write(tmp_path / "ca.pem")
    gw = start_gateway({"tls": {"cert_file": str(cert), "key_file": str(key)},
                        "endpoints": [endpoint(upstream.url(), name="e")]},
                       client_tls=ca.client_context())
    report = tmp_path / "testssl.json"
    # Everything of a default run but the client simulation (minutes, and it rates
    # nothing): protocols, cipher categories, forward secrecy, server defaults and
    # preferences, HTTP headers, vulnerabilities.
    r = subprocess.run(
        ["testssl", "--quiet", "--color", "0", "--warnings", "batch", "--add-ca", str(ca_file),
         "--jsonfile", str(report), "--protocols", "--std", "--fs", "--server-defaults",
         "--server-preference", "--headers", "--vulnerable", f"localhost:{gw.port}"],
        capture_output=True, text=True, timeout=600)
    assert report.exists(), f"testssl wrote no report (exit {r.returncode}):\n{r.stdout}\n{r.stderr}"
    findings = [f for f in json.loads(report.read_text()) if isinstance(f, dict) and "severity" in f]
    assert len(findings) > 50, findings  # the scan ran
    severities = Counter(f["severity"] for f in findings)
    print("testssl severities:", dict(severities))
    for f in findings:
        if f["severity"] not in ("OK", "INFO"):
            print(f'  {f["id"]}: {f["severity"]}: {f["finding"]}')
    bad = [f for f in findings if f["severity"] in ("HIGH", "CRITICAL")]
    assert bad == [], "\n".join(f'{f["id"]}: {f["severity"]}: {f["finding"]}' for f in bad)
    ids = {f["id"]: f for f in findings}
    assert ids["TLS1_1"]["finding"].startswith("not offered"), ids["TLS1_1"]
    assert ids["TLS1_3"]["finding"].startswith("offered"), ids["TLS1_3"]
