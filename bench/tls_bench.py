"""The TLS scenario of bench/proxy.py (issue 15): gatehouse terminating TLS next to nginx
terminating TLS (conf/nginx-tls.conf), both with the same ECDSA P-256 certificate and the
same policy, forwarding to the same upstream. Per round, interleaved and order rotated:

- keep-alive: wrk over HTTPS, 64 connections, small body: CPU per request and req/s,
  measured A B B A within a round (half the duration each, rounded up);
- full handshakes: `openssl s_time -new` (a full TLS 1.3 handshake per connection, one
  small GET each);
- resumed handshakes: `openssl s_time -reuse` (the first connection's ticket, then
  resumptions).

Handshakes are measured in one-second slices A B B A A B B A ... within a round, so a
drift of the machine during the round weighs on both targets alike.

Handshake rates are connections per wall-clock second made by one s_time client on
CPU 0 (so they can be bound by the client), with the proxy's own CPU time per
handshake beside them: that is the figure that says which side does more work.
"""

import re
import ssl
import socket
import subprocess
import time

from benchlib import free_ports, read_stat, children
from report import CLIENT_CPU, PROXY_CPU, fmt, median

KEYS = ("gh-tls", "nginx-tls")
NAMES = {"gh-tls": "gatehouse, TLS", "nginx-tls": "nginx, TLS"}
CONNECTIONS = 64
CLK_TCK = __import__("os").sysconf("SC_CLK_TCK")


def make_certificate(tmp):
    cert, key = tmp / "tls.crt", tmp / "tls.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-days", "30", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


def wait_tls(port, path, proc, timeout=30.0):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if proc is not None and not proc.alive():
            raise RuntimeError(f"{proc.name} exited")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                with ctx.wrap_socket(s, server_hostname="localhost") as t:
                    t.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode())
                    if t.recv(64).startswith(b"HTTP/1.1 200"):
                        return
        except OSError as e:
            last = e
        time.sleep(0.05)
    raise RuntimeError(f"no TLS answer on port {port} within {timeout}s ({last!r})")


def start(h, target_cls, small_path):
    """Starts both TLS proxies; their targets go to h.tls_targets."""
    gh_port, ng_port = free_ports(2)
    cert, key = make_certificate(h.tmp)
    ng = h.start_nginx("nginx-tls", "nginx-tls.conf", ng_port, PROXY_CPU,
                       UPSTREAM_PORT=h.up_port, CERT=cert, KEY=key)
    wait_tls(ng_port, small_path, ng)
    conf = h.gatehouse_conf("gatehouse-tls", gh_port,
                            f"  - name: app\n    prefix: /app\n    strip_prefix: false\n"
                            f"    url: http://127.0.0.1:{h.up_port}\n")
    conf.write_text(conf.read_text() + f"tls:\n  cert_file: {cert}\n  key_file: {key}\n")
    ok, out = h.gatehouse_check(conf)
    if not ok:
        h.skipped["tls"] = f"`gatehouse check` rejects the TLS config: {out[:200]}"
        return
    gh, gh_log = h.start_gatehouse("gatehouse-tls", conf)
    wait_tls(gh_port, small_path, gh)
    h.tls_targets = {
        "gh-tls": target_cls("gh-tls", gh_port, small_path, gh, lambda: [gh.pid],
                             log_file=gh_log, scheme="https"),
        "nginx-tls": target_cls("nginx-tls", ng_port, small_path, ng, lambda: children(ng.pid),
                                scheme="https"),
    }


