#!/usr/bin/python3
"""Side-by-side proxy benchmark: gatehouse against nginx and HAProxy (issue 6).

One nginx upstream answers from memory; every proxy forwards to it. The proxy under
test is pinned to CPU 1, wrk and the upstream to CPU 0. Rounds are interleaved (every
target once per round, order rotated), and each figure's ratio to nginx is taken
within a round, then the median over rounds is reported. See bench/README.md.

Standard library only; run with /usr/bin/python3 from the repository root or anywhere:
    bench/proxy.py                 # full run (5 s per measurement, 3 rounds)
    bench/proxy.py --quick         # smoke test (2 s, 1 round)
"""

import argparse
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import (Proc, busy_percent, children, cpu_times, fill, free_ports, http_get,
                      make_jwt_es256, make_jwt_hs256, parse_wrk, read_stat, rss_kib, wait_ready)
from report import CLIENT_CPU, EXTRA_KEYS, NAMES, PROXY_CPU, ROUTING_ENDPOINTS, machine_info, report
import gateway_scenarios
import tls_bench
import ws_bench

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
CONF_DIR = BENCH_DIR / "conf"
CLK_TCK = os.sysconf("SC_CLK_TCK")

SMALL_PATH = "/app/small"
BIG_PATH = "/app/big"
BIG_SIZE = 64 * 1024
HUGE_PATH = "/app/huge"
HUGE_SIZE = 1024 * 1024
BODY_PATHS = {"small": SMALL_PATH, "big": BIG_PATH, "huge": HUGE_PATH}
ROUTING_HIT = 7_777  # which of the generated endpoints the requests hit
FALLBACK_BODY = "breaker open: fallback\n"
DEFAULT_SCENARIOS = "routing,jwt,breaker,lb,ratelimit,memory,tls,websocket"


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- targets ----

class Target:
    """Something wrk can be pointed at: a port, a path, headers, and whose CPU to count."""

    def __init__(self, key, port, path, proc=None, cpu_pids=None, headers=(), log_file=None,
                 scheme="http", aux_pids=None):
        self.key = key
        self._aux_pids = aux_pids  # callable -> [pid]: a helper whose CPU is reported apart (Redis)
        self.scheme = scheme
        self.port = port
        self.path = path
        self.proc = proc
        self._cpu_pids = cpu_pids  # callable -> [pid]
        self.headers = list(headers)
        self.log_file = log_file

    def cpu_pids(self):
        return self._cpu_pids() if self._cpu_pids else []

    def aux_pids(self):
        return self._aux_pids() if self._aux_pids else []

    def with_path(self, path):
        return Target(self.key, self.port, path, self.proc, self._cpu_pids, self.headers, self.log_file,
                      self.scheme, self._aux_pids)


