#!/usr/bin/env python3
"""Instructions per proxied request, counted by valgrind's callgrind.

CPU time per request moves with whatever else the machine is doing; an instruction
count does not: the same binary, config and traffic give the same total (within a few
tenths of a percent). So this is the figure to compare two builds with, or gatehouse
with nginx, when the machine is not quiet.

Each proxy (gatehouse binaries given with --gatehouse, and nginx as the reference
reverse proxy) runs under callgrind with one worker thread, forwarding to the same
nginx upstream (not measured). After a warm-up the counters are zeroed
(callgrind_control --zero), a fixed number of keep-alive requests is sent over a few
connections, and the counters are dumped: instructions of the proxy process divided by
the requests. Startup and configuration loading are not counted.

  /usr/bin/python3 bench/instructions.py                       # build/gatehouse and nginx
  /usr/bin/python3 bench/instructions.py --gatehouse old/gatehouse --gatehouse build/gatehouse
  /usr/bin/python3 bench/instructions.py --tls     # also per TLS handshake, full and resumed

With --tls, gatehouse and nginx terminate TLS with the same ECDSA P-256 certificate and
policy (conf/nginx-tls.conf) and `openssl s_time` makes new connections (-new: a full
TLS 1.3 handshake each; -reuse: resumptions), one small GET each, for a fixed time:
instructions of the proxy per connection, handshake and GET included.

Standard library only; needs valgrind (callgrind_control) and nginx.
"""

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import Proc, fill, free_ports, make_jwt_hs256, wait_ready  # noqa: E402
import tls_bench  # noqa: E402

CONF_DIR = Path(__file__).resolve().parent / "conf"
PATHS = {"small": "/app/small", "big": "/app/big", "huge": "/app/huge"}
BIG_SIZE = 64 * 1024
HUGE_SIZE = 1024 * 1024


def log(msg):
    print(f"[instructions] {msg}", file=sys.stderr, flush=True)


def open_connections(port, connections):
    return [socket.create_connection(("127.0.0.1", port), timeout=60) for _ in range(connections)]


def send_requests(socks, path, total, headers=""):
    """`total` GETs over the keep-alive connections `socks`, one in flight on each;
    returns once every response was read whole. The connections are opened before (and
    warmed up by) an earlier call, so the count is per request, not per connection."""
    request = f"GET {path} HTTP/1.1\r\nHost: bench\r\n{headers}\r\n".encode()
    done = 0
    while done < total:
        batch = socks[:min(len(socks), total - done)]
        for s in batch:
            s.sendall(request)
        for s in batch:
            read_response(s)
        done += len(batch)


def read_response(s):
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            raise RuntimeError("connection closed before a response head")
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    m = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
    if not m or not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"unexpected response: {head[:200]!r}")
    want = int(m.group(1))
    while len(body) < want:
        chunk = s.recv(65536)
        if not chunk:
            raise RuntimeError("connection closed inside a body")
        body += chunk


def callgrind_total(pid, out_prefix):
    """Dumps the counters of `pid` and returns the instructions since the last zeroing."""
    before = set(Path(out_prefix).parent.glob(Path(out_prefix).name + "*"))
    subprocess.run(["callgrind_control", "--dump", str(pid)], check=True,
                   capture_output=True, timeout=120)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        new = set(Path(out_prefix).parent.glob(Path(out_prefix).name + "*")) - before
        for f in sorted(new):
            text = f.read_text(errors="replace")
            m = re.search(r"^(?:summary|totals):\s*(\d+)", text, re.M)
            if m:
                return int(m.group(1))
        time.sleep(0.2)
    raise RuntimeError("callgrind wrote no dump")


def measure(name, argv, port, tmp, args, env=None, bodies=None, headers=""):
    out_prefix = tmp / f"{name}.callgrind"
    vg = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out_prefix}.%p",
          "--dump-instr=no", "--collect-atstart=yes"]
    proc = Proc(name, vg + argv, stderr=open(tmp / f"{name}.stderr", "ab"), env=env)
    try:
        wait_ready(port, PATHS["small"], proc, timeout=120, ok=(200, 401))
        results = {}
        for body in bodies or args.bodies:
            path = PATHS[body]
            socks = open_connections(port, args.connections)
            try:
                # Warm-up: every connection makes at least one request.
                send_requests(socks, path, max(args.connections, args.requests // 10), headers)
                pid = proc.pid  # valgrind execs in place; nginx runs with master_process off
                subprocess.run(["callgrind_control", "--zero", str(pid)], check=True,
                               capture_output=True, timeout=120)
                send_requests(socks, path, args.requests, headers)
                total = callgrind_total(pid, out_prefix)
            finally:
                for s in socks:
                    s.close()
            results[body] = total / args.requests
            log(f"{name} {body}: {results[body]:,.0f} instructions/request")
        return results
    finally:
        proc.stop()


def s_time(port, mode, seconds):
    """Connections made by `openssl s_time -new|-reuse` in `seconds`, one GET each."""
    r = subprocess.run(["openssl", "s_time", "-connect", f"127.0.0.1:{port}", f"-{mode}",
                        "-time", str(seconds), "-www", PATHS["small"]],
                       capture_output=True, text=True, timeout=seconds + 120)
    counts = re.findall(r"(\d+) connections in [\d.]+s;", r.stdout)
    if r.returncode != 0 or not counts:
        raise RuntimeError(f"s_time -{mode} failed ({r.returncode}): {(r.stdout + r.stderr)[-300:]}")
    return int(counts[-1])


def measure_tls(name, argv, port, tmp, seconds, env=None):
    """Instructions per TLS connection (handshake and one GET), full and resumed."""
    out_prefix = tmp / f"{name}.callgrind"
    vg = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out_prefix}.%p",
          "--dump-instr=no", "--collect-atstart=yes"]
    proc = Proc(name, vg + argv, stderr=open(tmp / f"{name}.stderr", "ab"), env=env)
    results = {}
    try:
        tls_bench.wait_tls(port, PATHS["small"], proc, timeout=120)
        for mode in ("new", "reuse"):
            s_time(port, mode, 2)  # warm-up
            subprocess.run(["callgrind_control", "--zero", str(proc.pid)], check=True,
                           capture_output=True, timeout=120)
            n = s_time(port, mode, seconds)
            results[mode] = callgrind_total(proc.pid, out_prefix) / n
            log(f"{name} TLS {mode}: {n} connections, {results[mode]:,.0f} instructions each")
        return results
    finally:
        proc.stop()