def s_time(h, t, mode, duration):
    argv = h.pinned(CLIENT_CPU, ["openssl", "s_time", "-connect", f"127.0.0.1:{t.port}",
                                 f"-{mode}", "-time", str(duration), "-www", t.path])
    pids = t.cpu_pids()
    before = sum((read_stat(p) or (0, 0))[1] for p in pids)
    t0 = time.monotonic()
    r = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60)
    wall = time.monotonic() - t0
    after = sum((read_stat(p) or (0, 0))[1] for p in pids)
    counts = re.findall(r"(\d+) connections in [\d.]+s;", r.stdout)
    if r.returncode != 0 or not counts:
        raise RuntimeError(f"s_time -{mode} failed ({r.returncode}): {(r.stdout + r.stderr)[-300:]}")
    n = int(counts[-1])
    # -reuse prints an "r" per resumed connection and a "*" per full one.
    marks = "".join(line for line in r.stdout.splitlines() if re.fullmatch(r"[r*]+", line))
    return {"connections": n, "resumed": marks.count("r"), "full": marks.count("*"),
            "wall": wall, "cpu_ticks": after - before}


def _interleaved(keys, repeats, run):
    """run(key) for each target in the order A B B A, `repeats` times over; each target's
    results in the order they were made."""
    runs = {}
    for _ in range(repeats):
        for key in list(keys) + list(reversed(keys)):
            runs.setdefault(key, []).append(run(key))
    return runs


