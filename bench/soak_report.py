"""bench/soak.py's output: the CSV of samples, the flatness verdict and the PNG plot.

The verdict's criteria (bench/README.md, "Soak"): with D the run's length,
  mark   = min(300 s, D/4)          warm-up over: the reference point
  late   = the last min(300 s, D/4) the window judged
  early  = [mark, mark + that length) the window compared with
- RSS:  every sample in `late` <= 1.10 x the RSS sampled at `mark`.
- fds:  the median fd count in `late` <= the median in `early` + 5 (medians, because the
        count includes client connections that come and go), and after the load stops
        the count falls back to the one before the load (within the settle time).
- p99:  the median of the 10-s p99s in `late` <= 1.5 x the median in `early` + 0.5 ms
        (a 10-s p99 on a shared machine jumps; a creep moves the median).
Slopes (least squares, per 10 minutes) are printed next to them, for the record.
"""

import csv
import statistics

COLUMNS = ["t_s", "rss_kib", "fds", "fds_client", "fds_upstream", "fds_other", "threads",
           "cpu_pct", "client_cpu_pct", "load1", "machine_busy_pct", "issued", "completed", "errors", "late",
           "lag_max_ms", "p50_ms", "p99_ms", "max_ms", "srv_p99_ms", "flaky_ok",
           "flaky_fallback", "flaky_5xx", "flaky_other", "aborts", "abort_fail",
           "connects", "breaker", "trips", "recoveries", "reloads_ok", "reloads_failed", "conns_open",
           "log_lines", "log_warnings"]


def write_csv(path, samples):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS, extrasaction="ignore")
        w.writeheader()
        for s in samples:
            w.writerow({k: ("" if s.get(k) is None else s.get(k)) for k in COLUMNS})


def slope_per_10min(samples, key):
    pts = [(s["t_s"], s[key]) for s in samples if s.get(key) is not None]
    if len(pts) < 3:
        return None
    mt = statistics.fmean(t for t, _ in pts)
    mv = statistics.fmean(v for _, v in pts)
    den = sum((t - mt) ** 2 for t, _ in pts)
    return 600.0 * sum((t - mt) * (v - mv) for t, v in pts) / den if den else None


def nearest(samples, t):
    return min(samples, key=lambda s: abs(s["t_s"] - t))


def verdict(samples, duration, baseline, after):
    """(flat: bool, lines: [str], figures: dict)"""
    span = min(300.0, duration / 4)
    mark = span
    late = [s for s in samples if s["t_s"] > duration - span]
    early = [s for s in samples if mark <= s["t_s"] < mark + span]
    at_mark = nearest(samples, mark)
    lines, ok = [], True
    f = {"mark_s": mark, "span_s": span}

    rss_mark = at_mark["rss_kib"]
    rss_late_max = max(s["rss_kib"] for s in late)
    f.update(rss_start=samples[0]["rss_kib"], rss_mark=rss_mark, rss_end=samples[-1]["rss_kib"],
             rss_late_max=rss_late_max, rss_baseline=baseline["rss_kib"],
             rss_after=after["rss_kib"], rss_slope=slope_per_10min([s for s in samples if s["t_s"] >= mark], "rss_kib"))
    good = rss_late_max <= 1.10 * rss_mark
    ok &= good
    lines.append(f"RSS   {'flat' if good else 'NOT flat'}: {rss_mark / 1024:.1f} MiB at {mark:.0f} s, "
                 f"max {rss_late_max / 1024:.1f} MiB in the last {span:.0f} s "
                 f"(limit {1.10 * rss_mark / 1024:.1f}); first sample {f['rss_start'] / 1024:.1f}, "
                 f"last {f['rss_end'] / 1024:.1f}; slope after the mark "
                 f"{(f['rss_slope'] or 0):+.0f} KiB/10 min")

    fd_early = statistics.median(s["fds"] for s in early)
    fd_late = statistics.median(s["fds"] for s in late)
    back = after["fds"] <= baseline["fds"]
    good = fd_late <= fd_early + 5 and back
    ok &= good
    f.update(fds_baseline=baseline["fds"], fds_early_median=fd_early, fds_late_median=fd_late,
             fds_max=max(s["fds"] for s in samples), fds_after=after["fds"],
             fds_after_s=after.get("settle_s"), fds_slope=slope_per_10min([s for s in samples if s["t_s"] >= mark], "fds"))
    lines.append(f"fds   {'flat' if good else 'NOT flat'}: {baseline['fds']} before the load, median "
                 f"{fd_early:g} in [{mark:.0f}, {mark + span:.0f}) s, {fd_late:g} in the last {span:.0f} s "
                 f"(limit {fd_early + 5:g}), max {f['fds_max']}; {after['fds']} "
                 f"{after.get('settle_s', 0):.0f} s after the load "
                 f"({'back to' if back else 'NOT back to'} the {baseline['fds']} before it)")

    p_early = [s["p99_ms"] for s in early if s.get("p99_ms") is not None]
    p_late = [s["p99_ms"] for s in late if s.get("p99_ms") is not None]
    pe, pl = statistics.median(p_early), statistics.median(p_late)
    good = pl <= 1.5 * pe + 0.5
    ok &= good
    f.update(p99_early_median=pe, p99_late_median=pl, p99_max=max(s["p99_ms"] for s in samples
                                                                  if s.get("p99_ms") is not None),
             p99_slope=slope_per_10min([s for s in samples if s["t_s"] >= mark], "p99_ms"))
    lines.append(f"p99   {'flat' if good else 'NOT flat'}: median of the 10-s p99s {pe:.2f} ms in "
                 f"[{mark:.0f}, {mark + span:.0f}) s, {pl:.2f} ms in the last {span:.0f} s "
                 f"(limit {1.5 * pe + 0.5:.2f}); worst window {f['p99_max']:.2f} ms; slope after the mark "
                 f"{(f['p99_slope'] or 0):+.3f} ms/10 min")
    return ok, lines, f


