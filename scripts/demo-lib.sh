# Shared by scripts/run-demo.sh (interactive) and scripts/run-check.sh (asserting):
# the demo's upstreams, the tour's requests and the helpers that start things.
# Source it from the repository root.

PYTHON=/usr/bin/python3                       # Debian's, never a pyenv shim
GATEHOUSE_BIN=${GATEHOUSE_BIN:-build/gatehouse}
DEMO_CONFIG=examples/gatehouse.yaml
DEMO_LISTEN=127.0.0.1:8080                    # as in examples/gatehouse.yaml
DEMO_UPSTREAMS=(users-v1=9001 users-v2=9002 orders=9003)

# The tour, one request a line: expected status | text the response must contain
# (case-insensitive, headers included) | what it shows | the command. $GW stands for
# the gateway's address. run-demo.sh prints these lines; run-check.sh runs them.
demo_requests() {
  cat <<'EOF'
200|"service": "users-v1"|route by prefix to users v1|curl -i '$GW/users/v1/42?x=1'
200|"service": "users-v2"|route by prefix to users v2|curl -i $GW/users/v2/42
200|"service": "users-v1"|pick the version with a header|curl -H 'X-API-Version: v1' $GW/users/42
200|"service": "users-v2"|no header: the newest version|curl $GW/users/42
404|application/problem+json|an unknown version|curl -i -H 'X-API-Version: v9' $GW/users/42
201|"received_bytes": 15|POST passes through to orders|curl -i -d '{"item":"book"}' -H 'Content-Type: application/json' $GW/orders
405|allow:|orders allows only GET and POST|curl -i -X DELETE $GW/orders/7
404|"no_route"|no endpoint owns the path|curl -i $GW/nowhere
404|"no_route"|a disabled endpoint is not routed|curl -i $GW/legacy
200|"ok"|liveness|curl -i $GW/healthz
200||readiness|curl -i $GW/readyz
200|gatehouse_requests_total{endpoint="users@v1"|Prometheus metrics (open in the demo)|curl $GW/metrics
EOF
}

# Requests for the stats API, listed once `gatehouse token` exists ($TOKEN set).
demo_stats_requests() {
  cat <<'EOF'
401|www-authenticate: bearer|the stats API wants a token|curl -i $GW/endpoints/stats
200|"endpoints"|stats with a token (scope gatehouse:stats)|curl -H "Authorization: Bearer $TOKEN" $GW/endpoints/stats
200|"health"|one endpoint's state|curl -H "Authorization: Bearer $TOKEN" $GW/endpoints/stats/users@v1
200|"result"|reload the config file (scope gatehouse:admin)|curl -X POST -H "Authorization: Bearer $TOKEN" $GW/endpoints/reload
EOF
}

# The broken copy of the demo config that the README's tour feeds to `gatehouse check`.
demo_broken_config() {
  sed -e 's/version: v2/version: v1/' -e 's/max_body:/max_bdy:/' \
      -e 's|http://127.0.0.1:9003|ftp://127.0.0.1:9003|' "$DEMO_CONFIG"
}

die() { echo "$(basename "$0"): $*" >&2; exit 1; }

require_binary() {
  [ -x "$GATEHOUSE_BIN" ] || die "$GATEHOUSE_BIN not found: run 'make build' first"
}

# The JWT secret the demo config reads (HS256 needs at least 32 bytes).
ensure_jwt_secret() {
  if [ -z "${GATEHOUSE_JWT_SECRET:-}" ]; then
    GATEHOUSE_JWT_SECRET=$(openssl rand -hex 32)
    export GATEHOUSE_JWT_SECRET
  fi
}

# Mints an admin token into TOKEN if this build has `gatehouse token`; else leaves it empty.
# (`token --help` is not proof: CLI11 prints the main help for an unknown subcommand.)
mint_demo_token() {
  TOKEN=$("$GATEHOUSE_BIN" token --secret-env GATEHOUSE_JWT_SECRET \
            --scope "gatehouse:stats gatehouse:admin" --ttl 1h 2>/dev/null) || TOKEN=""
  [[ "$TOKEN" =~ ^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$ ]] || TOKEN=""
}

# start_upstreams OUTFILE NAME=PORT...: starts examples/demo_upstreams.py in the
# background (pid in UPSTREAMS_PID) and waits until every port is bound.
start_upstreams() {
  local out=$1; shift
  "$PYTHON" examples/demo_upstreams.py "$@" >"$out" &
  UPSTREAMS_PID=$!
  local deadline=$((SECONDS + 10))
  until grep -qx ready "$out" 2>/dev/null; do
    kill -0 "$UPSTREAMS_PID" 2>/dev/null || die "the demo upstreams did not start (port in use?)"
    [ $SECONDS -lt $deadline ] || die "the demo upstreams did not start within 10s"
    sleep 0.1
  done
}

stop_pid() {  # stop_pid PID: SIGTERM, then wait for it
  local pid=$1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
