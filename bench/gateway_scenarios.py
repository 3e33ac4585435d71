"""Gateway scenarios of bench/proxy.py measured in the 64-connection, small-body cell next
to plain gatehouse (one server):

- `lb` (issue 14): an endpoint with three servers, round robin: three listening ports of
  the one upstream nginx, so the upstream does the same work as for one server. Then the
  same three servers with the third on a closed port (connections refused) and
  `retries: {attempts: 1}`, so that no client sees the refused connections.

Each start function adds its targets to h.targets or says in h.skipped why not.
"""

import re

from benchlib import free_ports, http_get, wait_ready

LB_KEYS = ("gh-lb3", "gh-lb3-refused")
PATH = "/app/small"


def _endpoint(urls, extra=""):
    """The plain benchmark's endpoint; several URLs make it a round-robin one."""
    head = "  - name: app\n    prefix: /app\n    strip_prefix: false\n"
    if len(urls) == 1:
        return f"{head}    url: {urls[0]}\n{extra}"
    items = "".join(f"      - {u}\n" for u in urls)
    return f"{head}    url:\n{items}    load_balancing: round_robin\n{extra}"


def _start(h, key, name, port, endpoints, target_cls):
    conf = h.gatehouse_conf(name, port, endpoints)
    ok, out = h.gatehouse_check(conf)
    if not ok:
        return f"`gatehouse check` rejects the config: {out[:200]}"
    p, lp = h.start_gatehouse(name, conf)
    try:
        wait_ready(port, PATH, p)
    except RuntimeError as e:
        p.stop()
        return f"gatehouse did not come up: {e}"
    h.targets[key] = target_cls(key, port, PATH, p, lambda: [p.pid], log_file=lp)
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
