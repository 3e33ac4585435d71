"""Markdown report for bench/proxy.py: machine info, targets, one table per scenario."""

import datetime
import os
import platform
import statistics
import subprocess

# Shared with proxy.py.
PROXY_CPU = "1"   # the proxy under test
CLIENT_CPU = "0"  # wrk, the upstream, the idle-connection client
ROUTING_ENDPOINTS = 10_000

NAMES = {
    "gatehouse": "gatehouse",
    "nginx": "nginx",
    "haproxy": "haproxy",
    "direct": "direct (no proxy)",
    "gh-10k": "gatehouse, 10,000 endpoints",
    "gh-jwt-hs256": "gatehouse, jwt HS256",
    "gh-jwt-es256": "gatehouse, jwt ES256",
    "gh-breaker": "gatehouse, breaker open (default fallback)",
    "gh-lb3": "gatehouse, 3 servers round robin",
    "gh-lb3-refused": "gatehouse, 3 servers, 1 refusing (retries: 1)",
    "gh-rl-local": "gatehouse, rate limit (local, not reached)",
    "gh-rl-shared": "gatehouse, rate limit (shared: true, Redis)",
}
# The gateway scenarios measured in the 64-connection small-body cell, in table order.
EXTRA_KEYS = ("gh-10k", "gh-jwt-hs256", "gh-jwt-es256", "gh-breaker", "gh-lb3", "gh-lb3-refused",
              "gh-rl-local", "gh-rl-shared")
BODY_LABEL = {"small": "small body (24 B)", "big": "64 KiB body", "huge": "1 MiB body"}


def cmd_out(argv):
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        return (r.stdout + r.stderr).strip().splitlines()[0]
    except (OSError, subprocess.TimeoutExpired, IndexError):
        return "unavailable"


