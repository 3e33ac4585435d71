#!/usr/bin/env bash
# Builds the gatehouse image with podman and proves it works, with no registry
# (SPEC 11.1); then brings the compose stack up (deploy/test-compose.sh).
#   1. base images: debootstrap minbase + podman import (deploy/base-images.sh, cached)
#   2. podman build --pull=never --format docker (HEALTHCHECK kept)
#   3. the image's metadata: user 10001, HEALTHCHECK, STOPSIGNAL, config path, size
#   4. podman run (runc, SPEC 11.1's ulimits, a published loopback port):
#      the baked-in example config answers; /healthz 200; a request proxied to an
#      upstream on the host; podman healthcheck run healthy; the process is uid 10001;
#      podman stop drains an in-flight request and exits 0 within the drain time.
# When running a container fails on this machine, step 4 falls back to podman create +
# podman export + chroot --userspec, and says so. Fails (never skips) when it cannot
# build or run the image. Prints the image size and the build time at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
image=${GATEHOUSE_IMAGE:-localhost/gatehouse:test}
work=$(mktemp -d /tmp/gatehouse-image.XXXXXX)
containers=()
pids=()
say() { echo "test-image: $*"; }
fail() { echo "test-image: FAILED: $*" >&2; exit 1; }
cleanup() {
  for c in "${containers[@]}"; do podman rm -f -t 0 "$c" >/dev/null 2>&1 || true; done
  if [ -n "${GATEHOUSE_KEEP_LOGS:-}" ]; then cp -r "$work" "$GATEHOUSE_KEEP_LOGS"; fi
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

for cmd in podman runc debootstrap curl python3; do
  command -v "$cmd" >/dev/null || fail "$cmd not found: GATEHOUSE_IMAGE_DEPS=1 bash scripts/install-deps.sh"
done
[ "$(id -u)" -eq 0 ] || fail "needs root (rootful podman, debootstrap, nsenter)"

nofile=$(ulimit -Hn); [ "$nofile" -gt 65536 ] && nofile=65536
run_opts=(--runtime runc --ulimit "nofile=$nofile:$nofile" --ulimit nproc=32768:32768)

# poll SECONDS CMD...: runs CMD every 0.2 s until it succeeds.
poll() {
  local secs=$1; shift
  local end=$(( $(date +%s) + secs ))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$end" ] || return 1
    sleep 0.2
  done
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
status_of() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$1"; }
body_has() { curl -s --max-time 5 "$1" | grep -q "$2"; }
answers_200() { [ "$(status_of "$1")" = 200 ]; }

# --- 1-2: base images and the build ------------------------------------------------------
t0=$(date +%s)
bash deploy/base-images.sh
t1=$(date +%s)
say "podman build --pull=never --format docker -f deploy/Dockerfile"
podman build --pull=never --format docker -f deploy/Dockerfile \
  --ignorefile deploy/Dockerfile.dockerignore --build-arg "JOBS=$(nproc)" \
  -t "$image" . >"$work/build.log" 2>&1 || { tail -40 "$work/build.log" >&2; fail "podman build"; }
t2=$(date +%s)

# --- 3: metadata --------------------------------------------------------------------------
inspect() { podman image inspect --format "$1" "$image"; }
[ "$(inspect '{{.Config.User}}')" = "10001:10001" ] || fail "image user is $(inspect '{{.Config.User}}')"
inspect '{{json .Config.Healthcheck}}' | grep -q gatehouse-healthcheck || fail "no HEALTHCHECK in the image"
[ "$(inspect '{{.Config.StopSignal}}')" = "SIGTERM" ] || fail "STOPSIGNAL is $(inspect '{{.Config.StopSignal}}')"
inspect '{{json .Config.Cmd}}' | grep -q /etc/gatehouse/gatehouse.yaml || fail "CMD does not read /etc/gatehouse/gatehouse.yaml"
size=$(inspect '{{.Size}}')
size_mb=$(( size / 1000000 ))
[ "$size_mb" -lt 100 ] || fail "runtime image is $size_mb MB (the aim is under 100 MB)"
podman run --rm "${run_opts[@]}" --entrypoint /usr/local/bin/gatehouse "$image" version >"$work/version" \
  2>"$work/version.err" && run_ok=1 || { run_ok=0; cat "$work/version.err" >>"$work/version"; }

# --- 4: run it -----------------------------------------------------------------------------
upstream_py=$repo/deploy/compose/sample_upstream.py
cat >"$work/gatehouse.yaml" <<'EOF'
listen: 0.0.0.0:8080
threads: 2
shutdown_grace: 10s
log: { level: info, format: json }
endpoints:
  - name: up
    url: http://127.0.0.1:9000/api
    health_check: false
    circuit_breaker: { failure_threshold: 100 }
EOF
chmod 0644 "$work/gatehouse.yaml"

check_running() {   # $1 = base URL of the gateway, $2 = pid of the gatehouse process
  local base=$1 pid=$2
  poll 20 answers_200 "$base/healthz" || fail "/healthz did not answer 200"
  say "/healthz 200"
  poll 10 body_has "$base/up/hello" '"service": "host-upstream"' || fail "request not proxied to the host upstream"
  curl -s "$base/up/hello" | grep -q '"path": "/api/hello"' || fail "proxied path wrong"
  say "GET /up/hello proxied to the upstream on the host"
  uid=$(awk '/^Uid:/ {print $2}' "/proc/$pid/status")
  [ "$uid" = 10001 ] || fail "gatehouse runs as uid $uid, not 10001"
  say "gatehouse (pid $pid on the host) runs as uid 10001"
}

if [ "$run_ok" = 1 ]; then
  say "path: podman run ($(cat "$work/version"))"
  # 4a. the image alone, with its example config
  port=$(free_port)
  c=$(podman run -d "${run_opts[@]}" -p "127.0.0.1:$port:8080" "$image" 2>>"$work/podman.log")
  containers+=("$c")
  poll 20 answers_200 "http://127.0.0.1:$port/healthz" || { podman logs "$c" >&2; fail "example config: /healthz"; }
  poll 10 body_has "http://127.0.0.1:$port/hello" "gatehouse is running" || fail "example config: /hello fallback"
  say "the image alone: /healthz 200, /hello answered by the example's fallback"
  podman rm -f -t 0 "$c" >/dev/null 2>>"$work/podman.log"

  # 4b. a config of ours, an upstream on the host inside the container's network
  # namespace (so that all traffic stays on loopback), the published port
  port=$(free_port)
  c=$(podman run -d "${run_opts[@]}" -p "127.0.0.1:$port:8080" --name "gatehouse-test-$$" \
        -v "$work/gatehouse.yaml:/etc/gatehouse/gatehouse.yaml:ro,Z" "$image" 2>>"$work/podman.log")
  containers+=("$c")
  pid=$(podman inspect --format '{{.State.Pid}}' "$c")
  nsenter --net="/proc/$pid/ns/net" python3 "$upstream_py" --host 127.0.0.1 --port 9000 \
    --name host-upstream >"$work/upstream.log" 2>&1 &
  pids+=($!)
  check_running "http://127.0.0.1:$port" "$pid"
  podman healthcheck run "$c" 2>>"$work/podman.log" || fail "podman healthcheck run: unhealthy"
  [ "$(podman inspect --format '{{.State.Health.Status}}' "$c" 2>/dev/null || podman inspect --format '{{.State.Healthcheck.Status}}' "$c")" = healthy ] \
    || fail "health status is not healthy"
  say "podman healthcheck run: healthy"

  # 4c. drain: a 3 s request in flight when podman stop sends SIGTERM still gets its 200,
  # and podman stop waits for it (but not for the whole 10 s shutdown_grace)
  curl -s -o "$work/slow.out" -w '%{http_code}' --max-time 20 "http://127.0.0.1:$port/up/slow?seconds=3" \
    >"$work/slow.code" &
  slow=$!
  sleep 1   # the request has reached the upstream
  s0=$(date +%s.%N)
  podman stop -t 15 "$c" >/dev/null 2>>"$work/podman.log" || fail "podman stop failed"
  s1=$(date +%s.%N)
  wait "$slow" || true
  [ "$(cat "$work/slow.code")" = 200 ] || fail "in-flight request got $(cat "$work/slow.code") during the drain"
  rc=$(podman inspect --format '{{.State.ExitCode}}' "$c")
  [ "$rc" = 0 ] || { podman logs "$c" | tail -20 >&2; fail "gatehouse exited $rc after SIGTERM"; }
  stop_s=$(python3 -c "print(f'{$s1 - $s0:.1f}')")
  python3 -c "import sys; sys.exit(0 if 1.0 < $s1 - $s0 < 10 else 1)" \
    || fail "podman stop took ${stop_s} s (expected: the ~2 s left of the in-flight request, under the 10 s drain time)"
  say "podman stop: in-flight request answered 200, exit 0 after ${stop_s} s (shutdown_grace 10 s)"
else
  # podman run does not work on this machine: the same checks on the exported filesystem.
  say "path: podman run failed ($(tail -1 "$work/version")); falling back to podman export + chroot"
  c=$(podman create "$image")
  containers+=("$c")
  mkdir "$work/rootfs"
  podman export "$c" | tar -x -C "$work/rootfs"
  cp "$work/gatehouse.yaml" "$work/rootfs/etc/gatehouse/gatehouse.yaml"
  python3 "$upstream_py" --host 127.0.0.1 --port 9000 --name host-upstream >"$work/upstream.log" 2>&1 &
  pids+=($!)
  port=$(free_port)
  sed -i "s/^listen: .*/listen: 127.0.0.1:$port/" "$work/rootfs/etc/gatehouse/gatehouse.yaml"
  chroot --userspec=10001:10001 "$work/rootfs" /usr/local/bin/gatehouse run -c /etc/gatehouse/gatehouse.yaml \
    >"$work/gatehouse.log" 2>&1 &
  gpid=$!
  pids+=("$gpid")
  check_running "http://127.0.0.1:$port" "$gpid"
  GATEHOUSE_HEALTH_PORT=$port chroot --userspec=10001:10001 "$work/rootfs" /usr/local/bin/gatehouse-healthcheck \
    || fail "the image's healthcheck command failed"
  say "the image's healthcheck command: healthy"
  kill -TERM "$gpid"
  wait "$gpid" || fail "gatehouse exited $? after SIGTERM"
  say "SIGTERM: exit 0"
fi

say "image $image: $size_mb MB; base images $(( t1 - t0 )) s, podman build $(( t2 - t1 )) s"

# --- 5: the compose stack --------------------------------------------------------------------
if [ "${GATEHOUSE_SKIP_COMPOSE:-0}" != 1 ]; then
  GATEHOUSE_IMAGE=$image bash deploy/test-compose.sh
fi
say "ok"
