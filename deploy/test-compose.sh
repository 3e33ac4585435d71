#!/usr/bin/env bash
# Brings deploy/docker-compose.yml up for real with podman (called by deploy/test-image.sh
# after the gatehouse image is built): Debian's docker-compose talks to `podman system
# service`. Every service but Grafana, whose image cannot be made without a registry;
# Prometheus and Alertmanager run from stand-in images built from Debian's packages
# (deploy/compose/prometheus.Containerfile). Proves: every container runs (podman ps,
# since a failed container does not fail `up`), gatehouse proxies to both sample
# upstreams, Prometheus scrapes gatehouse, and the walk-through of docs/deployment.md:
# upstream-b fails on demand, the breaker opens, GatehouseCircuitBreakerOpen fires and
# Alertmanager delivers it to the alert sink (about 80 s; GATEHOUSE_COMPOSE_QUICK=1
# stops at "pending").
set -euo pipefail
cd "$(dirname "$0")/.."
image=${GATEHOUSE_IMAGE:-localhost/gatehouse:test}
project=gatehouse-test-$$
work=$(mktemp -d /tmp/gatehouse-compose.XXXXXX)
say() { echo "test-compose: $*"; }
fail() {
  echo "test-compose: FAILED: $*" >&2
  podman ps -a --filter "label=com.docker.compose.project=$project" \
    --format '{{.Names}} {{.Status}}' >&2 || true
  for c in $(podman ps -aq --filter "label=com.docker.compose.project=$project" 2>/dev/null); do
    echo "--- $(podman inspect --format '{{.Name}}' "$c")" >&2
    podman logs --tail 15 "$c" >&2 2>&1 || true
  done
  exit 1
}
service_pid=""
cleanup() {
  if [ -n "$service_pid" ]; then
    docker-compose -p "$project" -f deploy/docker-compose.yml down -v -t 5 >"$work/down.log" 2>&1 || true
    kill "$service_pid" 2>/dev/null || true
    wait "$service_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

for cmd in podman docker-compose curl python3; do
  command -v "$cmd" >/dev/null || fail "$cmd not found: GATEHOUSE_IMAGE_DEPS=1 bash scripts/install-deps.sh"
done
podman image exists "$image" || fail "no image $image: run deploy/test-image.sh"

poll() {
  local secs=$1; shift
  local end=$(( $(date +%s) + secs ))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$end" ] || return 1
    sleep 0.5
  done
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
body_has() { curl -s --max-time 5 "$1" | grep -q "$2"; }
prom_has() {  # prom_has QUERY: the instant query returns at least one series
  curl -s --max-time 5 "http://127.0.0.1:$PROMETHEUS_PORT/api/v1/query" --data-urlencode "query=$1" \
    | python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)["data"]["result"] else 1)'
}
sink_has() { curl -s --max-time 5 "http://127.0.0.1:$ALERT_SINK_PORT/alerts" | grep -q "$1"; }

# --- images that a registry would otherwise provide -----------------------------------------
t0=$(date +%s)
podman build --pull=never --format docker -f deploy/compose/sample-upstream.Containerfile \
  -t localhost/gatehouse-sample-upstream:test deploy >"$work/build.log" 2>&1 \
  || { tail -20 "$work/build.log" >&2; fail "sample upstream image"; }
for target in prometheus alertmanager; do
  podman build --pull=never --format docker -f deploy/compose/prometheus.Containerfile \
    --target "$target" -t "localhost/gatehouse-$target:test" deploy >>"$work/build.log" 2>&1 \
    || { tail -20 "$work/build.log" >&2; fail "$target image"; }
done
say "stand-in images built in $(( $(date +%s) - t0 )) s"

# --- podman's Docker API, runc (crun fails on hybrid cgroups) ---------------------------------
printf '[engine]\nruntime = "runc"\n' >"$work/containers.conf"
CONTAINERS_CONF=$work/containers.conf podman system service --time=0 "unix://$work/podman.sock" \
  >"$work/service.log" 2>&1 &