def variant_config(name, up_ports, tmp):
    """(endpoints YAML, auth YAML, request headers) of a feature variant of the plain
    endpoint: what each feature adds per request, counted like plain forwarding."""
    up = f"http://127.0.0.1:{up_ports[0]}/app"
    plain = f"  - url: {up}\n    name: app\n    health_check: false\n"
    if name == "plain":
        return plain, "", ""
    if name == "jwt":
        secret = os.urandom(32).hex()
        (tmp / "hs.secret").write_text(secret + "\n")
        auth = f"auth:\n  jwt:\n    algorithms: [HS256]\n    hmac_secret_file: {tmp / 'hs.secret'}\n"
        token = make_jwt_hs256({"sub": "bench", "exp": int(time.time()) + 3600}, secret.encode())
        return plain + "    auth_type: jwt\n", auth, f"Authorization: Bearer {token}\r\n"
    if name == "lb3":
        urls = "".join(f"      - http://127.0.0.1:{p}/app\n" for p in up_ports)
        return (f"  - name: app\n    prefix: /app\n    strip_prefix: false\n    url:\n{urls}"
                f"    load_balancing: round_robin\n    health_check: false\n"), "", ""
    if name == "ratelimit":
        return (plain + "    rate_limit: {requests: 1000000000, per: 1s, key: client_ip}\n"), "", ""
    raise ValueError(name)


