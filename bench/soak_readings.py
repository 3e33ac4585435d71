"""bench/soak.py's readings of the gatehouse process: open fds by kind (from /proc/PID/fd
and /proc/net/tcp), threads, and /metrics (parsed, plus a p99 from histogram deltas).
Standard library only.
"""

import os
import re
import urllib.request


def tcp_table():
    """inode -> (local port, remote port, state) for every TCP socket of the namespace."""
    out = {}
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                next(f)
                for line in f:
                    p = line.split()
                    out[p[9]] = (int(p[1].rsplit(":", 1)[1], 16), int(p[2].rsplit(":", 1)[1], 16), p[3])
        except OSError:
            pass
    return out


def fd_kinds(pid, gh_port, up_ports):
    """(total, client connections, upstream connections, everything else)."""
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return None
    tcp = tcp_table()
    client = upstream = 0
    for fd in fds:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            entry = tcp.get(target[8:-1])
            if entry and entry[2] != "0A":
                if entry[0] == gh_port:
                    client += 1
                elif entry[1] in up_ports:
                    upstream += 1
    return len(fds), client, upstream, len(fds) - client - upstream


def threads_of(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("Threads:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


METRIC_RE = re.compile(r'^([a-z_]+)(?:\{(.*)\})? ([0-9.eE+-]+|NaN|\+Inf)$')


def scrape(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    out = []
    for line in text.splitlines():
        m = METRIC_RE.match(line)
        if m:
            labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
            out.append((m.group(1), labels, float(m.group(3))))
    return out


def metric(samples, name, **want):
    return sum(v for n, l, v in samples if n == name and all(l.get(k) == w for k, w in want.items()))


def buckets(samples, endpoint):
    """{le: cumulative count} of the app endpoint's request-duration histogram."""
    return {l["le"]: v for n, l, v in samples
            if n == "gatehouse_request_duration_seconds_bucket" and l.get("endpoint") == endpoint}


def histogram_p99_ms(before, after):
    """p99 of the requests between two scrapes, interpolated inside its bucket."""
    if not before or not after:
        return None
    les = sorted((le for le in after if le != "+Inf"), key=float)
    deltas = [(float(le), after[le] - before.get(le, 0)) for le in les]
    total = after.get("+Inf", 0) - before.get("+Inf", 0)
    if total <= 0:
        return None
    rank, lower, prev = 0.99 * total, 0.0, 0.0
    for le, cum in deltas:
        if cum >= rank:
            share = (rank - prev) / (cum - prev) if cum > prev else 1.0
            return round(1e3 * (lower + share * (le - lower)), 3)
        lower, prev = le, cum
    return round(1e3 * float(les[-1]), 3)   # in +Inf: at least the last bound
