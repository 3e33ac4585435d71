#!/usr/bin/env bash
# `make run`: starts the demo upstreams in the background, prints requests to try,
# then runs gatehouse with examples/gatehouse.yaml in the foreground (Ctrl-C stops all).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/demo-lib.sh

require_binary
ensure_jwt_secret

tmp=$(mktemp -d)
UPSTREAMS_PID=""
cleanup() { stop_pid "$UPSTREAMS_PID"; rm -rf "$tmp"; }
trap cleanup EXIT

for port in ${DEMO_LISTEN##*:} "${DEMO_UPSTREAMS[@]##*=}"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    die "port $port is already in use (another 'make run'?); stop that first"
  fi
done

start_upstreams "$tmp/upstreams.out" "${DEMO_UPSTREAMS[@]}"
echo "Demo upstreams: ${DEMO_UPSTREAMS[*]}  (examples/demo_upstreams.py)"

GW=localhost:${DEMO_LISTEN##*:}
print_requests() {
  local status expect what cmd
  while IFS='|' read -r status expect what cmd; do
    printf '  %-78s # %s -> %s\n' "${cmd//\$GW/$GW}" "$what" "$status"
  done
}

cat <<EOF

gatehouse will listen on $GW. In another terminal, try:

EOF
demo_requests | print_requests

mint_demo_token
echo
if [ -n "$TOKEN" ]; then
  echo "  Stats API: first paste the token (scopes gatehouse:stats gatehouse:admin, valid 1h):"
  echo "  TOKEN=$TOKEN"
  demo_stats_requests | print_requests
else
  echo "  (gatehouse token could not mint a token for the stats API: is GATEHOUSE_JWT_SECRET at least 32 bytes?)"
fi
cat <<EOF

  Check a config file (exit 0 when valid):
  GATEHOUSE_JWT_SECRET=$GATEHOUSE_JWT_SECRET $GATEHOUSE_BIN check -c $DEMO_CONFIG

Starting: $GATEHOUSE_BIN run -c $DEMO_CONFIG   (Ctrl-C to stop)

EOF

status=0
"$GATEHOUSE_BIN" run -c "$DEMO_CONFIG" || status=$?
exit "$status"
