#!/usr/bin/env bash
# `make run-check`: the README's tour, unattended. Starts the demo upstreams and gatehouse
# on free ports (so it works beside a running `make run`), runs every command line of the
# README's tour blocks (the ```sh blocks after a `<!-- tour -->` line), taken from
# README.md with only the ports changed, in order, and asserts what each one gives. Also
# checks the README's `gatehouse check` examples, a clean SIGTERM exit, and Ctrl-C on
# `make run` under a terminal. Exits non-zero if anything was off.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/demo-lib.sh

require_binary
unset GATEHOUSE_JWT_SECRET      # the README reads the key from build/demo-secret; so do we
ensure_demo_secret

tmp=$(mktemp -d)
UPSTREAMS_PID=""
GATEWAY_PID=""
cleanup() { stop_pid "$GATEWAY_PID"; stop_pid "$UPSTREAMS_PID"; rm -rf "$tmp"; }
trap cleanup EXIT

failures=0
pass() { echo "ok    $*"; }
fail() { echo "FAIL  $*"; failures=$((failures + 1)); }

# What each line of the README's tour must give, in the README's order:
#   the line's command (the README line must start with it, then a blank or its end)
#   @@ for curl, the HTTP status; else exit=N, the command's exit status
#   @@ extended regexes, one per field, that must match its output (headers included;
#      for an assignment, the value assigned); a leading ! means must not match, a
#      leading {N} that exactly N response header lines match (for curl; all transfers
#      of a line counted: 'URL/[1-4]' makes four).
# A curl line making several transfers gives their statuses as one when they are all the
# same (else e.g. "200 503", which matches no expectation).
# A README tour line without an entry here, or an entry without its line, fails the check.
tour_expectations() {
  cat <<'EOF'
curl -i 'localhost:8080/users/v1/42?x=1' @@ 200 @@ "service": "users-v1" @@ "path": "/api/42" @@ "query": "x=1" @@ "X-Request-Id": "[0-9a-f]{32}" @@ "X-Forwarded-For": "127.0.0.1"
curl -i localhost:8080/users/v2/42 @@ 200 @@ "service": "users-v2" @@ "path": "/api/42"
curl -H 'X-API-Version: v1' localhost:8080/users/42 @@ 200 @@ "service": "users-v1"
curl localhost:8080/users/42 @@ 200 @@ "service": "users-v2"
curl -i -H 'X-API-Version: v9' localhost:8080/users/42 @@ 404 @@ available: v1, v2
curl -i -d '{"item":"book"}' -H 'Content-Type: application/json' localhost:8080/orders @@ 201 @@ "service": "orders" @@ "received_bytes": 15
curl -i -X DELETE localhost:8080/orders/7 @@ 405 @@ ^Allow: GET, HEAD, POST @@ "code":"method_not_allowed"
curl -i localhost:8080/nowhere @@ 404 @@ "code":"no_route"
curl -i localhost:8080/legacy @@ 404 @@ "code":"no_route"
curl -i localhost:8080/healthz @@ 200 @@ "status":"ok"
curl -i localhost:8080/readyz @@ 200 @@ "status":"ready"
curl localhost:8080/metrics @@ 200 @@ gatehouse_requests_total\{endpoint="users@v1"
export GATEHOUSE_JWT_SECRET=$(cat build/demo-secret) @@ exit=0 @@ ^.{32,}$
TOKEN=$(build/gatehouse token --secret-env GATEHOUSE_JWT_SECRET --scope "gatehouse:stats gatehouse:admin" --ttl 1h) @@ exit=0 @@ ^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$
curl -i localhost:8080/endpoints/stats @@ 401 @@ ^WWW-Authenticate: Bearer realm="gatehouse"
curl -H "Authorization: Bearer $TOKEN" localhost:8080/endpoints/stats @@ 200 @@ "id":"users@v1" @@ "id":"users@v2" @@ "id":"orders" @@ "id":"legacy"
curl -H "Authorization: Bearer $TOKEN" 'localhost:8080/endpoints/stats?status=disabled' @@ 200 @@ "id":"legacy" @@ !"id":"users@v1"
curl -H "Authorization: Bearer $TOKEN" localhost:8080/endpoints/stats/users@v1 @@ 200 @@ "id":"users@v1" @@ "circuit_breaker":\{"state":"closed"
curl -X POST localhost:9003/_demo/fail @@ 200 @@ "failing": 503
curl -i localhost:8080/orders/7 @@ 503 @@ "error": "failing on purpose @@ !circuit_open
sleep 3 @@ exit=0
curl -i localhost:8080/orders/7 @@ 503 @@ "code":"circuit_open" @@ ^Retry-After: [1-5]\s*$ @@ !failing on purpose
curl -H "Authorization: Bearer $TOKEN" localhost:8080/endpoints/stats/orders @@ 200 @@ "health":"down" @@ "state":"open" @@ "consecutive_failures":[1-9] @@ "fallbacks":[1-9]
curl -X POST localhost:9003/_demo/recover @@ 200 @@ "failing": null
sleep 6 @@ exit=0
curl -i localhost:8080/orders/7 @@ 200 @@ "service": "orders" @@ "path": "/api/7"
curl -H "Authorization: Bearer $TOKEN" localhost:8080/endpoints/stats/orders @@ 200 @@ "state":"closed" @@ "consecutive_failures":0
curl -I 'localhost:8080/users/v2/[1-4]' @@ 200 @@ {4}^HTTP/1.1 200 @@ {2}^X-Demo-Server: users-v2/a$ @@ {2}^X-Demo-Server: users-v2/b$
curl -X POST localhost:9005/_demo/fail @@ 200 @@ "server": "users-v2/b" @@ "failing": 503
curl -I 'localhost:8080/users/v2/[1-4]' @@ 200 @@ {4}^HTTP/1.1 200 @@ {4}^X-Demo-Server: users-v2/a$ @@ !users-v2/b
sleep 3 @@ exit=0
curl -H "Authorization: Bearer $TOKEN" localhost:8080/endpoints/stats/users@v2 @@ 200 @@ "id":"users@v2", @@ "status":"enabled","health":"up","circuit_breaker":\{"state":"closed" @@ "targets":\[\{"url":"http://127\.0\.0\.1:[0-9]+/api","weight":1,"health":"up","circuit_breaker":\{"state":"closed"[^]]*\},\{"url":"http://127\.0\.0\.1:[0-9]+/api","weight":1,"health":"down","circuit_breaker":\{"state":"open"[^]]*"requests":\{"total":[1-9][0-9]*,"failed":[1-9]
curl -I 'localhost:8080/users/v2/[1-4]' @@ 200 @@ {4}^HTTP/1.1 200 @@ {4}^X-Demo-Server: users-v2/a$ @@ !users-v2/b
curl -X POST localhost:9005/_demo/recover @@ 200 @@ "server": "users-v2/b" @@ "failing": null
sleep 6 @@ exit=0
curl -I 'localhost:8080/users/v2/[1-4]' @@ 200 @@ {4}^HTTP/1.1 200 @@ {2}^X-Demo-Server: users-v2/a$ @@ {2}^X-Demo-Server: users-v2/b$
curl -X POST -H "Authorization: Bearer $TOKEN" localhost:8080/endpoints/reload @@ 200 @@ "result":"unchanged" @@ "disabled":\["legacy"\]
EOF
}

# The same for the README's TLS tour (`<!-- tour-tls -->`), against `make run TLS=1`'s
# gatehouse.
tls_tour_expectations() {
  cat <<'EOF'
curl -i --cacert build/demo-tls/ca.pem https://localhost:8443/users/v1/42 @@ 200 @@ "service": "users-v1" @@ "X-Forwarded-Proto": "https"
curl -i http://localhost:8443/users/v1/42 @@ 400 @@ plain HTTP request sent to a TLS listener @@ ^Connection: close
curl --cacert build/demo-tls/ca.pem https://localhost:8443/metrics @@ 200 @@ gatehouse_tls_handshakes_total\{result="ok"\} [1-9] @@ gatehouse_tls_certificate_expiry_timestamp_seconds\{certificate="[^"]*demo-tls/server.crt"\} [0-9]{10}
openssl s_client -brief -connect 127.0.0.1:8443 -servername localhost -CAfile build/demo-tls/ca.pem </dev/null @@ exit=0 @@ Protocol version: TLSv1.3 @@ Verification: OK
EOF
}

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
# The README shows that output verbatim: the second code block after "A config error".
awk '/^\*\*A config error\.\*\*/ {found=1} found && /^```/ {blocks++; next}
     found && blocks == 3 {print} found && blocks == 4 {exit}' README.md >"$tmp/readme-errors.txt"
if [ -s "$tmp/readme-errors.txt" ] && diff -u "$tmp/readme-errors.txt" "$tmp/cmd.out" >"$tmp/errors.diff"; then
  pass "gatehouse check prints the README's sample errors"
else
  fail "gatehouse check output differs from the README's sample:"; sed 's/^/      /' "$tmp/errors.diff"
fi
if [ "$(stat -c %a "$DEMO_SECRET_FILE")" = 600 ]; then pass "$DEMO_SECRET_FILE is mode 0600"; else
  fail "$DEMO_SECRET_FILE is mode $(stat -c %a "$DEMO_SECRET_FILE"), expected 0600"; fi

# --- the demo, on free ports ---------------------------------------------------------
start_demo_upstreams "$tmp" 1
GW=$DEMO_GW
"$GATEHOUSE_BIN" run -c "$DEMO_RUN_CONFIG" >"$tmp/gateway.log" 2>&1 &
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

# The README's curl lines run as printed; this wrapper only records what they got.
curl() {
  command curl -sS --max-time 10 -D "$tmp/headers" -o "$tmp/body" -w '%{http_code}\n' "$@" \
    >"$tmp/status"
}

show_output() { sed 's/^/      /' "$tmp/out"; echo; }

# run_tour_line LINE SHOWN STATUS REGEX...: runs one README line (ports already
# substituted); SHOWN is how the report names it.
run_tour_line() {
  local line=$1 shown=$2 want=$3 got re var; shift 3
  : >"$tmp/headers"; : >"$tmp/body"; : >"$tmp/status"
  if [[ $line == curl\ * ]]; then
    eval "$line" 2>"$tmp/err" </dev/null || true
    got=$(sort -u "$tmp/status" | paste -sd' ')
    cat "$tmp/err" "$tmp/headers" "$tmp/body" | tr -d '\r' >"$tmp/out"
  else
    got=0
    eval "$line" >"$tmp/out" 2>&1 </dev/null || got=$?
    got="exit=$got"
    if [[ $line =~ ^(export\ )?([A-Za-z_][A-Za-z0-9_]*)= ]]; then
      var=${BASH_REMATCH[2]}
      printf '%s\n' "${!var:-}" >"$tmp/out"
    fi
  fi
  if [ "$got" != "$want" ]; then
    fail "$shown -> $got, expected $want"; show_output; return
  fi
  for re in "$@"; do
    if [[ $re =~ ^\{([0-9]+)\}(.*)$ ]]; then
      local n=${BASH_REMATCH[1]} count
      re=${BASH_REMATCH[2]}
      count=$(tr -d '\r' <"$tmp/headers" | grep -cE -- "$re" || true)
      if [ "$count" != "$n" ]; then
        fail "$shown -> $got, but $count response header lines match '$re', expected $n"
        show_output; return
      fi
    elif [[ $re == !* ]]; then
      if grep -qE -- "${re#!}" "$tmp/out"; then
        fail "$shown -> $got, but the output matches '${re#!}'"; show_output; return
      fi
    elif ! grep -qE -- "$re" "$tmp/out"; then
      fail "$shown -> $got, but the output does not match '$re'"; show_output; return
    fi
  done
  pass "$shown -> $got"
}

# run_tour KIND EXPECTATIONS: the README's tour lines of KIND (plain, tls) against their
# expectations, in order.
run_tour() {
local kind=$1 tour steps i fields cmd readme_line
mapfile -t tour < <(readme_tour_lines "$kind" | cut -f2-)
mapfile -t steps < <("$2")
[ "${#tour[@]}" -gt 0 ] || fail "no tour lines found in $DEMO_README (<!-- tour --> before a \`\`\`sh block)"
for i in "${!steps[@]}"; do
  IFS=$'\x1f' read -r -a fields <<<"${steps[$i]// @@ /$'\x1f'}"
  cmd=${fields[0]}
  if [ "$i" -ge "${#tour[@]}" ]; then
    fail "the check expects README tour line $((i + 1)) to be: $cmd; the README has no such line"
    break
  fi
  readme_line=${tour[$i]}
  if [ "$readme_line" != "$cmd" ] && [[ $readme_line != "$cmd"[[:space:]]* ]]; then
    fail "README tour line $((i + 1)) is: $readme_line"
    echo "      but scripts/run-check.sh expects: $cmd (update one to match the other)"
    break
  fi
  run_tour_line "$(with_ports "$readme_line")" "$(with_ports "$cmd")" "${fields[@]:1}"
done
if [ "${#tour[@]}" -gt "${#steps[@]}" ]; then
  fail "README tour lines with no expectation in scripts/run-check.sh:"
  printf '      %s\n' "${tour[@]:${#steps[@]}}"
fi
}
run_tour plain tour_expectations

# The README's next step in words: remove `disabled: true` from legacy, reload again.
if grep -qx '    disabled: true' "$DEMO_RUN_CONFIG"; then
  sed -i '/^    disabled: true$/d' "$DEMO_RUN_CONFIG"      # the copy on free ports
  reload='curl -X POST -H "Authorization: Bearer $TOKEN" localhost:8080/endpoints/reload'
  run_tour_line "$(with_ports "$reload")" "(legacy enabled in the file) $(with_ports "$reload")" \
    200 '"result":"applied"' '"config_version":2' '"added":\["legacy"\]'
else
  fail "no 'disabled: true' line in $DEMO_CONFIG for the README's reload example"
fi
unset -f curl

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
stop_pid "$UPSTREAMS_PID"; UPSTREAMS_PID=""

# --- the TLS demo (make run TLS=1), on free ports ------------------------------------
DEMO_TLS=1
DEMO_LISTEN=$DEMO_TLS_LISTEN
ensure_demo_tls
mkdir -p "$tmp/tls"
start_demo_upstreams "$tmp/tls" 1
GW=$DEMO_GW
"$GATEHOUSE_BIN" run -c "$DEMO_RUN_CONFIG" >"$tmp/gateway.log" 2>&1 &
GATEWAY_PID=$!
deadline=$((SECONDS + 20))
until [ "$(command curl -s -o /dev/null -w '%{http_code}' --max-time 2 --cacert "$DEMO_TLS_DIR/ca.pem" \
            "https://localhost:${GW##*:}/readyz" || true)" = 200 ]; do
  if ! kill -0 "$GATEWAY_PID" 2>/dev/null || [ $SECONDS -ge $deadline ]; then
    echo "gatehouse (TLS) did not become ready on $GW; its log:" >&2
    sed 's/^/      /' "$tmp/gateway.log" >&2
    exit 1
  fi
  sleep 0.1
done
pass "gatehouse ready on https://$GW"
curl() {
  command curl -sS --max-time 10 -D "$tmp/headers" -o "$tmp/body" -w '%{http_code}\n' "$@" \
    >"$tmp/status"
}
run_tour tls tls_tour_expectations
unset -f curl
stop_pid "$GATEWAY_PID"; GATEWAY_PID=""
stop_pid "$UPSTREAMS_PID"; UPSTREAMS_PID=""

# --- Ctrl-C on `make run`, on a terminal ---------------------------------------------
# make run reconfigures its build folder: keep the type it was built with (build-asan, ...).
build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$DEMO_DIR/CMakeCache.txt" 2>/dev/null || true)
if "$PYTHON" scripts/interrupt-check.py -- make --no-print-directory run BUILD_DIR="$DEMO_DIR" \
     BUILD_TYPE="${build_type:-Release}" >"$tmp/interrupt.out" 2>&1; then
  pass "$(tail -n 1 "$tmp/interrupt.out")"
else
  fail "Ctrl-C on make run:"; sed 's/^/      /' "$tmp/interrupt.out"
fi

if [ "$failures" -gt 0 ]; then
  echo "run-check: $failures check(s) failed; gatehouse's log:"
  sed 's/^/      /' "$tmp/gateway.log"
  exit 1
fi
echo "run-check: all checks passed"
