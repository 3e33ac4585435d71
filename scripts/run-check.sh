#!/usr/bin/env bash
# `make run-check`: the demo of `make run`, non-interactive. Starts the demo upstreams
# and gatehouse (on free ports, so it works beside a running `make run`), runs every
# request the demo prints, asserts the status codes, checks the README's `gatehouse
# check` examples, stops everything and exits non-zero if anything was off.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/demo-lib.sh

require_binary
ensure_jwt_secret

tmp=$(mktemp -d)
UPSTREAMS_PID=""
GATEWAY_PID=""
cleanup() { stop_pid "$GATEWAY_PID"; stop_pid "$UPSTREAMS_PID"; rm -rf "$tmp"; }
trap cleanup EXIT

failures=0
pass() { echo "ok    $*"; }
fail() { echo "FAIL  $*"; failures=$((failures + 1)); }

# expect_exit CODE DESCRIPTION COMMAND...: runs COMMAND, output in $tmp/cmd.out
expect_exit() {
  local want=$1 what=$2; shift 2
  local got=0
  "$@" >"$tmp/cmd.out" 2>&1 || got=$?
  if [ "$got" -eq "$want" ]; then pass "$what (exit $got)"; else
    fail "$what: exit $got, expected $want"; sed 's/^/      /' "$tmp/cmd.out"; fi
}

# --- the CLI ---------------------------------------------------------------------
expect_exit 0 "gatehouse version" "$GATEHOUSE_BIN" version
expect_exit 0 "gatehouse check -c $DEMO_CONFIG" "$GATEHOUSE_BIN" check -c "$DEMO_CONFIG"
demo_broken_config >"$tmp/broken.yaml"
expect_exit 1 "gatehouse check rejects the README's broken config" \
  "$GATEHOUSE_BIN" check -c "$tmp/broken.yaml"
if grep -qi 'line' "$tmp/cmd.out"; then pass "config errors name their line"; else
  fail "config errors do not name their line:"; sed 's/^/      /' "$tmp/cmd.out"; fi

# --- the demo, on free ports ---------------------------------------------------------
free_port() {
  "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
zero_ports=()
for spec in "${DEMO_UPSTREAMS[@]}"; do zero_ports+=("${spec%=*}=0"); done
start_upstreams "$tmp/upstreams.out" "${zero_ports[@]}"

gw_port=$(free_port)
sed_args=(-e "s/${DEMO_LISTEN//./\\.}/127.0.0.1:$gw_port/")
for spec in "${DEMO_UPSTREAMS[@]}"; do
  name=${spec%=*} port=${spec#*=}
  actual=$(awk -v n="$name" '$1 == "listening" && $2 == n {print $4}' "$tmp/upstreams.out")
  sed_args+=(-e "s/127\\.0\\.0\\.1:$port\\b/127.0.0.1:$actual/g")
done
sed "${sed_args[@]}" "$DEMO_CONFIG" >"$tmp/gatehouse.yaml"
GW=127.0.0.1:$gw_port

"$GATEHOUSE_BIN" run -c "$tmp/gatehouse.yaml" >"$tmp/gateway.log" 2>&1 &
GATEWAY_PID=$!
deadline=$((SECONDS + 20))
until [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://$GW/readyz" || true)" = 200 ]; do
  if ! kill -0 "$GATEWAY_PID" 2>/dev/null || [ $SECONDS -ge $deadline ]; then
    echo "gatehouse did not become ready on $GW; its log:" >&2
    sed 's/^/      /' "$tmp/gateway.log" >&2
    exit 1
  fi
  sleep 0.1
done
pass "gatehouse ready on $GW"

show_response() { { cat "$tmp/curl.err" "$tmp/headers" "$tmp/body"; echo; } | sed 's/^/      /'; }

run_requests() {
  local status expect what cmd line got
  while IFS='|' read -r status expect what cmd; do
    line=${cmd//\$GW/$GW}
    run=${line/#curl -i /curl }             # headers go to -D, not into the body
    : >"$tmp/headers"; : >"$tmp/body"
    got=$(eval "$run -sS --max-time 10 -o '$tmp/body' -D '$tmp/headers' -w '%{http_code}'" \
          2>"$tmp/curl.err" </dev/null) || true
    if [ "$got" != "$status" ]; then
      fail "$line -> $got, expected $status ($what)"; show_response
    elif [ -n "$expect" ] && ! grep -qiF -- "$expect" "$tmp/headers" "$tmp/body"; then
      fail "$line -> $got but the response lacks '$expect' ($what)"; show_response
    else
      pass "$line -> $got"
    fi
  done
}
run_requests < <(demo_requests)

mint_demo_token
[ -n "$TOKEN" ] || die "gatehouse token did not mint a token for the stats API"
run_requests < <(demo_stats_requests)

# --- graceful stop -----------------------------------------------------------------
kill -TERM "$GATEWAY_PID"
stopped=0
for _ in $(seq 1 150); do
  kill -0 "$GATEWAY_PID" 2>/dev/null || { stopped=1; break; }
  sleep 0.1
done
if [ "$stopped" = 1 ]; then
  code=0; wait "$GATEWAY_PID" || code=$?
  if [ "$code" -eq 0 ]; then pass "SIGTERM stops gatehouse with exit 0"; else
    fail "gatehouse exited $code after SIGTERM"; fi
else
  fail "gatehouse still running 15s after SIGTERM"; kill -KILL "$GATEWAY_PID" 2>/dev/null || true
fi
GATEWAY_PID=""

if [ "$failures" -gt 0 ]; then
  echo "run-check: $failures check(s) failed; gatehouse's log:"
  sed 's/^/      /' "$tmp/gateway.log"
  exit 1
fi
echo "run-check: all checks passed"
