#!/usr/bin/python3
"""Reload benchmark (issues 5 and 18): how long until a config change is served, how long a
10,000-endpoint file takes to apply, and what 10,000 and 100,000 endpoints cost.

  /usr/bin/python3 bench/reload_bench.py [--gatehouse build/gatehouse] [--runs 10]
                                         [--big-runs 5] [--endpoints 10000] [--keep-tmp]
                                         [--scale 10000,100000] [--scale-runs 5] [--scale-only]

(a) reload latency, from the change to the new route answering (median of --runs):
    watch: true with an in-place write, with an atomic rename, with a Kubernetes
    ConfigMap `..data` symlink swap; SIGHUP; and POST /endpoints/reload (request sent ->
    200 received, and -> new route answering).
(b) a config of --endpoints endpoints (health_check: false): `gatehouse check` time,
    start-up time (process start -> /readyz 200), and POST /endpoints/reload to a variant
    with one endpoint changed (median of --big-runs), plus the worst latency a
    keep-alive client saw on the proxy path while those reloads ran.
(c) for each count of --scale (health_check: false, as in (b)): idle RSS once ready, the
    wall time and gatehouse's CPU time of POST /endpoints/reload with one endpoint changed
    (median of --scale-runs, alternating between two variants), and the RSS once the old
    tables are released (polled until it stops falling, at most 10 s) next to the idle one.

Standard library only. Prints a markdown table.
"""

import argparse
import http.client
import http.server
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import Proc  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------ helpers ----

def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Upstream:
    """A keep-alive HTTP/1.1 upstream answering 200 "ok" to everything."""

    def __init__(self):
        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def do_GET(self):
                # one write: head and body in a single segment (no Nagle/delayed-ACK stall)
                self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

            def log_message(self, *a):
                pass

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.srv.daemon_threads = True
        self.port = self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


def config_text(port, up_port, names, watch=False, changed=None, comment=""):
    """YAML with one endpoint per name; `changed` gets timeout 9s instead of 10s."""
    out = [f"# {comment}"] if comment else []
    out += [f"listen: 127.0.0.1:{port}", "threads: 2", f"watch: {'true' if watch else 'false'}",
            "log: { level: info, access_log: false }", "endpoints:"]
    for n in names:
        t = "9s" if n == changed else "10s"
        out.append(f"  - {{ url: \"http://127.0.0.1:{up_port}/{n}\", name: {n}, "
                   f"timeout: {t}, health_check: false }}")
    return "\n".join(out) + "\n"


def write_in_place(path, text):
    with open(path, "w") as f:
        f.write(text)


def write_rename(path, text):
    tmp = path.parent / f".{path.name}.tmp"
    tmp.write_text(text)
    os.replace(tmp, path)


class ConfigMap:
    """dir/..<ts>/gatehouse.yaml, dir/..data -> ..<ts>, dir/gatehouse.yaml -> ..data/..."""

    def __init__(self, d):
        self.dir = d
        self.n = 0
        self.cur = None
        d.mkdir(parents=True)

    @property
    def path(self):
        return self.dir / "gatehouse.yaml"

    def _version(self, text):
        self.n += 1
        ts = f"..2026_11_27_10_00_00.{self.n:06d}"
        (self.dir / ts).mkdir()
        (self.dir / ts / "gatehouse.yaml").write_text(text)
        return ts

    def create(self, text):
        self.cur = self._version(text)
        os.symlink(self.cur, self.dir / "..data")
        os.symlink("..data/gatehouse.yaml", self.path)

    def update(self, text):
        ts = self._version(text)
        os.symlink(ts, self.dir / "..data_tmp")
        os.replace(self.dir / "..data_tmp", self.dir / "..data")
        shutil.rmtree(self.dir / self.cur)
        self.cur = ts


class Client:
    """One keep-alive connection to the gateway; reconnects when needed."""

    def __init__(self, port):
        self.port = port
        self.c = None

    def request(self, method, path, timeout=10):
        for attempt in range(2):
            if self.c is None:
                self.c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
            try:
                self.c.request(method, path)
                r = self.c.getresponse()
                body = r.read()
                if r.will_close:
                    self.c.close()
                    self.c = None
                return r.status, body
            except (OSError, http.client.HTTPException):
                self.c.close()
                self.c = None
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def close(self):
        if self.c:
            self.c.close()


