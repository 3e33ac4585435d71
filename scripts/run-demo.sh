#!/usr/bin/env bash
# `make run`: starts the demo upstreams, prints the README tour's command lines, then runs
# gatehouse with examples/gatehouse.yaml until Ctrl-C, which stops everything (exit 0).
# DEMO_FREE_PORTS=1 runs it all on free ports instead of 8080, 9001-9003 and 9005 (the lines
# printed say which). DEMO_TLS=1 (make run TLS=1) serves HTTPS on 8443 with a
# certificate made for localhost by a demo CA in build/demo-tls/ (curl --cacert).
set -euo pipefail
cd "$(dirname "$0")/.."

# Ctrl-C sends SIGINT to the terminal's foreground process group. Left there, make gets
# it too and reports "Interrupt" (exit 130) whatever this script does. So on a terminal
# the demo runs as a job of its own (`set -m`: its own process group, given the
# terminal while it runs): Ctrl-C reaches only the demo, make sees it exit 0.
if [ -t 0 ] && [ -z "${DEMO_FOREGROUND_JOB:-}" ]; then
  set -m
  status=0
  DEMO_FOREGROUND_JOB=1 bash "$0" "$@" || status=$?
  exit "$status"
fi

source scripts/demo-lib.sh
require_binary
ensure_demo_secret
free=${DEMO_FREE_PORTS:-0}
tour=plain
if [ "$DEMO_TLS" = 1 ]; then
  ensure_demo_tls
  tour=tls
fi

tmp=$(mktemp -d)
UPSTREAMS_PID=""
GATEWAY_PID=""
cleanup() {
  stop_pid "$GATEWAY_PID"; GATEWAY_PID=""
  stop_pid "$UPSTREAMS_PID"; UPSTREAMS_PID=""
  rm -rf "$tmp"
}
stop_demo() {  # Ctrl-C: gatehouse drains (SIGTERM, waited for), then the upstreams stop
  trap '' INT TERM     # a second Ctrl-C must not cut the cleanup short
  echo
  echo "Stopping the demo."
  cleanup
  exit 0
}
trap cleanup EXIT
trap stop_demo INT TERM

if [ "$free" != 1 ]; then
  for port in ${DEMO_LISTEN##*:} "${DEMO_UPSTREAMS[@]##*=}"; do
    port_in_use "$port" && die "port $port is already in use (another 'make run'?); stop that first"
  done
fi
start_demo_upstreams "$tmp" "$free"
upstreams=()
for spec in "${DEMO_UPSTREAMS[@]}"; do upstreams+=("${spec%=*}=${PORT_MAP[${spec#*=}]}"); done
echo "Demo upstreams: ${upstreams[*]}  (examples/demo_upstreams.py)"

if [ "$tour" = tls ]; then
  cat <<EOT

gatehouse will listen on https://$DEMO_GW with the certificate in $DEMO_TLS_DIR/
(made by its demo CA, $DEMO_TLS_DIR/ca.pem). In another terminal, from $(pwd),
try the README's TLS tour (every other tour line works too, with https:// and --cacert):
EOT
else
  cat <<EOT

gatehouse will listen on $DEMO_GW. In another terminal, from $(pwd),
try the README's tour:
EOT
fi
last=""
while IFS=$'\t' read -r block line; do
  [ "$block" = "$last" ] || echo
  last=$block
  echo "  $(with_ports "$line")"
done < <(readme_tour_lines "$tour")

cat <<EOT

Starting: $GATEHOUSE_BIN run -c $DEMO_RUN_CONFIG   (Ctrl-C stops gatehouse and the upstreams)

EOT

"$GATEHOUSE_BIN" run -c "$DEMO_RUN_CONFIG" &
GATEWAY_PID=$!
status=0
wait "$GATEWAY_PID" || status=$?
GATEWAY_PID=""
exit "$status"