VARIANTS = ("plain", "jwt", "lb3", "ratelimit")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--gatehouse", action="append", help="binary to count (repeatable); "
                    "default build/gatehouse")
    ap.add_argument("--requests", type=int, default=2000, help="requests counted per cell")
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--bodies", default="small,big")
    ap.add_argument("--no-nginx", action="store_true", help="skip the nginx reference")
    ap.add_argument("--tls", action="store_true",
                    help="also count instructions per TLS connection (full and resumed handshake, "
                         "one GET), gatehouse and nginx terminating TLS")
    ap.add_argument("--tls-seconds", type=int, default=8, help="s_time duration per count")
    ap.add_argument("--features", action="store_true",
                    help="also count an HS256 jwt endpoint, 3 servers round robin and a local "
                         "rate limit (small body), each against plain forwarding")
    args = ap.parse_args()
    args.bodies = [b for b in args.bodies.split(",") if b]
    binaries = args.gatehouse or ["build/gatehouse"]
    for tool in ("valgrind", "callgrind_control", "nginx"):
        if subprocess.run(["sh", "-c", f"command -v {tool}"], capture_output=True).returncode:
            sys.exit(f"instructions.py: {tool} not found (make bench installs it)")

    tmp = Path(tempfile.mkdtemp(prefix="gatehouse-instr-"))
    (tmp / "tmp").mkdir()
    (tmp / "www" / "app").mkdir(parents=True)
    (tmp / "www" / "app" / "big").write_bytes(os.urandom(BIG_SIZE // 2).hex().encode())
    (tmp / "www" / "app" / "huge").write_bytes(os.urandom(HUGE_SIZE // 2).hex().encode())
    user_line = "user root;" if os.geteuid() == 0 else ""
    up_port, up2, up3, proxy_port = free_ports(4)
    up_ports = [up_port, up2, up3]
    nofile = 4096
    up_conf = tmp / "upstream.conf"
    up_conf.write_text(fill(CONF_DIR / "upstream-nginx.conf", DIR=tmp, PORT=up_port,
                            USER_LINE=user_line, NOFILE=nofile, WORKER_CONNECTIONS=nofile,
                            EXTRA_LISTEN="".join(f"        listen 127.0.0.1:{p} backlog=4096;\n"
                                                 for p in (up2, up3))))
    upstream = Proc("upstream", ["nginx", "-p", f"{tmp}/", "-c", str(up_conf), "-e",
                                 str(tmp / "upstream-error.log")])
    table = {}
    tls_table = {}
    try:
        wait_ready(up_port, PATHS["small"], upstream)
        features = {}
        for i, binary in enumerate(binaries):
            label = binary if len(binaries) > 1 else "gatehouse"
            for variant in VARIANTS if args.features else ("plain",):
                endpoints, auth, headers = variant_config(variant, up_ports, tmp)
                conf = tmp / f"gatehouse{i}-{variant}.yaml"
                conf.write_text(fill(CONF_DIR / "gatehouse.yaml", PORT=proxy_port,
                                     ENDPOINTS=endpoints, AUTH=auth))
                got = measure(f"gatehouse{i}-{variant}", [binary, "run", "-c", str(conf)],
                              proxy_port, tmp, args,
                              bodies=None if variant == "plain" else ["small"], headers=headers)
                if variant == "plain":
                    table[label] = got
                else:
                    features.setdefault(label, {})[variant] = got["small"]
        if not args.no_nginx:
            conf = tmp / "nginx-proxy.conf"
            text = fill(CONF_DIR / "nginx-proxy.conf", DIR=tmp, PORT=proxy_port,
                        USER_LINE=user_line, NOFILE=nofile, WORKER_CONNECTIONS=nofile,
                        UPSTREAM_PORT=up_port)
            # One process: the worker is the process callgrind watches.
            conf.write_text(text.replace("master_process on;", "master_process off;"))
            table["nginx"] = measure("nginx", ["nginx", "-p", f"{tmp}/", "-c", str(conf), "-e",
                                               str(tmp / "nginx-proxy-error.log")],
                                     proxy_port, tmp, args)
        if args.tls:
            cert, key = tls_bench.make_certificate(tmp)
            endpoints, _, _ = variant_config("plain", up_ports, tmp)
            for i, binary in enumerate(binaries):
                label = binary if len(binaries) > 1 else "gatehouse"
                conf = tmp / f"gatehouse{i}-tls.yaml"
                conf.write_text(fill(CONF_DIR / "gatehouse.yaml", PORT=proxy_port,
                                     ENDPOINTS=endpoints, AUTH="")
                                + f"tls:\n  cert_file: {cert}\n  key_file: {key}\n")
                tls_table[label] = measure_tls(f"gatehouse{i}-tls", [binary, "run", "-c", str(conf)],
                                               proxy_port, tmp, args.tls_seconds)
            if not args.no_nginx:
                conf = tmp / "nginx-tls.conf"
                text = fill(CONF_DIR / "nginx-tls.conf", DIR=tmp, PORT=proxy_port,
                            USER_LINE=user_line, NOFILE=nofile, WORKER_CONNECTIONS=nofile,
                            UPSTREAM_PORT=up_port, CERT=cert, KEY=key)
                conf.write_text(text.replace("master_process on;", "master_process off;"))
                tls_table["nginx"] = measure_tls("nginx-tls", ["nginx", "-p", f"{tmp}/", "-c", str(conf),
                                                               "-e", str(tmp / "nginx-tls-error.log")],
                                                 proxy_port, tmp, args.tls_seconds)
    finally:
        upstream.stop()

    print(f"\ninstructions per proxied request (callgrind; {args.requests} requests over "
          f"{args.connections} keep-alive connections; small = 24 B, big = 64 KiB, huge = 1 MiB)\n")
    print("| proxy | " + " | ".join(args.bodies) + " |")
    print("|---|" + "---:|" * len(args.bodies))
    ref = table.get("nginx")
    for label, row in table.items():
        cells = []
        for b in args.bodies:
            cell = f"{row[b]:,.0f}"
            if ref and label != "nginx":
                cell += f" ({row[b] / ref[b]:.2f}x nginx)"
            cells.append(cell)
        print(f"| {label} | " + " | ".join(cells) + " |")
    if args.features:
        names = {"jwt": "jwt HS256", "lb3": "3 servers round robin", "ratelimit": "rate limit (local)"}
        print("\nfeatures, small body: instructions per request and against plain forwarding "
              "of the same binary\n")
        print("| gatehouse | " + " | ".join(names[v] for v in VARIANTS[1:]) + " |")
        print("|---|" + "---:|" * (len(VARIANTS) - 1))
        for label, row in features.items():
            base = table[label]["small"]
            print(f"| {label} | " + " | ".join(f"{row[v]:,.0f} ({row[v] / base:.2f}x)"
                                               for v in VARIANTS[1:]) + " |")

    if tls_table:
        print("\ninstructions per TLS connection (callgrind; `openssl s_time`, TLS 1.3, ECDSA P-256, "
              "one small GET each; the handshake's cryptography is most of it)\n")
        print("| proxy | full handshake | resumed |")
        print("|---|---:|---:|")
        ref = tls_table.get("nginx")
        for label, row in tls_table.items():
            cells = []
            for mode in ("new", "reuse"):
                cell = f"{row[mode]:,.0f}"
                if ref and label != "nginx":
                    cell += f" ({row[mode] / ref[mode]:.3f}x nginx)"
                cells.append(cell)
            print(f"| {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