class Gateway:
    def __init__(self, binary, workdir, config_path, port):
        self.port = port
        self.log = open(workdir / "gatehouse.stderr.log", "wb")
        self.t0 = time.monotonic()
        self.proc = Proc("gatehouse", [binary, "run", "-c", str(config_path), "--insecure-admin"],
                         stderr=self.log, cwd=str(workdir))
        self.ready_s = self.wait_ready()

    def wait_ready(self, deadline=120):
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            if not self.proc.alive():
                raise SystemExit(f"gatehouse exited early; see {self.log.name}")
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
                c.request("GET", "/readyz")
                if c.getresponse().status == 200:
                    c.close()
                    return time.monotonic() - self.t0
                c.close()
            except OSError:
                pass
            time.sleep(0.005)
        raise SystemExit("gatehouse not ready in time")

    def reload(self, client):
        t0 = time.monotonic()
        status, body = client.request("POST", "/endpoints/reload", timeout=120)
        dt = time.monotonic() - t0
        if status != 200:
            raise SystemExit(f"reload answered {status}: {body[:300]!r}")
        return dt, body

    def stop(self):
        self.proc.stop()
        self.log.close()


def wait_for(client, path, status=200, deadline=10.0):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if client.request("GET", path)[0] == status:
            return time.monotonic()
        time.sleep(0.0005)
    raise SystemExit(f"GET {path} never answered {status}")


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def fmt_ms(s):
    return f"{s * 1000:.1f} ms"


# ------------------------------------------------------------- (a) latency ----

def bench_latency(binary, tmp, runs, up):
    results = {}
    base = ["keep"]

    def run_file_trigger(name, layout, write):
        wd = tmp / name
        wd.mkdir()
        port = free_port()
        conf = wd / "conf"
        if layout == "configmap":
            cm = ConfigMap(conf)
            cm.create(config_text(port, up.port, base, watch=True))
            path = cm.path
            write = (lambda _p, text: cm.update(text))
        else:
            conf.mkdir()
            path = conf / "gatehouse.yaml"
            path.write_text(config_text(port, up.port, base, watch=True))
        gw = Gateway(binary, wd, path, port)
        client = Client(port)
        samples = []
        try:
            for i in range(runs):
                names = base + [f"n{i}"]
                t0 = time.monotonic()
                write(path, config_text(port, up.port, names, watch=True))
                samples.append(wait_for(client, f"/n{i}/x") - t0)
                time.sleep(0.3)  # let the debounce window close before the next change
        finally:
            client.close()
            gw.stop()
        return samples

    results["watch: in-place write"] = run_file_trigger("write", "plain", write_in_place)
    results["watch: atomic rename"] = run_file_trigger("rename", "plain", write_rename)
    results["watch: ConfigMap ..data swap"] = run_file_trigger("k8s", "configmap", None)

    # SIGHUP and API
    wd = tmp / "api"
    wd.mkdir()
    port = free_port()
    path = wd / "gatehouse.yaml"
    path.write_text(config_text(port, up.port, base))
    gw = Gateway(binary, wd, path, port)
    client, admin = Client(port), Client(port)
    hup, api_call, api_route = [], [], []
    try:
        for i in range(runs):
            write_rename(path, config_text(port, up.port, base + [f"h{i}"]))
            t0 = time.monotonic()
            os.kill(gw.proc.pid, signal.SIGHUP)
            hup.append(wait_for(client, f"/h{i}/x") - t0)
        for i in range(runs):
            write_rename(path, config_text(port, up.port, base + [f"a{i}"]))
            t0 = time.monotonic()
            dt, _ = gw.reload(admin)
            api_call.append(dt)
            api_route.append(wait_for(client, f"/a{i}/x") - t0)
    finally:
        client.close()
        admin.close()
        gw.stop()
    results["SIGHUP"] = hup
    results["API: POST -> 200"] = api_call
    results["API: POST -> new route answering"] = api_route
    return results


# ------------------------------------------------------ (b) 10,000 endpoints ----

