"""The WebSocket scenario of bench/proxy.py (issue 16): echo round trips through a
gatehouse tunnel against the same client talking to the echo server directly.

A python3-websockets echo server (bench/ws_peers.py echo) on CPU 0; gatehouse (one
thread, access log on, CPU 1) with one endpoint in front of it; the client
(bench/ws_peers.py client, CPU 0) opens 64 connections and keeps one 1 KiB binary
message in flight on each: send, wait for the echo, send the next. Per round, order
rotated: through gatehouse and direct. Figures: messages (round trips) per second, their
p50/p99, and gatehouse's CPU time per round trip (two 1 KiB relays and the frames' TCP
segments). Client and echo server share CPU 0, so the rate is bound by that core, not by
gatehouse: the gateway-over-direct ratio says what the extra hop costs in throughput
there, gatehouse's busy % and CPU per message say what it costs the gateway.
"""

import json
import subprocess
import sys
import time
from pathlib import Path

from benchlib import free_ports, read_stat
from report import CLIENT_CPU, fmt, median

BENCH_DIR = Path(__file__).resolve().parent
KEYS = ("gh-ws", "direct-ws")
NAMES = {"gh-ws": "through gatehouse", "direct-ws": "direct (no proxy)"}
CONNECTIONS = 64
SIZE = 1024
CLK_TCK = __import__("os").sysconf("SC_CLK_TCK")


def client(h, port, path, duration):
    argv = h.pinned(CLIENT_CPU, [sys.executable, str(BENCH_DIR / "ws_peers.py"), "client",
                                 "--port", str(port), "--path", path,
                                 "--connections", str(CONNECTIONS), "--size", str(SIZE),
                                 "--duration", str(duration)])
    r = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60,
                       start_new_session=True)
    try:
        return json.loads(r.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise RuntimeError(f"ws client failed ({r.returncode}): {(r.stdout + r.stderr)[-300:]}")


def start(h):
    try:
        __import__("websockets")  # the echo server needs it
    except ImportError:
        h.skipped["websocket"] = "python3-websockets not installed (scripts/install-deps.sh)"
        return
    echo_port, gh_port = free_ports(2)
    out = h.tmp / "ws-echo.out"
    echo = h.spawn("ws-echo", [sys.executable, str(BENCH_DIR / "ws_peers.py"), "echo",
                               "--port", str(echo_port)], CLIENT_CPU, stdout=open(out, "ab"))
    deadline = time.monotonic() + 15
    while "ready" not in out.read_text():
        if not echo.alive() or time.monotonic() > deadline:
            h.skipped["websocket"] = "the WebSocket echo server did not start"
            return
        time.sleep(0.05)
    conf = h.gatehouse_conf("gatehouse-ws", gh_port,
                            f"  - name: ws\n    prefix: /ws\n    url: http://127.0.0.1:{echo_port}\n"
                            f"    timeout: 60s\n    health_check: false\n")
    ok, text = h.gatehouse_check(conf)
    if not ok:
        h.skipped["websocket"] = f"`gatehouse check` rejects the config: {text[:200]}"
        return
    gh, gh_log = h.start_gatehouse("gatehouse-ws", conf)
    deadline = time.monotonic() + 15
    while True:
        try:
            res = client(h, gh_port, "/ws/", 0.2)
            if res["messages"] > 0 and res["errors"] == 0:
                break
            why = f"{res}"
        except RuntimeError as e:
            why = str(e)
        if not gh.alive() or time.monotonic() > deadline:
            h.skipped["websocket"] = f"no echo through gatehouse: {why}"
            gh.stop()
            return
        time.sleep(0.1)
    h.ws_targets = {"gh-ws": (gh_port, "/ws/", gh, gh_log), "direct-ws": (echo_port, "/", None, None)}


def measure(h, args):
    if not getattr(h, "ws_targets", None):
        return
    h.ws_results = {}
    for key in KEYS:  # warm-up
        port, path, _, _ = h.ws_targets[key]
        client(h, port, path, 1)
    for rnd in range(args.rounds):
        keys = KEYS[rnd % 2:] + KEYS[:rnd % 2]
        for key in keys:
            port, path, proc, log_file = h.ws_targets[key]
            if log_file:
                log_file.write_bytes(b"")
            before = (read_stat(proc.pid) or (0, 0))[1] if proc else 0
            res = client(h, port, path, args.duration)
            after = (read_stat(proc.pid) or (0, 0))[1] if proc else 0
            if proc is not None and not proc.alive():
                raise RuntimeError("gatehouse (WebSocket) died during the run")
            res["rate"] = res["messages"] / res["seconds"] if res["seconds"] else None
            if proc is not None and res["messages"]:
                cpu_s = (after - before) / CLK_TCK
                res["cpu_us"] = cpu_s * 1e6 / res["messages"]
                res["busy"] = 100.0 * cpu_s / res["seconds"]
            res["round"] = rnd
            h.ws_results.setdefault(key, []).append(res)


def report(h, args):
    if "websocket" in h.skipped:
        return f"\n## WebSocket (issue 16)\n\n- skipped — {h.skipped['websocket']}\n"
    if not getattr(h, "ws_results", None):
        return ""

    def m(key, metric):
        return median([r.get(metric) for r in h.ws_results.get(key, [])])

    mine = {r["round"]: r["rate"] for r in h.ws_results.get("gh-ws", [])}
    direct = {r["round"]: r["rate"] for r in h.ws_results.get("direct-ws", [])}
    ratio = median([mine[k] / direct[k] for k in mine if k in direct and mine[k] and direct[k]])
    out = ["", "## WebSocket (issue 16)", "",
           f"{CONNECTIONS} connections, one {SIZE} B binary message in flight on each (send, wait "
           f"for the echo, send the next); echo server (python3-websockets) and client on CPU "
           f"{CLIENT_CPU}, gatehouse on CPU 1. A message is one round trip. Medians over rounds; "
           f"the ratio is per round.", "",
           "| target | messages/s | x direct | p50 ms | p99 ms | gatehouse CPU us/message | gatehouse busy % | errors |",
           "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for key in KEYS:
        errors = sum(r.get("errors", 0) for r in h.ws_results.get(key, []))
        busy = m(key, "busy")
        out.append(f"| {NAMES[key]} | {fmt(m(key, 'rate'), 'rps')} | "
                   f"{fmt(ratio if key == 'gh-ws' else 1.0, 'ratio')} | {fmt(m(key, 'p50_ms'), 'ms')} | "
                   f"{fmt(m(key, 'p99_ms'), 'ms')} | {fmt(m(key, 'cpu_us'), 'us')} | "
                   f"{'—' if busy is None else f'{busy:.0f}'} | {errors} |")
    out.append("")
    return "\n".join(out)