class Harness:
    def __init__(self, args):
        self.args = args
        self.tmp = Path(tempfile.mkdtemp(prefix="gatehouse-bench-"))
        (self.tmp / "tmp").mkdir()
        (self.tmp / "www" / "app").mkdir(parents=True)
        (self.tmp / "www" / "app" / "big").write_bytes(os.urandom(BIG_SIZE // 2).hex().encode())
        (self.tmp / "www" / "app" / "huge").write_bytes(os.urandom(HUGE_SIZE // 2).hex().encode())
        self.procs = []
        self.nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        if self.nofile == resource.RLIM_INFINITY:
            self.nofile = 1 << 20
        resource.setrlimit(resource.RLIMIT_NOFILE, (self.nofile, self.nofile))
        self.user_line = "user root;" if os.geteuid() == 0 else ""
        self.skipped = {}   # scenario -> reason
        self.notes = []
        self.targets = {}
        self.memory = {}

    # -- starting things --

    def pinned(self, cpu, argv):
        """argv pinned to one CPU, at the benchmark's scheduling priority."""
        nice = ["nice", "-n", str(self.args.nice)] if self.args.nice else []
        return nice + ["taskset", "-c", cpu] + argv

    def spawn(self, name, argv, cpu, **kw):
        p = Proc(name, self.pinned(cpu, argv), **kw)
        self.procs.append(p)
        for f in (kw.get("stdout"), kw.get("stderr")):
            if hasattr(f, "close"):
                f.close()  # the child has its own copy
        return p

    def start_nginx(self, name, template, port, cpu, **extra):
        conf = self.tmp / f"{name}.conf"
        conf.write_text(fill(CONF_DIR / template, DIR=self.tmp, PORT=port, USER_LINE=self.user_line,
                             NOFILE=self.nofile, WORKER_CONNECTIONS=min(20000, self.nofile),
                             **extra))
        errlog = open(self.tmp / f"{name}-stderr.log", "ab")
        return self.spawn(name, ["nginx", "-p", f"{self.tmp}/", "-c", str(conf),
                                 "-e", str(self.tmp / f"{name}-error.log")], cpu, stderr=errlog)

    def gatehouse_conf(self, name, port, endpoints, auth=""):
        path = self.tmp / f"{name}.yaml"
        path.write_text(fill(CONF_DIR / "gatehouse.yaml", PORT=port, ENDPOINTS=endpoints, AUTH=auth))
        return path

    def gatehouse_check(self, conf):
        r = subprocess.run([self.args.gatehouse, "check", "-c", str(conf)],
                           capture_output=True, text=True, timeout=60)
        return r.returncode == 0, (r.stdout + r.stderr).strip()

    def start_gatehouse(self, name, conf):
        log_path = self.tmp / f"{name}.log"
        # O_APPEND, so truncating between runs leaves no hole in the file.
        errlog = open(log_path, "ab")
        p = self.spawn(name, [self.args.gatehouse, "run", "-c", str(conf)], PROXY_CPU, stderr=errlog)
        return p, log_path

    def start_all(self):
        a = self.args
        (self.up_port, self.nginx_port, self.haproxy_port, self.gh_port, self.gh10k_port,
         self.jwt_port, self.breaker_port, self.dead_port, up2, up3) = free_ports(10)
        self.up_ports = [self.up_port, up2, up3]
        up_url = f"http://127.0.0.1:{self.up_port}"

        log("starting the upstream (nginx, CPU 0)")
        up = self.start_nginx("upstream", "upstream-nginx.conf", self.up_port, CLIENT_CPU,
                              EXTRA_LISTEN="".join(f"        listen 127.0.0.1:{p} backlog=4096;\n"
                                                   for p in self.up_ports[1:]))
        wait_ready(self.up_port, SMALL_PATH, up)
        self.targets["direct"] = Target("direct", self.up_port, SMALL_PATH, up)

        log("starting nginx as reverse proxy (CPU 1)")
        ng = self.start_nginx("nginx-proxy", "nginx-proxy.conf", self.nginx_port, PROXY_CPU,
                              UPSTREAM_PORT=self.up_port)
        wait_ready(self.nginx_port, SMALL_PATH, ng)
        self.targets["nginx"] = Target("nginx", self.nginx_port, SMALL_PATH, ng,
                                       lambda: children(ng.pid))

        log("starting haproxy (CPU 1)")
        cfg = self.tmp / "haproxy.cfg"
        cfg.write_text(fill(CONF_DIR / "haproxy.cfg", DIR=self.tmp, PORT=self.haproxy_port,
                            UPSTREAM_PORT=self.up_port, MAXCONN=4096))
        hp = self.spawn("haproxy", ["haproxy", "-db", "-f", str(cfg)], PROXY_CPU,
                        stderr=open(self.tmp / "haproxy-stderr.log", "ab"))
        wait_ready(self.haproxy_port, SMALL_PATH, hp)
        self.targets["haproxy"] = Target("haproxy", self.haproxy_port, SMALL_PATH, hp,
                                         lambda: [hp.pid])

        log("starting gatehouse (1 thread, access log on, CPU 1)")
        conf = self.gatehouse_conf("gatehouse", self.gh_port,
                                   f"  - name: app\n    prefix: /app\n    strip_prefix: false\n"
                                   f"    url: {up_url}\n")
        ok, out = self.gatehouse_check(conf)
        if not ok:
            raise RuntimeError(f"gatehouse check rejected the plain config:\n{out}")
        gh, gh_log = self.start_gatehouse("gatehouse", conf)
        wait_ready(self.gh_port, SMALL_PATH, gh)
        self.targets["gatehouse"] = Target("gatehouse", self.gh_port, SMALL_PATH, gh,
                                           lambda: [gh.pid], log_file=gh_log)
        self.memory["idle_fresh"] = {"gatehouse": rss_kib(gh.pid),
                                     "nginx_worker": sum(rss_kib(p) or 0 for p in children(ng.pid)),
                                     "nginx_total": (rss_kib(ng.pid) or 0) +
                                     sum(rss_kib(p) or 0 for p in children(ng.pid))}

        if "routing" in a.scenarios:
            self.start_routing(up_url)
        if "jwt" in a.scenarios:
            self.start_jwt(up_url)
        if "breaker" in a.scenarios:
            self.start_breaker()
        if "lb" in a.scenarios:
            log("starting gatehouse with three servers, and with one of them refusing connections")
            gateway_scenarios.start_lb(self, Target)
        if "ratelimit" in a.scenarios:
            log("starting gatehouse with a local rate limit, and a shared one (redis-server, CPU 0)")
            gateway_scenarios.start_ratelimit(self, Target)
        if "tls" in a.scenarios:
            log("starting gatehouse and nginx terminating TLS (CPU 1)")
            tls_bench.start(self, Target, SMALL_PATH)
        if "websocket" in a.scenarios:
            log("starting a WebSocket echo server (CPU 0) and gatehouse in front of it (CPU 1)")
            ws_bench.start(self)

    def start_routing(self, up_url):
        log(f"starting gatehouse with {ROUTING_ENDPOINTS:,} endpoints")
        eps = "".join(f"  - name: svc{i:05d}\n    strip_prefix: false\n    url: {up_url}\n"
                      f"    health_check: false\n" for i in range(ROUTING_ENDPOINTS))
        conf = self.gatehouse_conf("gatehouse-10k", self.gh10k_port, eps)
        t0 = time.monotonic()
        ok, out = self.gatehouse_check(conf)
        if not ok:
            self.skipped["routing"] = f"`gatehouse check` rejects the 10,000-endpoint config: {out[:200]}"
            return
        path = f"/svc{ROUTING_HIT:05d}/small"
        p, lp = self.start_gatehouse("gatehouse-10k", conf)
        try:
            wait_ready(self.gh10k_port, path, p, timeout=120)
        except RuntimeError as e:
            self.skipped["routing"] = f"gatehouse with 10,000 endpoints did not come up: {e}"
            return
        self.notes.append(f"gatehouse with {ROUTING_ENDPOINTS:,} endpoints: check + start + first "
                          f"answer in {time.monotonic() - t0:.1f} s; requests hit `{path}`.")
        self.memory["idle_10k_endpoints"] = rss_kib(p.pid)
        self.targets["gh-10k"] = Target("gh-10k", self.gh10k_port, path, p, lambda: [p.pid],
                                        log_file=lp)

    # -- jwt --

    def start_jwt(self, up_url):
        secret = os.urandom(32).hex()
        (self.tmp / "hs.secret").write_text(secret + "\n")
        key = self.tmp / "es256.key.pem"
        pub = self.tmp / "es256.pub.pem"
        try:
            subprocess.run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout",
                            "-out", str(key)], check=True, capture_output=True)
            subprocess.run(["openssl", "ec", "-in", str(key), "-pubout", "-out", str(pub)],
                           check=True, capture_output=True)
        except (OSError, subprocess.CalledProcessError) as e:
            self.skipped["jwt"] = f"cannot make an ES256 key with openssl: {e}"
            return
        auth = ("auth:\n  jwt:\n    algorithms: [HS256, ES256]\n"
                f"    hmac_secret_file: {self.tmp / 'hs.secret'}\n    public_key_file: {pub}\n")
        eps = (f"  - name: secure\n    prefix: /secure\n    strip_prefix: false\n"
               f"    auth_type: jwt\n    url: {up_url}\n    health_check: false\n")
        conf = self.gatehouse_conf("gatehouse-jwt", self.jwt_port, eps, auth)
        ok, out = self.gatehouse_check(conf)
        if not ok:
            self.skipped["jwt"] = f"not available yet: `gatehouse check` rejects `auth_type: jwt` ({out[:160]})"
            return
        now = int(time.time())
        claims = {"sub": "bench", "iat": now, "exp": now + 24 * 3600}
        tokens = {"hs256": make_jwt_hs256(claims, secret.encode()),
                  "es256": make_jwt_es256(claims, key)}
        p, lp = self.start_gatehouse("gatehouse-jwt", conf)
        path = "/secure/small"
        try:
            wait_ready(self.jwt_port, path, p, ok=(200, 401, 403))
            st_none, _ = http_get(self.jwt_port, path)
            st_hs, _ = http_get(self.jwt_port, path, {"Authorization": f"Bearer {tokens['hs256']}"})
            st_es, _ = http_get(self.jwt_port, path, {"Authorization": f"Bearer {tokens['es256']}"})
        except (RuntimeError, OSError) as e:
            self.skipped["jwt"] = f"gatehouse with a jwt endpoint did not answer: {e}"
            return
        if st_none != 401:
            self.skipped["jwt"] = ("not available yet: a request without a token gets "
                                   f"{st_none}, not 401 (the endpoint does not verify JWTs)")
            p.stop()
            return
        if st_hs != 200 or st_es != 200:
            self.skipped["jwt"] = f"valid tokens are refused (HS256 -> {st_hs}, ES256 -> {st_es})"
            p.stop()
            return
        for alg in ("hs256", "es256"):
            self.targets[f"gh-jwt-{alg}"] = Target(
                f"gh-jwt-{alg}", self.jwt_port, path, p, lambda: [p.pid],
                headers=[f"Authorization: Bearer {tokens[alg]}"], log_file=lp)

    # -- breaker --

    def start_breaker(self):
        eps = (f"  - name: broken\n    prefix: /broken\n    url: http://127.0.0.1:{self.dead_port}\n"
               f"    health_check: false\n    connect_timeout: 1s\n"
               f"    circuit_breaker: {{failure_threshold: 1, reset_timeout: 1h, "
               f"fallback_strategy: default}}\n"
               f"    fallback: {{status: 200, content_type: text/plain, body: {json.dumps(FALLBACK_BODY)}}}\n")
        conf = self.gatehouse_conf("gatehouse-breaker", self.breaker_port, eps)
        ok, out = self.gatehouse_check(conf)
        if not ok:
            self.skipped["breaker"] = f"not available yet: `gatehouse check` rejects the config ({out[:160]})"
            return
        p, lp = self.start_gatehouse("gatehouse-breaker", conf)
        path = "/broken/small"
        try:
            wait_ready(self.breaker_port, path, p, ok=(200, 502, 503, 504))
            got = []
            for _ in range(5):
                got.append(http_get(self.breaker_port, path))
        except (RuntimeError, OSError) as e:
            self.skipped["breaker"] = f"gatehouse with the breaker config did not answer: {e}"
            return
        if not all(st == 200 and body == FALLBACK_BODY.encode() for st, body in got[-3:]):
            self.skipped["breaker"] = ("not available yet: with the upstream down the breaker does not "
                                       f"answer with the default fallback (statuses {[s for s, _ in got]})")
            p.stop()
            return
        self.targets["gh-breaker"] = Target("gh-breaker", self.breaker_port, path, p,
                                            lambda: [p.pid], log_file=lp)

    # -- measuring --

    def wrk(self, target, conns, duration):
        argv = self.pinned(CLIENT_CPU, ["wrk", f"-t{self.args.wrk_threads}", f"-c{conns}",
                                        f"-d{duration}s", "--latency", "--timeout", "5s"])
        for h in target.headers:
            argv += ["-H", h]
        argv.append(f"{target.scheme}://127.0.0.1:{target.port}{target.path}")
        if target.log_file:
            os.truncate(target.log_file, 0)
        pids = target.cpu_pids()
        aux = target.aux_pids()
        before = sum((read_stat(p) or (0, 0))[1] for p in pids)
        aux_before = sum((read_stat(p) or (0, 0))[1] for p in aux)
        cores_before = cpu_times()
        r = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60,
                           start_new_session=True)
        after = sum((read_stat(p) or (0, 0))[1] for p in pids)
        aux_after = sum((read_stat(p) or (0, 0))[1] for p in aux)
        cores_after = cpu_times()
        if r.returncode != 0:
            raise RuntimeError(f"wrk failed ({r.returncode}): {r.stderr.strip()[:300]}")
        res = parse_wrk(r.stdout)
        if target.proc is not None and not target.proc.alive():
            raise RuntimeError(f"{target.proc.name} died during the run")
        res["cpu_us"] = ((after - before) / CLK_TCK * 1e6 / res["requests"]
                         if pids and res["requests"] else None)
        if aux and res["requests"]:
            res["aux_cpu_us"] = (aux_after - aux_before) / CLK_TCK * 1e6 / res["requests"]
        # Whole-core busy time (every process, softirq included): shows which side was
        # the bottleneck, and how much else ran on the proxy's core.
        res["client_core_busy"] = busy_percent(cores_before, cores_after, CLIENT_CPU)
        res["proxy_core_busy"] = busy_percent(cores_before, cores_after, PROXY_CPU)
        res["proxy_busy"] = (100.0 * (after - before) / CLK_TCK / res["seconds"]
                             if pids and res["seconds"] else None)
        if target.log_file and res["requests"]:
            res["log_bytes_per_req"] = os.path.getsize(target.log_file) / res["requests"]
        return res

    def warm_up(self):
        log("warming up every target (1 s each)")
        for t in self.targets.values():
            self.wrk(t, max(self.args.connections), 1)

    def run_rounds(self):
        a = self.args
        cells = [(c, b) for c in a.connections for b in a.bodies]
        base = [k for k in ("gatehouse", "nginx", "haproxy", "direct") if k in self.targets]
        extras = [k for k in EXTRA_KEYS if k in self.targets]
        extra_cell = (min(a.connections), "small")
        self.results = {}  # (conns, body, key) -> [per-round dict]
        total = a.rounds * sum(len(base) + (len(extras) if cell == extra_cell else 0) for cell in cells)
        done = 0
        for rnd in range(a.rounds):
            for cell in cells:
                keys = base + (extras if cell == extra_cell else [])
                shift = rnd % len(keys)
                for key in keys[shift:] + keys[:shift]:
                    conns, body = cell
                    t = self.targets[key]
                    if body != "small":
                        t = t.with_path(BODY_PATHS[body])
                    done += 1
                    log(f"round {rnd + 1}/{a.rounds} [{done}/{total}] {NAMES[key]}: "
                        f"{conns} connections, {body} body")
                    res = self.wrk(t, conns, a.duration)
                    res["round"] = rnd
                    self.results.setdefault((conns, body, key), []).append(res)

    def measure_memory(self):
        a = self.args
        gh = self.targets["gatehouse"].proc
        ng = self.targets["nginx"].proc
        self.memory["idle_after_load"] = self.rss_pair(gh, ng)
        for key, port in (("gatehouse", self.gh_port), ("nginx", self.nginx_port)):
            log(f"opening {a.idle_conns:,} idle keep-alive connections to {key}")
            client = subprocess.Popen(
                self.pinned(CLIENT_CPU, [sys.executable, str(BENCH_DIR / "idle_conns.py"),
                                         "--port", str(port), "--count", str(a.idle_conns),
                                         "--path", SMALL_PATH]),
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                start_new_session=True)
            try:
                line = client.stdout.readline().strip()
                m = re.match(r"ready (\d+) failed (\d+)", line)
                if not m:
                    raise RuntimeError(f"idle_conns.py: {line or client.stderr.read()[:300]}")
                time.sleep(1.0)
                self.memory[f"conns_{key}"] = {"ready": int(m.group(1)), "failed": int(m.group(2)),
                                               **self.rss_pair(gh, ng)}
            finally:
                try:
                    client.stdin.close()
                    client.wait(timeout=30)
                except (OSError, subprocess.TimeoutExpired):
                    os.killpg(client.pid, signal.SIGKILL)
                    client.wait()
            time.sleep(1.0)

    @staticmethod
    def rss_pair(gh, ng):
        workers = children(ng.pid)
        return {"gatehouse": rss_kib(gh.pid),
                "nginx_worker": sum(rss_kib(p) or 0 for p in workers),
                "nginx_total": (rss_kib(ng.pid) or 0) + sum(rss_kib(p) or 0 for p in workers)}

    def stop_all(self):
        for p in reversed(self.procs):
            p.stop()
        if self.args.keep_tmp:
            log(f"kept {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


# ---------------------------------------------------------------- main ----

def main():
    ap = argparse.ArgumentParser(description="gatehouse vs nginx vs HAProxy, side by side")
    ap.add_argument("--gatehouse", default=str(REPO / "build" / "gatehouse"), help="binary to test")
    ap.add_argument("--duration", type=int, default=5, help="seconds per measurement (default 5)")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    ap.add_argument("--quick", action="store_true", help="smoke test: 2 s, 1 round")
    ap.add_argument("--connections", default="64,512", help="wrk connection counts (default 64,512)")
    ap.add_argument("--bodies", default="small,big",
                    help="response bodies: small (24 B), big (64 KiB), huge (1 MiB); default small,big")
    ap.add_argument("--scenarios", default=DEFAULT_SCENARIOS,
                    help=f"extra scenarios to run (default {DEFAULT_SCENARIOS})")
    ap.add_argument("--idle-conns", type=int, default=10_000, help="idle connections for the RSS test")
    ap.add_argument("--wrk-threads", type=int, default=1)
    ap.add_argument("--nice", type=int, default=-10 if os.geteuid() == 0 else 0,
                    help="niceness of everything the benchmark starts (default -10 as root, "
                         "so other work on the machine disturbs less; 0 = unchanged)")
    ap.add_argument("--out", default=str(BENCH_DIR / "results"), help="directory for latest.md/.json")
    ap.add_argument("--keep-tmp", action="store_true", help="keep configs and logs in /tmp")
    args = ap.parse_args()
    if args.quick:
        args.duration, args.rounds = 2, 1
    args.connections = [int(x) for x in args.connections.split(",") if x]
    args.bodies = [x for x in args.bodies.split(",") if x]
    args.scenarios = {x for x in args.scenarios.split(",") if x}
    if not set(args.bodies) <= set(BODY_PATHS):
        ap.error("--bodies takes small, big and/or huge")

    for tool in ("nginx", "haproxy", "wrk", "taskset", "openssl"):
        if not shutil.which(tool) and not os.path.exists(f"/usr/sbin/{tool}"):
            sys.exit(f"bench: {tool} not found (run: GATEHOUSE_BENCH_DEPS=1 bash scripts/install-deps.sh)")
    os.environ["PATH"] += ":/usr/sbin:/sbin"
    if not os.access(args.gatehouse, os.X_OK):
        sys.exit(f"bench: no gatehouse binary at {args.gatehouse} (make build)")
    if (os.cpu_count() or 1) < 2:
        sys.exit("bench: needs at least 2 CPUs (the proxy is pinned to CPU 1)")

    # SIGTERM/SIGHUP unwind through `finally`, so every child is stopped.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda s, f: sys.exit(128 + s))

    h = Harness(args)
    h.info = machine_info(args)
    start = time.monotonic()
    try:
        h.start_all()
        h.warm_up()
        h.run_rounds()
        if "tls" in args.scenarios:
            log("TLS rounds: keep-alive over HTTPS, full and resumed handshakes")
            tls_bench.measure(h, args)
        if "websocket" in args.scenarios:
            log("WebSocket rounds: echo messages through gatehouse and direct")
            ws_bench.measure(h, args)
        if "lb" in args.scenarios:
            h.notes += gateway_scenarios.lb_notes(h)
        if "memory" in args.scenarios:
            h.measure_memory()
        text = report(h, args) + tls_bench.report(h, args) + ws_bench.report(h, args)
    finally:
        h.stop_all()
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "latest.md").write_text(text)
    raw = {"args": {k: (sorted(v) if isinstance(v, set) else v) for k, v in vars(args).items()},
           "results": [{"connections": c, "body": b, "target": k, "rounds": rs}
                       for (c, b, k), rs in h.results.items()],
           "memory_kib": h.memory, "skipped": h.skipped,
           "tls": [{"figure": f, "target": k, "rounds": rs}
                   for (f, k), rs in getattr(h, "tls_results", {}).items()],
           "websocket": [{"target": k, "rounds": rs}
                         for k, rs in getattr(h, "ws_results", {}).items()]}
    (out_dir / "latest.json").write_text(json.dumps(raw, indent=1))
    print(text)
    log(f"done in {time.monotonic() - start:.0f} s; wrote {out_dir / 'latest.md'} and latest.json")


if __name__ == "__main__":
    main()