def plot(path, samples, title, failing_spans, interval):
    """failing_spans: [(t_start, t_end, mode)] while the flaky upstream was broken."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "python3-matplotlib is not installed: no plot (GATEHOUSE_BENCH_DEPS=1 bash scripts/install-deps.sh)"
    t = [s["t_s"] / 60 for s in samples]
    fig, axes = plt.subplots(4, 1, figsize=(11, 11), sharex=True)
    ax = axes[0]
    ax.plot(t, [s["rss_kib"] / 1024 for s in samples], color="tab:blue")
    ax.set_ylabel("RSS (MiB)")
    ax.set_ylim(bottom=0)
    ax = axes[1]
    ax.plot(t, [s["fds"] for s in samples], label="all fds", color="tab:green")
    ax.plot(t, [s["fds_client"] for s in samples], label="client connections", color="tab:olive", lw=0.8)
    ax.plot(t, [s["fds_upstream"] for s in samples], label="upstream connections", color="tab:cyan", lw=0.8)
    ax.set_ylabel("open fds")
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper left", fontsize=8)
    ax = axes[2]
    ax.plot(t, [s.get("p99_ms") for s in samples], label="p99, client (10-s window)", color="tab:red")
    ax.plot(t, [s.get("p50_ms") for s in samples], label="p50, client", color="tab:orange", lw=0.8)
    ax.plot(t, [s.get("srv_p99_ms") for s in samples], label="p99, gatehouse histogram", color="tab:purple",
            lw=0.8, ls="--")
    ax.set_ylabel("latency (ms)")
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper left", fontsize=8)
    ax = axes[3]
    ax.plot(t, [s["completed"] / interval if s.get("completed") is not None else None for s in samples],
            label="completed req/s", color="tab:gray")
    ax.plot(t, [(s.get("errors") or 0) / interval for s in samples], label="errors/s", color="tab:red", lw=0.8)
    ax.set_ylabel("req/s")
    ax.set_ylim(bottom=0)
    ax2 = ax.twinx()
    loads = [s.get("load1") or 0 for s in samples]
    ax2.plot(t, loads, label="machine load (1 min)", color="black", lw=0.8, ls=":")
    ax2.set_ylabel("load average")
    ax2.set_ylim(0, 2.5 * max(loads + [1]))
    ax.legend(loc="lower left", fontsize=8)
    ax2.legend(loc="lower right", fontsize=8)
    ax.set_xlabel("minutes")
    for a in axes:
        for t0, t1, _ in failing_spans:
            a.axvspan(t0 / 60, t1 / 60, color="tab:red", alpha=0.07, lw=0)
        a.grid(alpha=0.3)
    axes[0].set_title(title, fontsize=10)
    axes[0].text(0.01, 0.04, "shaded: the flaky endpoint's upstream failing (503s, or refusing connections)",
                 transform=axes[0].transAxes, fontsize=8, color="tab:red")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return None


def summary(h, a, flat, lines, fig):
    s = h.samples
    tot = lambda k: sum(x.get(k) or 0 for x in s)  # noqa: E731
    errors = {}
    for x in s:
        for k, v in (x.get("error_kinds") or {}).items():
            errors[k] = errors.get(k, 0) + v
    phase = 300.0 if a.duration >= 1200 else a.duration / 4
    phases = []
    t = 0.0
    while t < a.duration - 1e-6:
        ps = [x["p99_ms"] for x in s if t < x["t_s"] <= t + phase and x.get("p99_ms") is not None]
        if ps:
            phases.append(f"{t:.0f}-{t + phase:.0f} s {sorted(ps)[len(ps) // 2]:.2f}")
        t += phase
    loads = [x["load1"] for x in s]
    busy = [x["machine_busy_pct"] for x in s if x.get("machine_busy_pct") is not None]
    cpu = [x["cpu_pct"] for x in s if x.get("cpu_pct") is not None]
    ccpu = [x["client_cpu_pct"] for x in s if x.get("client_cpu_pct") is not None]
    out = [f"soak: {a.duration:g} s, {a.rate:g} req/s over {a.conns} connections, gatehouse {a.gatehouse} "
           f"({a.threads} threads)",
           f"verdict: {'flat' if flat else 'NOT flat'}"] + ["  " + x for x in lines] + [
        f"RSS MiB: before the load {h.baseline['rss_kib'] / 1024:.1f}, first sample {fig['rss_start'] / 1024:.1f}, "
        f"at {fig['mark_s']:.0f} s {fig['rss_mark'] / 1024:.1f}, end {fig['rss_end'] / 1024:.1f}, "
        f"idle after {h.after['rss_kib'] / 1024:.1f}",
        f"fds: before {h.baseline['fds']}, median early {fig['fds_early_median']:g}, late "
        f"{fig['fds_late_median']:g}, max {fig['fds_max']}, after {h.after['fds']} "
        f"(client {h.after['fds_client']}, upstream {h.after['fds_upstream']}, other {h.after['fds_other']}; "
        f"before: other {h.baseline['fds_other']}, upstream {h.baseline['fds_upstream']})",
        "p99 ms (median of the 10-s windows) per phase: " + "; ".join(phases),
        f"requests: {tot('issued'):,} issued, {tot('completed'):,} completed, errors {tot('errors'):,}"
        + (f" {errors}" if errors else "") + f", late {tot('late'):,}",
        f"aborting clients: {tot('aborts'):,} (failed to abort as planned: {tot('abort_fail')})",
        f"flaky endpoint: upstream ok {tot('flaky_ok'):,}, fallback {tot('flaky_fallback'):,}, "
        f"5xx {tot('flaky_5xx'):,}, other {tot('flaky_other'):,}",
        f"reloads: {h.reloads_done} applied and checked, {h.reload_failures} failed; gatehouse counts "
        f"{s[-1]['reloads_ok']} successes, {s[-1]['reloads_failed']} failures",
        f"breaker trips (closed -> open): {s[-1]['trips']}, recoveries (half_open -> closed): "
        f"{s[-1]['recoveries']}, in {len(h.failing_spans)} failing phases of the upstream",
        f"gatehouse CPU {statistics.median(cpu) if cpu else 0:.0f}% of a core (median), the client's "
        f"{statistics.median(ccpu) if ccpu else 0:.0f}%, machine busy "
        f"{statistics.median(busy) if busy else 0:.0f}% (median), load average {min(loads):.1f}-{max(loads):.1f} "
        f"(median {statistics.median(loads):.1f})",
        f"log: {tot('log_lines'):,} lines, {tot('log_warnings')} warnings/errors besides breaker and "
        f"health transitions"]
    out += ["  " + w for w in h.log_warnings[:10]]
    return "\n".join(out) + "\n"