def machine_info(args):
    model = "unknown"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return [
        ("date", datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")),
        ("cpus", f"{os.cpu_count()} x {model}"),
        ("kernel", f"{platform.system()} {platform.release()}"),
        ("gatehouse", cmd_out([args.gatehouse, "version"])),
        ("nginx", cmd_out(["nginx", "-v"])),
        ("haproxy", cmd_out(["haproxy", "-v"])),
        ("wrk", cmd_out(["wrk", "-v"])),
        ("load average at start", open("/proc/loadavg").read().split()[0:3]),
        ("runs", f"{args.rounds} round(s) x {args.duration} s per measurement, wrk -t{args.wrk_threads}; "
                 f"proxy on CPU {PROXY_CPU}, wrk + upstream on CPU {CLIENT_CPU}; nice {args.nice}"),
    ]


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(x, kind):
    if x is None:
        return "—"
    if kind == "rps":
        return f"{x:,.0f}"
    if kind == "ms":
        return f"{x:.3f}" if x < 10 else f"{x:.1f}"
    if kind == "us":
        return f"{x:.1f}"
    if kind == "ratio":
        return f"{x:.2f}x"
    return str(x)


def ratios(results, cell, key, ref, metric):
    """Per-round ratio key/ref for one metric, median over rounds."""
    mine = {r["round"]: r[metric] for r in results.get(cell + (key,), [])}
    theirs = {r["round"]: r[metric] for r in results.get(cell + (ref,), [])}
    vals = [mine[k] / theirs[k] for k in mine if k in theirs and mine[k] and theirs[k]]
    return median(vals)


def summarize(results, cell, key, ref="nginx"):
    rs = results.get(cell + (key,), [])
    s = {m: median([r[m] for r in rs]) for m in ("rps", "p50", "p99", "cpu_us")}
    for m in ("proxy_busy", "proxy_core_busy", "client_core_busy"):
        s[m] = median([r.get(m) for r in rs])
    s["errors"] = sum(r["non2xx"] + r["sock_errors"] for r in rs)
    for m in ("rps", "p50", "p99", "cpu_us"):
        s[m + "_x"] = ratios(results, cell, key, ref, m)
    return s


def table(results, cell, keys, extra_ref=None):
    head = "| target | req/s | x nginx | p50 ms | x nginx | p99 ms | x nginx | CPU us/req | x nginx |"
    sep = "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    if extra_ref:
        head += f" CPU x {NAMES[extra_ref]} | req/s x {NAMES[extra_ref]} |"
        sep += "---:|---:|"
    head += " busy % proxy / CPU 1 / CPU 0 | errors |"
    sep += "---:|---:|"
    lines = [head, sep]
    for key in keys:
        if cell + (key,) not in results:
            continue
        s = summarize(results, cell, key)
        row = (f"| {NAMES[key]} | {fmt(s['rps'], 'rps')} | {fmt(s['rps_x'], 'ratio')} | "
               f"{fmt(s['p50'], 'ms')} | {fmt(s['p50_x'], 'ratio')} | {fmt(s['p99'], 'ms')} | "
               f"{fmt(s['p99_x'], 'ratio')} | {fmt(s['cpu_us'], 'us')} | {fmt(s['cpu_us_x'], 'ratio')} |")
        if extra_ref:
            row += (f" {fmt(ratios(results, cell, key, extra_ref, 'cpu_us'), 'ratio')} |"
                    f" {fmt(ratios(results, cell, key, extra_ref, 'rps'), 'ratio')} |")
        busy = " / ".join("—" if s[m] is None else f"{s[m]:.0f}"
                          for m in ("proxy_busy", "proxy_core_busy", "client_core_busy"))
        row += f" {busy} | {s['errors']} |"
        lines.append(row)
    return lines


def scenario_targets(h, res, ec, verdict):
    """Rows of the Targets table for the several-servers (issue 14) and rate-limit
    (issue 16) scenarios, against plain gatehouse from the same rounds."""
    out = []

    def cpu_row(key, label, bound, scen):
        if ec + (key,) not in res:
            out.append(f"| {label} | {h.skipped.get(scen, 'not run')} | — |")
            return
        x = ratios(res, ec, key, "gatehouse", "cpu_us")
        out.append(f"| {label} | {fmt(x, 'ratio')} | {verdict(None if x is None else x <= bound)} |")

    cpu_row("gh-lb3", "3 servers round robin: CPU/request <= 1.05x one server", 1.05, "lb")
    cpu_row("gh-lb3-refused", "3 servers, 1 refusing connections: CPU/request <= 1.1x one server",
            1.1, "lb-refused")
    if ec + ("gh-lb3-refused",) in res:
        errors = summarize(res, ec, "gh-lb3-refused")["errors"]
        out.append(f"| 3 servers, 1 refusing connections: client-visible errors = 0 | {errors} | "
                   f"{verdict(errors == 0)} |")
    cpu_row("gh-rl-local", "rate limit (local, never reached): CPU/request <= 1.05x plain", 1.05,
            "ratelimit")
    if ec + ("gh-rl-shared",) in res:
        s = summarize(res, ec, "gh-rl-shared", ref="gatehouse")
        plain = summarize(res, ec, "gatehouse")
        out.append(f"| rate limit shared: true (no target): CPU/request, p99 vs plain | "
                   f"{fmt(s['cpu_us'], 'us')} vs {fmt(plain['cpu_us'], 'us')} us ({fmt(s['cpu_us_x'], 'ratio')}); "
                   f"p99 {fmt(s['p99'], 'ms')} vs {fmt(plain['p99'], 'ms')} ms ({fmt(s['p99_x'], 'ratio')}) | — |")
    else:
        out.append(f"| rate limit shared: true | {h.skipped.get('ratelimit-shared', 'not run')} | — |")
    return out


def mib(kib):
    return "—" if kib is None else f"{kib / 1024:.1f}"


def report(h, args):
    res = h.results
    out = ["# gatehouse side-by-side proxy benchmark", ""]
    out += ["| | |", "|---|---|"]
    out += [f"| {k} | {' '.join(v) if isinstance(v, list) else v} |" for k, v in h.info]
    out.append("")
    out.append("Medians over rounds; every `x nginx` is the median of per-round ratios to nginx "
               "measured in the same round (lower is better for latency and CPU, higher for req/s). "
               "CPU us/req = user+system CPU time of the proxy process(es) / requests served. "
               "busy % = the proxy process(es), all of CPU 1 and all of CPU 0 (wrk + upstream) "
               "over the run: a proxy well under 100 % was not the bottleneck.")
    out.append("")

    # Targets of issue 6 at a glance.
    out += ["## Targets (issue 6)", "", "| target | measured | met |", "|---|---|---|"]

    def verdict(ok):
        return "—" if ok is None else ("yes" if ok else "**no**")

    for conns in args.connections:
        for body in args.bodies:
            cell = (conns, body)
            if cell + ("gatehouse",) not in res:
                continue
            s = summarize(res, cell, "gatehouse")
            label = f"{conns} conns, {BODY_LABEL[body]}"
            cpu, rps, p99 = s["cpu_us_x"], s["rps_x"], s["p99_x"]
            out.append(f"| CPU/request <= 1.0x nginx ({label}) | {fmt(cpu, 'ratio')} | "
                       f"{verdict(None if cpu is None else cpu <= 1.0)} |")
            out.append(f"| throughput >= 1.0x nginx ({label}) | {fmt(rps, 'ratio')} | "
                       f"{verdict(None if rps is None else rps >= 1.0)} |")
            out.append(f"| p99 <= nginx ({label}) | {fmt(p99, 'ratio')} | "
                       f"{verdict(None if p99 is None else p99 <= 1.0)} |")
    ec = (min(args.connections), "small")
    if ec + ("gh-10k",) in res:
        x = ratios(res, ec, "gh-10k", "gatehouse", "cpu_us")
        out.append(f"| 10,000 endpoints: CPU/request flat vs 1 endpoint (whole process; "
                   f"the 2x bound is for the micro benchmark) | {fmt(x, 'ratio')} | "
                   f"{verdict(None if x is None else x <= 1.1)} |")
    if ec + ("gh-jwt-hs256",) in res:
        x = ratios(res, ec, "gh-jwt-hs256", "gatehouse", "cpu_us")
        out.append(f"| jwt HS256 <= 1.2x plain forwarding (CPU/request) | {fmt(x, 'ratio')} | "
                   f"{verdict(None if x is None else x <= 1.2)} |")
    else:
        out.append(f"| jwt HS256 <= 1.2x plain forwarding | {h.skipped.get('jwt', 'not run')} | — |")
    out += scenario_targets(h, res, ec, verdict)
    mem = h.memory
    if "idle_fresh" in mem:
        g = mem["idle_fresh"]["gatehouse"]
        out.append(f"| RSS idle < 20 MiB | {mib(g)} MiB | {verdict(None if g is None else g < 20 * 1024)} |")
    if "conns_gatehouse" in mem and "conns_nginx" in mem:
        g = mem["conns_gatehouse"]["gatehouse"]
        n = mem["conns_nginx"]["nginx_total"]
        x = g / n if g and n else None
        out.append(f"| RSS with {args.idle_conns:,} idle connections < 2x nginx | "
                   f"{mib(g)} MiB vs {mib(n)} MiB = {fmt(x, 'ratio')} | "
                   f"{verdict(None if x is None else x < 2.0)} |")
    out.append("")

    out.append("## Plain forwarding")
    out.append("")
    for conns in args.connections:
        for body in args.bodies:
            cell = (conns, body)
            out.append(f"### {conns} connections, {BODY_LABEL[body]}")
            out.append("")
            out += table(res, cell, ["gatehouse", "nginx", "haproxy", "direct"])
            out.append("")

    out.append(f"## Gateway scenarios ({ec[0]} connections, small body)")
    out.append("")
    out.append("Same rounds as plain forwarding; the extra columns compare with plain gatehouse "
               "(1 endpoint) from the same round.")
    out.append("")
    keys = ["gatehouse", "nginx", *EXTRA_KEYS]
    if any(ec + (k,) in res for k in keys[2:]):
        out += table(res, ec, keys, extra_ref="gatehouse")
        out.append("")
    for scen, flag, label in (("routing", "routing", "10,000 endpoints"),
                              ("jwt", "jwt", "jwt HS256 / ES256 endpoint"),
                              ("breaker", "breaker", "breaker open, default fallback"),
                              ("lb", "lb", "3 servers round robin"),
                              ("lb-refused", "lb", "3 servers, 1 refusing connections"),
                              ("ratelimit", "ratelimit", "rate limit, local"),
                              ("ratelimit-shared", "ratelimit", "rate limit, shared (Redis)")):
        if scen in h.skipped:
            out.append(f"- {label}: skipped — {h.skipped[scen]}")
        elif flag not in args.scenarios:
            out.append(f"- {label}: not run (--scenarios)")
    redis_cpu = median([r.get("aux_cpu_us") for r in res.get(ec + ("gh-rl-shared",), [])])
    if redis_cpu is not None:
        out.append(f"- shared rate limit: redis-server (CPU {CLIENT_CPU}, beside wrk and the upstream) "
                   f"used {redis_cpu:.1f} us of CPU per request on top of gatehouse's figure above.")
    out.append("")

    if h.memory:
        out += ["## Memory (VmRSS, MiB)", "",
                "| state | gatehouse | nginx worker | nginx master+worker | gatehouse x nginx (master+worker) |",
                "|---|---:|---:|---:|---:|"]
        rows = [("idle, fresh start", mem.get("idle_fresh")),
                ("idle, after the load runs", mem.get("idle_after_load"))]
        for key in ("gatehouse", "nginx"):
            m = mem.get(f"conns_{key}")
            if m:
                failed = f" ({m['failed']} failed)" if m["failed"] else ""
                rows.append((f"{m['ready']:,} idle keep-alive connections to {key}{failed}", m))
        for label, m in rows:
            if not m:
                continue
            x = (m["gatehouse"] / m["nginx_total"]) if m["gatehouse"] and m["nginx_total"] else None
            out.append(f"| {label} | {mib(m['gatehouse'])} | {mib(m['nginx_worker'])} | "
                       f"{mib(m['nginx_total'])} | {fmt(x, 'ratio')} |")
        if mem.get("idle_10k_endpoints"):
            out.append(f"| gatehouse idle with {ROUTING_ENDPOINTS:,} endpoints | "
                       f"{mib(mem['idle_10k_endpoints'])} | | | |")
        out.append("")
        out.append("In a \"connections to X\" row only X is under that load; the other column is "
                   "that proxy idle at the time (memory its allocator kept after earlier load included).")
        out.append("")

    notes = list(h.notes)
    foreign = median([r.get("proxy_core_busy") for k, rs in res.items() if k[2] == "direct" for r in rs])
    if foreign is not None:
        notes.append(f"other work on this machine wanting CPU 1 (its busy % during the direct runs, "
                     f"when nothing of the benchmark runs there): median {foreign:.0f} %. The "
                     f"benchmark's processes run at nice {args.nice}, but caches and the scheduler "
                     f"are shared: above a few % every figure is disturbed; rerun on a quiet "
                     f"machine before quoting numbers.")
    lb = [r.get("log_bytes_per_req") for k, rs in res.items() if k[2] == "gatehouse" for r in rs]
    lb = median(lb)
    if lb is not None:
        notes.append(f"gatehouse access log on: {lb:.0f} bytes of stderr log per request (to a file).")
    notes.append(f"load average at the end: {' '.join(open('/proc/loadavg').read().split()[0:3])} "
                 "(other work on this machine makes every figure noisier; compare ratios, not absolutes).")
    out += ["## Notes", ""] + [f"- {n}" for n in notes] + [""]
    return "\n".join(out)