def s_time_pairs(h, keys, mode, duration):
    """Both targets in one-second slices, in the order A B B A repeated until each has had
    `duration` seconds (rounded up to an even count): the rate of this machine moves by
    tens of percent from one second to the next, and slices this short let a drift weigh
    on both targets alike. Each target's figures are summed over its slices."""
    runs = _interleaved(keys, -(-duration // 2), lambda key: s_time(h, h.tls_targets[key], mode, 1))
    out = {}
    for key, rs in runs.items():
        total = {field: sum(r[field] for r in rs) for field in rs[0]}
        n = total["connections"]
        total["rate"] = n / total["wall"]
        total["cpu_us"] = total["cpu_ticks"] / CLK_TCK * 1e6 / n if n else None
        out[key] = total
    return out


def wrk_pairs(h, keys, duration):
    """Keep-alive in the order A B B A, half the duration each (rounded up), for the same
    reason as the handshakes' slices; each run opens its 64 connections anew, a few
    milliseconds of handshakes in seconds of requests. Each target's figures are over
    its two runs."""
    runs = _interleaved(keys, 1, lambda key: h.wrk(h.tls_targets[key], CONNECTIONS, -(-duration // 2)))
    out = {}
    for key, rs in runs.items():
        requests = sum(r["requests"] for r in rs)
        seconds = sum(r["seconds"] for r in rs)
        cpu = [r["cpu_us"] * r["requests"] for r in rs if r.get("cpu_us") is not None]
        out[key] = {"requests": requests, "seconds": seconds,
                    "rps": requests / seconds if seconds else None,
                    "cpu_us": sum(cpu) / requests if requests and len(cpu) == len(rs) else None,
                    "non2xx": sum(r["non2xx"] for r in rs),
                    "sock_errors": sum(r["sock_errors"] for r in rs)}
    return out


def measure(h, args):
    """Interleaved rounds of the three figures; results in h.tls_results[(figure, key)]."""
    if not getattr(h, "tls_targets", None):
        return
    h.tls_results = {}
    for t in h.tls_targets.values():
        h.wrk(t, CONNECTIONS, 1)  # warm-up
    for rnd in range(args.rounds):
        keys = list(KEYS[rnd % 2:] + KEYS[:rnd % 2])
        for key, res in wrk_pairs(h, keys, args.duration).items():
            res["round"] = rnd
            h.tls_results.setdefault(("keepalive", key), []).append(res)
        for mode in ("new", "reuse"):
            for key, res in s_time_pairs(h, keys, mode, args.duration).items():
                res["round"] = rnd
                h.tls_results.setdefault((mode, key), []).append(res)


def _ratio(h, figure, metric):
    """The median of the per-round ratios."""
    mine = {r["round"]: r[metric] for r in h.tls_results.get((figure, "gh-tls"), [])}
    theirs = {r["round"]: r[metric] for r in h.tls_results.get((figure, "nginx-tls"), [])}
    return median([mine[k] / theirs[k] for k in mine if k in theirs and mine[k] and theirs[k]])


def _pooled(h, figure, key):
    """Handshakes per second over every round: all connections over all the time."""
    rs = h.tls_results.get((figure, key), [])
    wall = sum(r["wall"] for r in rs)
    return sum(r["connections"] for r in rs) / wall if wall else None


def _pooled_ratio(h, figure):
    mine, theirs = _pooled(h, figure, "gh-tls"), _pooled(h, figure, "nginx-tls")
    return mine / theirs if mine and theirs else None


def _round_ratios(h, figure):
    mine = {r["round"]: r["rate"] for r in h.tls_results.get((figure, "gh-tls"), [])}
    theirs = {r["round"]: r["rate"] for r in h.tls_results.get((figure, "nginx-tls"), [])}
    return ", ".join(f"{mine[k] / theirs[k]:.2f}" for k in sorted(mine) if theirs.get(k))


def report(h, args):
    if "tls" in h.skipped:
        return f"\n## TLS termination\n\n- skipped — {h.skipped['tls']}\n"
    if not getattr(h, "tls_results", None):
        return ""

    def verdict(x, ok):
        return "—" if x is None else ("yes" if ok(x) else "**no**")

    cpu = _ratio(h, "keepalive", "cpu_us")
    full = _ratio(h, "new", "rate")
    resumed = _ratio(h, "reuse", "rate")
    out = ["", "## TLS termination (issue 15)", "",
           f"Both proxies on CPU 1 with the same ECDSA P-256 certificate and policy (TLS 1.2+, "
           f"Mozilla intermediate, tickets, no session cache); wrk -c{CONNECTIONS} over HTTPS for "
           f"keep-alive (A B B A in each round, half the time each), `openssl s_time -new` / `-reuse` (one client, CPU 0, TLS 1.3, one GET per "
           f"connection) for handshakes, measured in one-second slices A B B A ... in each round. "
           f"Medians of per-round ratios.", "",
           "| target | measured | met |", "|---|---|---|",
           f"| CPU per keep-alive request <= 1.0x nginx | {fmt(cpu, 'ratio')} | {verdict(cpu, lambda x: x <= 1.0)} |",
           f"| full handshakes/s >= nginx | {fmt(full, 'ratio')} | {verdict(full, lambda x: x >= 1.0)} |",
           f"| resumed handshakes/s >= nginx | {fmt(resumed, 'ratio')} | {verdict(resumed, lambda x: x >= 1.0)} |",
           "",
           f"Handshakes per second over all rounds together (every connection over all the "
           f"time): full {fmt(_pooled_ratio(h, 'new'), 'ratio')}, resumed "
           f"{fmt(_pooled_ratio(h, 'reuse'), 'ratio')}. Per round: full "
           f"{_round_ratios(h, 'new')}; resumed {_round_ratios(h, 'reuse')}.",
           "",
           "| target | keep-alive req/s | CPU us/req | full hs/s | CPU us/full hs | resumed hs/s | CPU us/resumed hs |",
           "|---|---:|---:|---:|---:|---:|---:|"]
    for key in KEYS:
        def m(figure, metric):
            return median([r[metric] for r in h.tls_results.get((figure, key), [])])
        out.append(f"| {NAMES[key]} | {fmt(m('keepalive', 'rps'), 'rps')} | {fmt(m('keepalive', 'cpu_us'), 'us')} | "
                   f"{fmt(m('new', 'rate'), 'rps')} | {fmt(m('new', 'cpu_us'), 'us')} | "
                   f"{fmt(m('reuse', 'rate'), 'rps')} | {fmt(m('reuse', 'cpu_us'), 'us')} |")
    out.append(f"| gatehouse x nginx | {fmt(_ratio(h, 'keepalive', 'rps'), 'ratio')} | {fmt(cpu, 'ratio')} | "
               f"{fmt(full, 'ratio')} | {fmt(_ratio(h, 'new', 'cpu_us'), 'ratio')} | "
               f"{fmt(resumed, 'ratio')} | {fmt(_ratio(h, 'reuse', 'cpu_us'), 'ratio')} |")
    out.append("")
    return "\n".join(out)
