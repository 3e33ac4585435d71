"""Gateway scenarios of bench/proxy.py measured in the 64-connection, small-body cell next
to plain gatehouse (one server, no rate limit):

- `lb` (issue 14): an endpoint with three servers, round robin: three listening ports of
  the one upstream nginx, so the upstream does the same work as for one server. Then
  two of them and a third on a closed port (connections refused), with
  `retries: {attempts: 1}`, so that no client sees the refused connections.
- `ratelimit` (issue 16): a local `rate_limit` whose limit is never reached (10^9 per
  second, key client_ip), and the same with `shared: true` against a redis-server this
  benchmark starts on CPU 0 (no persistence), `on_error: deny` so that a failed Redis
  call shows up as an error instead of passing silently.

Each start function adds its targets to h.targets or says in h.skipped why not.
"""

import re
import shutil
import socket
import time

from benchlib import free_ports, http_get, wait_ready
from report import CLIENT_CPU

LB_KEYS = ("gh-lb3", "gh-lb3-refused")
RL_KEYS = ("gh-rl-local", "gh-rl-shared")
RL_REQUESTS = 1_000_000_000  # per second: never reached
PATH = "/app/small"


def _endpoint(urls, extra=""):
    """The plain benchmark's endpoint; several URLs make it a round-robin one."""
    head = "  - name: app\n    prefix: /app\n    strip_prefix: false\n"
    if len(urls) == 1:
        return f"{head}    url: {urls[0]}\n{extra}"
    items = "".join(f"      - {u}\n" for u in urls)
    return f"{head}    url:\n{items}    load_balancing: round_robin\n{extra}"


def _start(h, key, name, port, endpoints, target_cls, preamble="", aux_pids=None):
    conf = h.gatehouse_conf(name, port, endpoints)
    if preamble:
        conf.write_text(preamble + conf.read_text())
    ok, out = h.gatehouse_check(conf)
    if not ok:
        return f"`gatehouse check` rejects the config: {out[:200]}"
    p, lp = h.start_gatehouse(name, conf)
    try:
        wait_ready(port, PATH, p)
    except RuntimeError as e:
        p.stop()
        return f"gatehouse did not come up: {e}"
    h.targets[key] = target_cls(key, port, PATH, p, lambda: [p.pid], log_file=lp,
                                aux_pids=aux_pids)
    return None


def target_counts(port):
    """{target URL: requests} from gatehouse_target_requests_total (codes summed)."""
    try:
        status, body = http_get(port, "/metrics")
    except OSError:
        return {}
    counts = {}
    if status == 200:
        for m in re.finditer(r'^gatehouse_target_requests_total\{[^}]*target="([^"]+)"[^}]*\} (\d+)$',
                             body.decode(), re.M):
            counts[m.group(1)] = counts.get(m.group(1), 0) + int(m.group(2))
    return counts


def start_lb(h, target_cls):
    gh3_port, refused_port = free_ports(2)
    ups = [f"http://127.0.0.1:{p}" for p in h.up_ports]
    why = _start(h, "gh-lb3", "gatehouse-lb3", gh3_port, _endpoint(ups), target_cls)
    if why:
        h.skipped["lb"] = why
        return
    dead = f"http://127.0.0.1:{h.dead_port}"
    why = _start(h, "gh-lb3-refused", "gatehouse-lb3-refused", refused_port,
                 _endpoint(ups[:2] + [dead], "    retries: {attempts: 1}\n"), target_cls)
    if why:
        h.skipped["lb-refused"] = why


def lb_notes(h):
    """The per-server spread seen at the end, so that the figures are known to come from
    three servers (and from two with the third refusing)."""
    out = []
    for key in LB_KEYS:
        t = h.targets.get(key)
        if t is None:
            continue
        counts = target_counts(t.port)
        if counts:
            spread = ", ".join(f":{u.rsplit(':', 1)[1]} {n:,}" for u, n in sorted(counts.items()))
            out.append(f"{key}: tries per server over the whole run (gatehouse_target_requests_total): "
                       f"{spread}" + (f" (:{h.dead_port} refuses connections)" if key.endswith("refused") else ""))
    return out


class Redis:
    def __init__(self, h):
        self.port = free_ports(1)[0]
        d = h.tmp / "redis"
        d.mkdir()
        self.proc = h.spawn("redis", ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port),
                                      "--save", "", "--appendonly", "no", "--dir", str(d),
                                      "--daemonize", "no", "--protected-mode", "no"],
                            CLIENT_CPU, stdout=open(h.tmp / "redis.log", "ab"))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if not self.proc.alive():
                raise RuntimeError("redis-server exited (see redis.log)")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not answer PING within 10 s")


def start_ratelimit(h, target_cls):
    local_port, shared_port = free_ports(2)
    up = [f"http://127.0.0.1:{h.up_port}"]
    limit = f"    rate_limit: {{requests: {RL_REQUESTS}, per: 1s, key: client_ip}}\n"
    why = _start(h, "gh-rl-local", "gatehouse-rl-local", local_port, _endpoint(up, limit), target_cls)
    if why:
        h.skipped["ratelimit"] = why
        return
    if not shutil.which("redis-server"):
        h.skipped["ratelimit-shared"] = "redis-server not found (scripts/install-deps.sh installs it)"
        return
    try:
        redis = Redis(h)
    except RuntimeError as e:
        h.skipped["ratelimit-shared"] = str(e)
        return
    preamble = (f"redis:\n  url: redis://127.0.0.1:{redis.port}/0\n  timeout: 100ms\n"
                f"  on_error: deny\n")
    shared = (f"    rate_limit: {{requests: {RL_REQUESTS}, per: 1s, key: client_ip, "
              f"shared: true}}\n")
    why = _start(h, "gh-rl-shared", "gatehouse-rl-shared", shared_port, _endpoint(up, shared),
                 target_cls, preamble=preamble, aux_pids=lambda: [redis.proc.pid])
    if why:
        h.skipped["ratelimit-shared"] = why
        return
    # A shared check that really went to Redis: the bucket's key exists there. Polled
    # with a request each time: on a loaded machine the first call (connect, then EVAL of
    # the script) can exceed the 100 ms redis.timeout and be refused with 503.
    deadline = time.monotonic() + 5
    while True:
        try:
            http_get(shared_port, PATH)
        except OSError:
            pass
        with socket.create_connection(("127.0.0.1", redis.port), timeout=2) as s:
            s.sendall(b"KEYS gatehouse:rl:*\r\n")
            reply = s.recv(4096)
        if b"gatehouse:rl:{app}" in reply or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    if b"gatehouse:rl:{app}" not in reply:
        h.skipped["ratelimit-shared"] = f"no bucket key in Redis after a request ({reply[:100]!r})"
        h.targets.pop("gh-rl-shared").proc.stop()

