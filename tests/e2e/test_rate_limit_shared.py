"""SPEC section 14 `shared: true` against a real redis-server started by the test:
several gatehouse processes sharing one limit, Redis killed (on_error allow and deny,
the redis errors metric) and back (limiting resumes without a restart), Redis
unreachable at start, rediss:// with a test CA, and AUTH from password_env."""

from __future__ import annotations

import http.client
import json
import re
import threading
import time

import pytest

from gh_gateway import endpoint
from gh_redis import RedisServer
from gh_upstream import free_port


@pytest.fixture
def redis_factory(tmp_path):
    servers = []

    def make(**kw):
        r = RedisServer(tmp_path / f"redis{len(servers)}", **kw)
        servers.append(r)
        return r.start()

    yield make
    for r in servers:
        r.stop()


def get(gw, path="/api/"):
    c = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=5)
    try:
        c.request("GET", path)
        r = c.getresponse()
        body = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, body
    finally:
        c.close()


def redis_errors(gw) -> int:
    text = get(gw, "/metrics")[2].decode()
    return sum(int(v) for v in re.findall(r'^gatehouse_redis_errors_total\{kind="\w+"\} (\d+)$', text, re.M))


def shared_config(upstream, redis_url, on_error="allow", requests=10, per="1m", extra=None):
    cfg = {"redis": {"url": redis_url, "timeout": "200ms", "on_error": on_error},
           "endpoints": [endpoint(upstream.url(), name="api",
                                  rate_limit={"requests": requests, "per": per, "key": "endpoint",
                                              "shared": True})]}
    cfg["redis"].update(extra or {})
    return cfg


def test_three_replicas_share_one_limit(start_gateway, upstream, redis_factory):
    redis = redis_factory()
    cfg = shared_config(upstream, f"redis://127.0.0.1:{redis.port}/0", requests=12)
    gws = [start_gateway(cfg) for _ in range(3)]
    statuses = [get(gws[i % 3])[0] for i in range(36)]
    assert statuses.count(200) == 12, statuses
    assert statuses.count(429) == 24
    assert len(upstream.complete_requests()) == 12
    # The headers come from the one shared bucket: any replica sees the same remaining.
    _, h, _ = get(gws[1])
    assert h["ratelimit-limit"] == "12" and h["ratelimit-remaining"] == "0"
    keys = redis.command("KEYS", "gatehouse:rl:*")
    assert keys == b"*1", "one namespaced key for key: endpoint"
    ttl = int(redis.command("PTTL", "gatehouse:rl:{api}:12:60000:0:endpoint:")[1:])
    assert 0 < ttl <= 61_000, "the key expires once the bucket would be full"


def test_accuracy_across_replicas_over_a_window(start_gateway, upstream, redis_factory):
    redis = redis_factory()
    cfg = shared_config(upstream, f"redis://127.0.0.1:{redis.port}", requests=20, per="1s")
    gws = [start_gateway(cfg) for _ in range(3)]
    ok = 0
    start = time.monotonic()
    n = 0
    while time.monotonic() - start < 3.0:
        status = get(gws[n % 3])[0]
        n += 1
        ok += status == 200
    window = time.monotonic() - start
    print(f"\nshared accuracy: {ok} admitted of {n} in {window:.2f} s; bound {20 + 20 * window:.0f}")
    assert ok <= 20 + 20 * window
    assert ok >= 0.8 * (20 + 20 * window) or n < 20 + 20 * window


@pytest.mark.parametrize("on_error", ["allow", "deny"])
def test_redis_killed_then_back(start_gateway, upstream, redis_factory, on_error):
    redis = redis_factory()
    cfg = shared_config(upstream, f"redis://127.0.0.1:{redis.port}", on_error=on_error, requests=2)
    gw = start_gateway(cfg)
    assert [get(gw)[0] for _ in range(3)] == [200, 200, 429]
    redis.stop()
    before = redis_errors(gw)
    for _ in range(5):
        status, h, body = get(gw)
        if on_error == "allow":
            assert status == 200 and h.get("ratelimit-limit") is None
        else:
            assert status == 503 and json.loads(body)["code"] == "rate_limit_unavailable"
    assert redis_errors(gw) - before >= 5
    gw.wait_log(lambda t: "redis unavailable" in t)
    warnings = gw.log_text().count("redis unavailable")
    assert warnings <= 2, "at most one warning a second"
    # Back on the same port (empty: full buckets): limiting resumes without a restart.
    redis_factory(port=redis.port)
    end = time.monotonic() + 5
    seen = []  # (status, counted by Redis: it carries the RateLimit headers)
    while time.monotonic() < end and 429 not in [s for s, _ in seen]:
        status, h, _ = get(gw)
        seen.append((status, h.get("ratelimit-limit") is not None))
        time.sleep(0.05)
    assert seen[-1][0] == 429, seen
    # Each thread has its own connections and, after a failed connect, waits 200 ms
    # before the next (redis::Pool::kReconnectPause): one thread may still answer as if
    # Redis were down (503, or 200 unlimited with on_error: allow) while the other is
    # back. Redis's bucket counts its own answers only: two admitted, then 429.
    assert seen.count((200, True)) == 2, seen
    unavailable = (503, False) if on_error == "deny" else (200, False)
    assert set(seen[:-1]) <= {(200, True), unavailable}, seen