service_pid=$!
poll 20 test -S "$work/podman.sock" || fail "podman system service did not start"
export DOCKER_HOST=unix://$work/podman.sock COMPOSE_INTERACTIVE_NO_CLI=1
nofile=$(ulimit -Hn); [ "$nofile" -gt 65536 ] && nofile=65536
export GATEHOUSE_IMAGE=$image GATEHOUSE_NOFILE=$nofile \
  SAMPLE_UPSTREAM_IMAGE=localhost/gatehouse-sample-upstream:test \
  PROMETHEUS_IMAGE=localhost/gatehouse-prometheus:test \
  ALERTMANAGER_IMAGE=localhost/gatehouse-alertmanager:test \
  GATEHOUSE_PORT=$(free_port) UPSTREAM_A_PORT=$(free_port) UPSTREAM_B_PORT=$(free_port) \
  ALERT_SINK_PORT=$(free_port) PROMETHEUS_PORT=$(free_port) ALERTMANAGER_PORT=$(free_port)

docker-compose -p "$project" -f deploy/docker-compose.yml config -q || fail "docker-compose config"
services=(gatehouse upstream-a upstream-b alert-sink prometheus alertmanager)
t1=$(date +%s)
docker-compose -p "$project" -f deploy/docker-compose.yml up -d --no-build "${services[@]}" \
  >"$work/up.log" 2>&1 || { cat "$work/up.log" >&2; fail "docker-compose up"; }

# docker-compose (like podman-compose) can report success for a container that then died
all_running() {
  local n
  n=$(podman ps --filter "label=com.docker.compose.project=$project" --filter status=running -q | wc -l)
  [ "$n" -eq "${#services[@]}" ]
}
poll 30 all_running || fail "not every container is running"
say "${#services[@]} containers running (podman ps) $(( $(date +%s) - t1 )) s after up"

gw=http://127.0.0.1:$GATEHOUSE_PORT
poll 30 body_has "$gw/healthz" '"ok"' || fail "gatehouse /healthz"
poll 20 body_has "$gw/users/42" '"service": "users"' || fail "gatehouse did not proxy /users/42 to upstream-a"
body_has "$gw/orders/7" '"service": "orders"' || fail "gatehouse did not proxy /orders/7 to upstream-b"
say "gatehouse proxies /users/42 to upstream-a and /orders/7 to upstream-b"

poll 40 prom_has 'up{job="gatehouse"} == 1' || fail "Prometheus does not scrape gatehouse"
poll 20 prom_has 'gatehouse_endpoint_up{endpoint="users"} == 1' || fail "no gatehouse series in Prometheus"
say "Prometheus scrapes gatehouse (job gatehouse up, endpoint series present)"

# --- the walk-through: make upstream-b fail, watch the breaker and the alert -------------------
curl -s -X POST "http://127.0.0.1:$UPSTREAM_B_PORT/admin/fail" >/dev/null || fail "POST /admin/fail"
t2=$(date +%s)
for _ in 1 2 3 4 5; do curl -s -o /dev/null "$gw/orders/7"; done
body_has "$gw/orders/7" circuit_open || fail "breaker of orders did not open"
say "upstream-b failing: /orders answers 503 circuit_open"
poll 30 prom_has 'ALERTS{alertname="GatehouseCircuitBreakerOpen", endpoint="orders"}' \
  || fail "GatehouseCircuitBreakerOpen not pending"
say "GatehouseCircuitBreakerOpen pending $(( $(date +%s) - t2 )) s after the failure"
if [ "${GATEHOUSE_COMPOSE_QUICK:-0}" != 1 ]; then
  poll 120 sink_has GatehouseCircuitBreakerOpen || fail "the alert did not reach the alert sink"
  say "GatehouseCircuitBreakerOpen fired and reached the alert sink (pager) $(( $(date +%s) - t2 )) s after the failure"
fi
curl -s -X POST "http://127.0.0.1:$UPSTREAM_B_PORT/admin/recover" >/dev/null

# --- down: gatehouse drains and exits 0 ---------------------------------------------------------
gid=$(podman ps -q --filter "label=com.docker.compose.project=$project" \
        --filter "label=com.docker.compose.service=gatehouse")
docker-compose -p "$project" -f deploy/docker-compose.yml stop -t 20 gatehouse >"$work/stop.log" 2>&1 \
  || fail "docker-compose stop gatehouse"
rc=$(podman inspect --format '{{.State.ExitCode}}' "$gid")
[ "$rc" = 0 ] || fail "gatehouse exited $rc on stop"
say "docker-compose stop: gatehouse exited 0; stack up and checked in $(( $(date +%s) - t0 )) s"
