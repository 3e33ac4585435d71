#!/usr/bin/python3
"""Soak (issue 18): gatehouse under a steady load for a long time, while its config is
reloaded every 10 s, a breaker trips and recovers every minute and 1% of the clients
abort mid-body. RSS, open fds and p99 are sampled every 10 s and must stay flat.

  bench/soak.py [--duration 1800] [--rate 1500] [--gatehouse build/gatehouse]

What runs (all on loopback, ports picked free):
  - nginx, one worker (conf/soak-upstream-nginx.conf): /app/small, /app/big (64 KiB),
    /app/huge (8 MiB), /app/upload (reads the whole body, then answers)
  - a switchable upstream in this process (soak_upstream.py) behind the `flaky`
    endpoint: every --breaker-period seconds it fails for --fail-for seconds, answering
    503 (even periods) or refusing connections (odd periods), then recovers
  - gatehouse, --threads event-loop threads, access log on (to a file), metrics on,
    --insecure-admin (the reload API without tokens)
  - the client (soak_load.py), its own process: --rate requests/s over --conns keep-alive
    connections, 1% of them aborting clients
Every 10 s (at t = 5, 15, ...) the config is reloaded, alternately with POST
/endpoints/reload and SIGHUP, each time with one real change (the app endpoint's timeout
toggled, or the /extra endpoint added or removed), and the change is checked.
Every 10 s (t = 10, 20, ...) one sample: VmRSS, fds (by kind), threads, CPU, the
client's window (requests, errors, p50/p99), the app endpoint's p99 from gatehouse's
histogram, the breaker's state and trips, reloads. At the end: bench/results/soak.csv,
soak.png, and the verdict (bench/soak_report.py has the criteria). Exit status 0 when
flat and nothing went wrong, else 1.

Standard library only (python3-matplotlib for the plot; without it no PNG).
"""