def test_concurrent_requests_share_a_bounded_set_of_redis_connections(
        start_gateway, upstream, redis_factory):
    """100 clients at once on one thread: the calls queue for the thread's 64 pooled
    connections (redis::Pool::kMaxOpen) instead of opening one per call."""
    redis = redis_factory()
    cfg = shared_config(upstream, f"redis://127.0.0.1:{redis.port}", on_error="deny",
                        requests=1_000_000, per="1s", extra={"timeout": "3s"})
    cfg["threads"] = 1
    gw = start_gateway(cfg)
    before = int(redis.info("stats")["total_connections_received"])
    clients, rounds = 100, 10
    statuses = []
    lock = threading.Lock()
    start = threading.Barrier(clients)

    def client():
        c = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=10)
        start.wait()
        got = []
        for _ in range(rounds):
            c.request("GET", "/api/")
            r = c.getresponse()
            r.read()
            got.append(r.status)
        c.close()
        with lock:
            statuses.extend(got)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert statuses.count(200) == clients * rounds, sorted(set(statuses))
    opened = int(redis.info("stats")["total_connections_received"]) - before
    # The gateway's at most 64, and the INFO call above (one).
    assert 1 <= opened <= 64 + 1, opened
    assert int(redis.info("clients")["connected_clients"]) <= 64 + 1
    assert redis_errors(gw) == 0


def test_redis_unreachable_at_start_is_not_fatal(start_gateway, upstream):
    port = free_port()
    gw = start_gateway(shared_config(upstream, f"redis://127.0.0.1:{port}", on_error="deny"))
    assert get(gw)[0] == 503
    assert redis_errors(gw) >= 1


def test_rediss_with_a_test_ca_and_password_env(start_gateway, upstream, redis_factory, pki):
    redis = redis_factory(tls_pki=pki, password="redis-pw-123")
    cfg = shared_config(upstream, f"rediss://127.0.0.1:{redis.port}", on_error="deny", requests=2,
                        extra={"password_env": "GH_REDIS_PW",
                               "tls": {"ca_file": str(pki.ca_file), "server_name": "localhost"}})
    gw = start_gateway(cfg, env={"GH_REDIS_PW": "redis-pw-123"})
    assert [get(gw)[0] for _ in range(3)] == [200, 200, 429]
    assert redis_errors(gw) == 0
    # A wrong password: refused by Redis, so the deny rule answers.
    bad = start_gateway(cfg, env={"GH_REDIS_PW": "wrong"})
    assert get(bad)[0] == 503
    # An untrusted server certificate: the handshake fails.
    cfg2 = shared_config(upstream, f"rediss://127.0.0.1:{redis.port}", on_error="deny",
                         extra={"password_env": "GH_REDIS_PW",
                                "tls": {"ca_file": str(pki.other_ca_file)}})
    untrusted = start_gateway(cfg2, env={"GH_REDIS_PW": "redis-pw-123"})
    assert get(untrusted)[0] == 503
    assert "TLS handshake" in untrusted.wait_log(lambda t: "redis unavailable" in t)


def test_concurrent_requests_of_many_keys_each_take_their_own_bucket(
        start_gateway, upstream, redis_factory):
    """40 clients with their own key at once on one thread: the Redis calls wait for
    connections (opened as they are needed), and each must still charge its own key's
    bucket: every client gets exactly its 3 requests, then 429, and Redis holds one
    bucket per key."""
    redis = redis_factory()
    cfg = shared_config(upstream, f"redis://127.0.0.1:{redis.port}", on_error="deny",
                        requests=3, per="1m", extra={"timeout": "3s"})
    cfg["endpoints"][0]["rate_limit"]["key"] = "header:X-User"
    cfg["threads"] = 1
    gw = start_gateway(cfg)
    clients = 40
    results = {}
    lock = threading.Lock()
    start = threading.Barrier(clients)

    def client(user):
        c = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=10)
        start.wait()
        got = []
        for _ in range(4):
            c.request("GET", "/api/", headers={"X-User": user})
            r = c.getresponse()
            r.read()
            got.append((r.status, r.getheader("RateLimit-Remaining")))
        c.close()
        with lock:
            results[user] = got

    users = [f"user-{i:02d}" for i in range(clients)]
    threads = [threading.Thread(target=client, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(results) == clients
    for user, got in results.items():
        assert [s for s, _ in got] == [200, 200, 200, 429], (user, got)
        assert [rem for _, rem in got[:3]] == ["2", "1", "0"], (user, got)
    # One bucket per key (the first reply line of KEYS is the array's length).
    assert redis.command("KEYS", "gatehouse:rl:*") == f"*{clients}".encode()