def bench_big(binary, tmp, n, runs, up):
    wd = tmp / "big"
    wd.mkdir()
    port = free_port()
    names = [f"svc{i:05d}" for i in range(n)]
    path = wd / "gatehouse.yaml"
    original = config_text(port, up.port, names)
    variants = [config_text(port, up.port, names, changed=names[n // 2]), original]
    path.write_text(original)
    size = path.stat().st_size

    checks = []
    for _ in range(runs):
        t0 = time.monotonic()
        r = subprocess.run([binary, "check", "-c", str(path)], capture_output=True, text=True)
        checks.append(time.monotonic() - t0)
        if r.returncode != 0:
            raise SystemExit(f"gatehouse check failed: {r.stdout}{r.stderr}")

    gw = Gateway(binary, wd, path, port)
    admin = Client(port)
    out = {"check": checks, "startup": [gw.ready_s], "bytes": size}
    # a prober on the proxy path, measuring its worst latency while the reloads run
    stop = threading.Event()
    probe = {"max": 0.0, "n": 0, "bad": 0}

    def prober():
        c = Client(port)
        target = f"/{names[n // 3]}/x"
        while not stop.is_set():
            t0 = time.monotonic()
            try:
                st, _ = c.request("GET", target)
            except OSError:
                st = 0
            dt = time.monotonic() - t0
            probe["n"] += 1
            probe["max"] = max(probe["max"], dt)
            if st != 200:
                probe["bad"] += 1
        c.close()

    th = threading.Thread(target=prober, daemon=True)
    th.start()
    reloads, unchanged, add_route = [], [], []
    try:
        time.sleep(0.2)
        probe["max"] = 0.0
        for i in range(runs):
            write_rename(path, variants[i % 2])
            dt, body = gw.reload(admin)
            if b'"applied"' not in body:
                raise SystemExit(f"expected an applied reload: {body[:300]!r}")
            reloads.append(dt)
        for i in range(runs):  # comment-only change: parse + diff, no swap
            write_rename(path, f"# run {i}\n" + variants[(runs - 1) % 2])
            dt, body = gw.reload(admin)
            unchanged.append(dt)
        client = Client(port)
        for i in range(runs):  # one endpoint added: file change -> new route answering
            write_rename(path, config_text(port, up.port, names + [f"new{i}"]))
            t0 = time.monotonic()
            gw.reload(admin)
            add_route.append(wait_for(client, f"/new{i}/x") - t0)
        client.close()
    finally:
        stop.set()
        th.join(5)
        admin.close()
        rss = None
        try:
            for line in Path(f"/proc/{gw.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
        except OSError:
            pass
        gw.stop()
    out.update(reload=reloads, unchanged=unchanged, add_route=add_route, probe=probe, rss_kib=rss)
    return out


# --------------------------------------------------- (c) endpoint count ----

def rss_kib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_s(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def settled_rss(pid, deadline=10.0):
    """RSS once it stops falling (the old table freed and trimmed), polled."""
    end = time.monotonic() + deadline
    last = rss_kib(pid)
    while time.monotonic() < end:
        time.sleep(0.5)
        now = rss_kib(pid)
        if now >= last:
            return now
        last = now
    return last


def bench_scale(binary, tmp, n, runs, up):
    wd = tmp / f"scale{n}"
    wd.mkdir()
    port = free_port()
    names = [f"svc{i:06d}" for i in range(n)]
    path = wd / "gatehouse.yaml"
    original = config_text(port, up.port, names)
    variants = [config_text(port, up.port, names, changed=names[n // 2]), original]
    path.write_text(original)
    gw = Gateway(binary, wd, path, port)
    admin = Client(port)
    out = {"startup": gw.ready_s, "bytes": path.stat().st_size}
    try:
        out["idle_kib"] = settled_rss(gw.proc.pid)
        walls, cpus = [], []
        for i in range(runs):
            write_rename(path, variants[i % 2])
            c0 = cpu_s(gw.proc.pid)
            dt, body = gw.reload(admin)
            if b'"applied"' not in body:
                raise SystemExit(f"expected an applied reload: {body[:300]!r}")
            walls.append(dt)
            cpus.append(cpu_s(gw.proc.pid) - c0)
        out["reload"] = walls
        out["reload_cpu"] = cpus
        out["after_kib"] = settled_rss(gw.proc.pid)
    finally:
        admin.close()
        gw.stop()
    return out


# --------------------------------------------------------------------- main ----

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--gatehouse", default=os.environ.get("GATEHOUSE_BIN",
                                                          str(REPO / "build" / "gatehouse")))
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--big-runs", type=int, default=5)
    ap.add_argument("--endpoints", type=int, default=10000)
    ap.add_argument("--scale", default="10000,100000",
                    help="endpoint counts for (c), comma-separated; empty: skip")
    ap.add_argument("--scale-runs", type=int, default=5)
    ap.add_argument("--scale-only", action="store_true", help="run (c) only")
    ap.add_argument("--keep-tmp", action="store_true")
    args = ap.parse_args()
    if not os.access(args.gatehouse, os.X_OK):
        raise SystemExit(f"no gatehouse binary at {args.gatehouse} (make build)")

    tmp = Path(tempfile.mkdtemp(prefix="gatehouse-reload-bench-"))
    up = Upstream()
    counts = [int(c) for c in args.scale.split(",") if c.strip()]
    lat = big = None
    scale = {}
    try:
        if not args.scale_only:
            lat = bench_latency(args.gatehouse, tmp, args.runs, up)
            big = bench_big(args.gatehouse, tmp, args.endpoints, args.big_runs, up)
        for n in counts:
            scale[n] = bench_scale(args.gatehouse, tmp, n, args.scale_runs, up)
    finally:
        up.close()
        if not args.keep_tmp:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"kept {tmp}")

    if lat is not None:
        print_latency_and_big(args, lat, big)
    if scale:
        print(f"\n### Endpoint count (median of {args.scale_runs} reloads, one endpoint changed)\n")
        print("| endpoints | file | start-up | idle RSS | reload (wall) | reload (CPU) "
              "| RSS after reloads | after / idle |")
        print("|---:|---:|---:|---:|---:|---:|---:|---:|")
        for n, r in scale.items():
            print(f"| {n:,} | {r['bytes'] / 1048576:.1f} MiB | {r['startup']:.2f} s "
                  f"| {r['idle_kib'] / 1024:.1f} MiB | {fmt_ms(med(r['reload']))} "
                  f"| {fmt_ms(med(r['reload_cpu']))} | {r['after_kib'] / 1024:.1f} MiB "
                  f"| {r['after_kib'] / r['idle_kib']:.2f} |")
        print("\nCPU: gatehouse's user + system time over the POST (all threads; 10 ms ticks). "
              "RSS after: polled until it stops falling, at most 10 s after the last reload.")


def print_latency_and_big(args, lat, big):
    print(f"\n### Reload latency (median of {args.runs}; min / max)\n")
    print("| trigger | median | min | max |")
    print("|---|---|---|---|")
    for k, v in lat.items():
        print(f"| {k} | {fmt_ms(med(v))} | {fmt_ms(min(v))} | {fmt_ms(max(v))} |")
    n = args.endpoints
    print(f"\n### {n:,} endpoints ({big['bytes'] / 1024:.0f} KiB file, median of "
          f"{args.big_runs}; min / max)\n")
    print("| step | median | min | max |")
    print("|---|---|---|---|")
    rows = [("`gatehouse check`", big["check"]),
            ("start-up (exec -> /readyz 200)", big["startup"]),
            ("POST /endpoints/reload, one endpoint changed", big["reload"]),
            ("POST /endpoints/reload, comment only (unchanged)", big["unchanged"]),
            ("one endpoint added: POST -> new route answering", big["add_route"])]
    for name, v in rows:
        print(f"| {name} | {fmt_ms(med(v))} | {fmt_ms(min(v))} | {fmt_ms(max(v))} |")
    p = big["probe"]
    print(f"\nProxy-path prober during the {n:,}-endpoint reloads: {p['n']} requests, "
          f"{p['bad']} not 200, worst latency {fmt_ms(p['max'])}."
          + (f" Gateway RSS at the end: {big['rss_kib'] / 1024:.0f} MiB." if big["rss_kib"] else ""))


if __name__ == "__main__":
    main()