import argparse
import json
import os
import queue
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from benchlib import Proc, cpu_times, busy_percent, fill, free_ports, http_get, read_stat, rss_kib, wait_ready
from soak_readings import buckets, fd_kinds, histogram_p99_ms, metric, scrape, threads_of
from soak_report import plot, summary, verdict, write_csv
from soak_upstream import FlakyUpstream

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(msg):
    print(f"[soak {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- config ----

def gatehouse_yaml(a, port, up_port, flaky_port, variant):
    """variant bit 0: the app endpoint's timeout 29s instead of 30s; bit 1: /extra exists."""
    extra = (f"  - name: extra\n    prefix: /extra\n    url: http://127.0.0.1:{up_port}/app\n"
             if variant & 2 else "")
    return f"""# bench/soak.py, variant {variant}
listen: 127.0.0.1:{port}
threads: {a.threads}
shutdown_grace: 0s
log: {{ level: info, format: text, access_log: true }}
limits: {{ max_connections: 20000, idle_timeout: 60s }}
endpoints:
  - name: app
    prefix: /app
    strip_prefix: false
    url: http://127.0.0.1:{up_port}
    timeout: {'29s' if variant & 1 else '30s'}
  - name: flaky
    prefix: /flaky
    url: http://127.0.0.1:{flaky_port}
    connect_timeout: 1s
    timeout: 5s
    circuit_breaker: {{ failure_threshold: 5, reset_timeout: 5s, fallback_strategy: default }}
    fallback: {{ status: 200, content_type: text/plain, body: "flaky fallback\\n" }}
{extra}"""


# ---------------------------------------------------------------- the run ----

class Soak:
    def __init__(self, a):
        self.a = a
        self.tmp = Path(tempfile.mkdtemp(prefix="gatehouse-soak-"))
        (self.tmp / "tmp").mkdir()
        (self.tmp / "www" / "app").mkdir(parents=True)
        (self.tmp / "www" / "app" / "big").write_bytes(os.urandom(32 * 1024).hex().encode())
        # 8 MiB: more than the gateway's socket send buffer can take (tcp_wmem's 4 MiB), so a
        # client that stops reading leaves the gateway in the middle of the body.
        (self.tmp / "www" / "app" / "huge").write_bytes(os.urandom(4 << 20).hex().encode())
        self.procs = []
        self.flaky = None
        self.samples = []
        self.windows = {}
        self.windows_q = queue.Queue()
        self.reloads_done = self.reload_failures = 0
        self.reload_problems = []
        self.log_offset = 0
        self.log_warnings = []
        self.failing_spans = []

    def spawn(self, name, argv, **kw):
        nice = ["nice", "-n", str(self.a.nice)] if self.a.nice else []
        p = Proc(name, nice + argv, **kw)
        self.procs.append(p)
        return p

    def start(self):
        a = self.a
        self.gh_port, self.up_port, self.flaky_port = free_ports(3)
        nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        conf = self.tmp / "upstream.conf"
        conf.write_text(fill(BENCH_DIR / "conf" / "soak-upstream-nginx.conf", DIR=self.tmp, PORT=self.up_port,
                             NOFILE=min(nofile, 1 << 20),
                             USER_LINE="user root;" if os.geteuid() == 0 else ""))
        log("starting the upstream (nginx) and the switchable upstream")
        self.nginx = self.spawn("nginx", ["nginx", "-p", f"{self.tmp}/", "-c", str(conf),
                                          "-e", str(self.tmp / "upstream-error.log")])
        wait_ready(self.up_port, "/app/small", self.nginx)
        self.flaky = FlakyUpstream(self.flaky_port)

        self.conf = self.tmp / "gatehouse.yaml"
        self.variant = 0
        self.conf.write_text(gatehouse_yaml(a, self.gh_port, self.up_port, self.flaky_port, 0))
        r = subprocess.run([a.gatehouse, "check", "-c", str(self.conf)], capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"gatehouse check rejects the soak config:\n{r.stdout}{r.stderr}")
        self.log_path = self.tmp / "gatehouse.log"
        log(f"starting gatehouse ({a.threads} threads, access log on)")
        self.gh = self.spawn("gatehouse", [a.gatehouse, "run", "-c", str(self.conf), "--insecure-admin"],
                             stderr=open(self.log_path, "ab"))
        wait_ready(self.gh_port, "/app/small", self.gh)
        wait_ready(self.gh_port, "/flaky/item", self.gh)

    # -- the scheduled actions --

    def reload(self, k):
        """Reload k: one change (Gray code over the two variant bits), by API or SIGHUP."""
        before = metric(scrape(self.gh_port), "gatehouse_config_reloads_total", result="success")
        self.variant = (0, 1, 3, 2)[(k + 1) % 4]
        tmp = self.conf.with_suffix(".tmp")
        tmp.write_text(gatehouse_yaml(self.a, self.gh_port, self.up_port, self.flaky_port, self.variant))
        os.replace(tmp, self.conf)
        how = "api" if k % 2 == 0 else "sighup"
        problem = None
        if how == "api":
            req = urllib.request.Request(f"http://127.0.0.1:{self.gh_port}/endpoints/reload", method="POST",
                                         data=b"")
            try:
                with urllib.request.urlopen(req, timeout=10) as r:
                    report = json.loads(r.read())
                if report.get("result") != "applied":
                    problem = f"reload {k} (api): {report}"
            except OSError as e:
                problem = f"reload {k} (api): {e}"
        else:
            os.kill(self.gh.pid, signal.SIGHUP)
        deadline = time.monotonic() + 5
        while problem is None:
            now = metric(scrape(self.gh_port), "gatehouse_config_reloads_total", result="success")
            if now >= before + 1:
                break
            if time.monotonic() > deadline:
                problem = f"reload {k} ({how}): not counted as a success within 5 s"
            time.sleep(0.05)
        if problem is None:
            # The change is served: /extra answers from the upstream only when it exists.
            st, _ = http_get(self.gh_port, "/extra/small")
            if (st == 200) != bool(self.variant & 2):
                problem = f"reload {k} ({how}): /extra answered {st} with variant {self.variant}"
        if problem:
            self.reload_failures += 1
            self.reload_problems.append(problem)
            log(problem)
        else:
            self.reloads_done += 1

    def flaky_mode_at(self, t):
        a = self.a
        period, phase = divmod(t, a.breaker_period)
        if phase < a.breaker_period - a.fail_for:
            return "ok"
        return "error" if int(period) % 2 == 0 else "refuse"

    def scan_log(self):
        lines = 0
        with open(self.log_path, "rb") as f:
            f.seek(self.log_offset)
            data = f.read()
        cut = data.rfind(b"\n") + 1
        self.log_offset += cut
        warnings = 0
        for line in data[:cut].split(b"\n")[:-1]:
            lines += 1
            level = line.split(b" ", 2)[1] if line.count(b" ") >= 2 else b""
            # The breaker's and health checks' transitions are the scenario, not a problem.
            if level in (b"WARNING", b"ERROR", b"CRITICAL") and b" transition " not in line:
                warnings += 1
                if len(self.log_warnings) < 200:
                    self.log_warnings.append(line.decode("utf-8", "replace")[:300])
        return lines, warnings

    def sample(self, t, prev):
        a = self.a
        now_cpu = cpu_times()
        st = read_stat(self.gh.pid)
        cl = read_stat(self.load.pid) if getattr(self, "load", None) else None
        kinds = fd_kinds(self.gh.pid, self.gh_port, {self.up_port, self.flaky_port})
        m = scrape(self.gh_port)
        s = {"t_s": round(t, 1), "rss_kib": rss_kib(self.gh.pid), "threads": threads_of(self.gh.pid)}
        if kinds:
            s["fds"], s["fds_client"], s["fds_upstream"], s["fds_other"] = kinds
        if prev is not None and st:
            dt = time.monotonic() - prev["mono"]
            s["cpu_pct"] = round(100.0 * (st[1] - prev["ticks"]) / CLK_TCK / dt, 1)
            if cl and prev.get("client_ticks") is not None:
                s["client_cpu_pct"] = round(100.0 * (cl[1] - prev["client_ticks"]) / CLK_TCK / dt, 1)
            s["machine_busy_pct"] = round(sum(busy_percent(prev["cpu"], now_cpu, c) for c in now_cpu) /
                                          len(now_cpu), 1)
        with open("/proc/loadavg") as f:
            s["load1"] = float(f.read().split()[0])
        b = buckets(m, "app")
        s["srv_p99_ms"] = histogram_p99_ms(prev["buckets"] if prev else None, b)
        state = [l["state"] for n, l, v in m
                 if n == "gatehouse_circuit_breaker_state" and l.get("endpoint") == "flaky" and v == 1]
        s["breaker"] = state[0] if state else None
        s["trips"] = int(metric(m, "gatehouse_circuit_breaker_transitions_total", endpoint="flaky", to="open",
                                **{"from": "closed"}))
        s["recoveries"] = int(metric(m, "gatehouse_circuit_breaker_transitions_total", endpoint="flaky",
                                     to="closed", **{"from": "half_open"}))
        s["reloads_ok"] = int(metric(m, "gatehouse_config_reloads_total", result="success"))
        s["reloads_failed"] = int(metric(m, "gatehouse_config_reloads_total", result="failure"))
        s["conns_open"] = int(metric(m, "gatehouse_connections_open"))
        s["log_lines"], s["log_warnings"] = self.scan_log()
        w = self.window(int(round(t / a.interval)) - 1)
        if w:
            s.update(issued=w["issued"], completed=w["completed"], errors=w["error_total"], late=w["late"],
                     lag_max_ms=w["lag_max_ms"], p50_ms=w["p50_ms"], p99_ms=w["p99_ms"], max_ms=w["max_ms"],
                     flaky_ok=w["flaky"]["ok"], flaky_fallback=w["flaky"]["fallback"],
                     flaky_5xx=w["flaky"]["5xx"], flaky_other=w["flaky"]["other"], aborts=w["aborts"],
                     abort_fail=w["abort_fail"], connects=w["connects"])
            s["error_kinds"] = w["errors"]
        state_now = {"mono": time.monotonic(), "ticks": st[1] if st else 0, "cpu": now_cpu, "buckets": b,
                     "client_ticks": cl[1] if cl else None}
        return s, state_now

    def window(self, index, wait=3.0):
        deadline = time.monotonic() + wait
        while index not in self.windows and time.monotonic() < deadline:
            try:
                w = self.windows_q.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if "w" in w:
                self.windows[w["w"]] = w
        return self.windows.get(index)

    def read_load(self, pipe):
        for line in pipe:
            try:
                self.windows_q.put(json.loads(line))
            except ValueError:
                log(f"client: {line.strip()}")

    def idle_reading(self):
        kinds = fd_kinds(self.gh.pid, self.gh_port, {self.up_port, self.flaky_port})
        return {"rss_kib": rss_kib(self.gh.pid), "fds": kinds[0], "fds_client": kinds[1],
                "fds_upstream": kinds[2], "fds_other": kinds[3]}

    def run(self):
        a = self.a
        time.sleep(2.0)
        self.baseline = self.idle_reading()
        self.log_offset = self.log_path.stat().st_size   # start-up lines are not the soak's
        log(f"before the load: RSS {self.baseline['rss_kib'] / 1024:.1f} MiB, {self.baseline['fds']} fds")
        t0 = time.monotonic() + 1.0
        self.t0 = t0
        load = subprocess.Popen(
            (["nice", "-n", str(a.nice)] if a.nice else []) +
            [sys.executable, str(BENCH_DIR / "soak_load.py"), "--port", str(self.gh_port), "--rate", str(a.rate),
             "--conns", str(a.conns), "--t0", repr(t0), "--duration", str(a.duration + a.interval / 2),
             "--window", str(a.interval)],
            stdout=subprocess.PIPE, text=True, start_new_session=True)
        self.load = load
        threading.Thread(target=self.read_load, args=(load.stdout,), daemon=True).start()
        events = []   # (time, order, action, arg)
        n = int(a.duration // a.interval)
        for k in range(1, n + 1):
            events.append((k * a.interval, 0, "sample", k))
        for k in range(int((a.duration - a.interval / 2) // a.reload_every) + 1):
            t = a.reload_every / 2 + k * a.reload_every
            if t < a.duration:
                events.append((t, 1, "reload", k))
        t = 0.0
        while t < a.duration:
            events.append((t, 2, "flaky", None))
            t += 1.0
        events.sort(key=lambda e: (e[0], e[1]))
        prev = None
        mode = "ok"
        fail_start = None
        _, prev = self.sample(0.0, None)
        log(f"load: {a.rate:g} req/s over {a.conns} connections for {a.duration:g} s; "
            f"reload every {a.reload_every:g} s; the flaky upstream fails {a.fail_for:g} s of every "
            f"{a.breaker_period:g} s")
        for t, _, action, arg in events:
            delay = t0 + t - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            if not self.gh.alive():
                raise RuntimeError(f"gatehouse exited with status {self.gh.popen.returncode} at t={t:.0f} s")
            if action == "flaky":
                want = self.flaky_mode_at(t)
                if want != mode:
                    if want != "ok":
                        fail_start = t
                    elif fail_start is not None:
                        self.failing_spans.append((fail_start, t, mode))
                    self.flaky.set_mode(want)
                    mode = want
            elif action == "reload":
                self.reload(arg)
            else:
                s, prev = self.sample(t, prev)
                self.samples.append(s)
                if arg % 6 == 0 or arg == n:
                    log(f"t={t:5.0f}s RSS {s['rss_kib'] / 1024:6.1f} MiB fds {s.get('fds')} "
                        f"p99 {s.get('p99_ms')} ms (gatehouse {s.get('srv_p99_ms')}) req {s.get('completed')} "
                        f"err {s.get('errors')} aborts {s.get('aborts')} breaker {s['breaker']} "
                        f"trips {s['trips']} reloads {self.reloads_done}/{self.reloads_done + self.reload_failures} "
                        f"load {s['load1']}")
        if fail_start is not None and mode != "ok":
            self.failing_spans.append((fail_start, a.duration, mode))
        self.flaky.set_mode("ok")
        try:
            load.wait(timeout=30)
        except subprocess.TimeoutExpired:
            load.terminate()
            load.wait()
        # After the load: client connections close at once; idle upstream connections age
        # out of the pool (30 s); the count must come back to the one before the load.
        t_end = time.monotonic()
        after = self.idle_reading()
        while time.monotonic() - t_end < a.settle and after["fds"] > self.baseline["fds"]:
            time.sleep(1.0)
            after = self.idle_reading()
        after["settle_s"] = time.monotonic() - t_end
        self.after = after
        log(f"after the load: {after['fds']} fds after {after['settle_s']:.0f} s "
            f"(client {after['fds_client']}, upstream {after['fds_upstream']}), RSS {after['rss_kib'] / 1024:.1f} MiB")

    def stop(self):
        if self.flaky:
            self.flaky.close()
        for p in reversed(self.procs):
            p.stop()
        if getattr(self, "load", None) and self.load.poll() is None:
            os.killpg(self.load.pid, signal.SIGTERM)
            self.load.wait()
        if self.a.keep_tmp:
            log(f"kept {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description="gatehouse soak: steady load, reloads, breaker trips, aborts")
    ap.add_argument("--gatehouse", default=str(REPO / "build" / "gatehouse"), help="binary to test")
    ap.add_argument("--duration", type=float, default=1800, help="seconds of load (default 1800)")
    ap.add_argument("--rate", type=float, default=1500, help="requests per second (default 1500)")
    ap.add_argument("--conns", type=int, default=32, help="keep-alive client connections (default 32)")
    ap.add_argument("--threads", type=int, default=2, help="gatehouse event-loop threads (default 2)")
    ap.add_argument("--interval", type=float, default=10, help="seconds between samples (default 10)")
    ap.add_argument("--reload-every", type=float, default=10, help="seconds between reloads (default 10)")
    ap.add_argument("--breaker-period", type=float, default=60, help="seconds per trip (default 60)")
    ap.add_argument("--fail-for", type=float, default=20, help="seconds the flaky upstream fails per period")
    ap.add_argument("--settle", type=float, default=45, help="seconds allowed for fds to come back after")
    ap.add_argument("--nice", type=int, default=0, help="niceness of everything started (default 0)")
    ap.add_argument("--out", default=str(BENCH_DIR / "results"), help="directory for soak.csv/.png/.txt")
    ap.add_argument("--keep-tmp", action="store_true", help="keep configs and logs in /tmp")
    a = ap.parse_args()
    if a.duration < 4 * a.interval:
        ap.error("--duration must be at least 4 sample intervals")
    os.environ["PATH"] += ":/usr/sbin:/sbin"
    for tool in ("nginx",):
        if not shutil.which(tool):
            sys.exit(f"soak: {tool} not found (run: GATEHOUSE_BENCH_DEPS=1 bash scripts/install-deps.sh)")
    if not os.access(a.gatehouse, os.X_OK):
        sys.exit(f"soak: no gatehouse binary at {a.gatehouse} (make build)")
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, lambda n, f: sys.exit(128 + n))
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

    h = Soak(a)
    try:
        h.start()
        h.run()
    finally:
        h.stop()
    status = h.gh.popen.returncode
    flat, lines, fig = verdict(h.samples, a.duration, h.baseline, h.after)
    text = summary(h, a, flat, lines, fig)
    if status != 0:
        text += f"gatehouse exited with status {status} on SIGTERM (expected 0)\n"
    if h.reload_problems:
        text += "reload problems:\n" + "".join(f"  {p}\n" for p in h.reload_problems[:20])
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    write_csv(out / "soak.csv", h.samples)
    (out / "soak.txt").write_text(text)
    title = (f"gatehouse soak: {a.duration / 60:.0f} min at {a.rate:g} req/s, reload every "
             f"{a.reload_every:g} s, breaker trip every {a.breaker_period:g} s, 1% aborting clients "
             f"- {'flat' if flat else 'NOT flat'}")
    problem = plot(out / "soak.png", h.samples, title, h.failing_spans, a.interval)
    if problem:
        text += problem + "\n"
    print(text, end="")
    log(f"wrote {out / 'soak.csv'}, {out / 'soak.txt'}" + ("" if problem else f", {out / 'soak.png'}"))
    errors = sum(x.get("errors") or 0 for x in h.samples)
    last = h.samples[-1]
    phases = len(h.failing_spans)
    scenario = last["trips"] >= phases and last["recoveries"] >= phases - 1
    if not scenario:
        log(f"the breaker did not trip and recover once per failing phase ({phases} phases, "
            f"{last['trips']} trips, {last['recoveries']} recoveries)")
    good = flat and status == 0 and h.reload_failures == 0 and errors == 0 and scenario
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
