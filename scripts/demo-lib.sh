# Shared by scripts/run-demo.sh (interactive) and scripts/run-check.sh (asserting):
# the demo's upstreams and ports, the README tour's command lines, the demo's JWT key
# and the helpers that start things. Source it from the repository root.

PYTHON=/usr/bin/python3                       # Debian's, never a pyenv shim
GATEHOUSE_BIN=${GATEHOUSE_BIN:-build/gatehouse}
DEMO_DIR=${DEMO_DIR:-$(dirname "$GATEHOUSE_BIN")}   # the build folder; the README says build/
DEMO_CONFIG=examples/gatehouse.yaml
DEMO_README=README.md
DEMO_LISTEN=127.0.0.1:8080                    # as in examples/gatehouse.yaml
DEMO_CONFIG_LISTEN=$DEMO_LISTEN
DEMO_UPSTREAMS=(users-v1=9001 users-v2/a=9002 users-v2/b=9005 orders=9003)
DEMO_SECRET_FILE=$DEMO_DIR/demo-secret
DEMO_TLS=${DEMO_TLS:-}                        # 1: the demo listens with TLS (make run TLS=1)
DEMO_TLS_DIR=$DEMO_DIR/demo-tls               # its CA and certificate, made on first use
DEMO_TLS_LISTEN=127.0.0.1:8443
if [ "$DEMO_TLS" = 1 ]; then DEMO_LISTEN=$DEMO_TLS_LISTEN; fi

die() { echo "$(basename "$0"): $*" >&2; exit 1; }

require_binary() {
  [ -x "$GATEHOUSE_BIN" ] || die "$GATEHOUSE_BIN not found: run 'make build' first"
}

# The README's tour: every line of the ```sh blocks that follow a `<!-- tour -->` line
# (`<!-- tour-tls -->` for `readme_tour_lines tls`: the TLS demo's),
# in order, as "BLOCK<TAB>LINE" (BLOCK counts from 1; lines continued with a trailing
# backslash are joined). Blank lines and whole-line comments are left out.
readme_tour_lines() {
  local marker="<!-- tour -->"
  [ "${1:-}" = tls ] && marker="<!-- tour-tls -->"
  awk -v marker="$marker" '
    $0 == marker || $0 ~ ("^" marker "[[:space:]]+$") { armed = 1; next }
    armed && /^```sh[[:space:]]*$/ { armed = 0; inblock = 1; block++; next }
    { armed = 0 }
    inblock && /^```/ { inblock = 0; next }
    inblock {
      line = pending $0; pending = ""
      if (line ~ /\\$/) { sub(/\\$/, "", line); pending = line; next }
      if (line ~ /^[[:space:]]*(#|$)/) next
      print block "\t" line
    }
  ' "$DEMO_README"
}

# The JWT key the demo config reads from GATEHOUSE_JWT_SECRET (HS256 wants >= 32 bytes).
# It is kept in build/demo-secret (mode 0600), so that the README's
# `export GATEHOUSE_JWT_SECRET=$(cat build/demo-secret)` works in any terminal and tokens
# stay valid across restarts. A GATEHOUSE_JWT_SECRET already set wins and is written there.
ensure_demo_secret() {
  mkdir -p "$DEMO_DIR"
  if [ -n "${GATEHOUSE_JWT_SECRET:-}" ]; then
    :
  elif [ -s "$DEMO_SECRET_FILE" ]; then
    GATEHOUSE_JWT_SECRET=$(cat "$DEMO_SECRET_FILE")
  else
    GATEHOUSE_JWT_SECRET=$(openssl rand -hex 32)
  fi
  export GATEHOUSE_JWT_SECRET
  if [ ! -s "$DEMO_SECRET_FILE" ] || [ "$(cat "$DEMO_SECRET_FILE")" != "$GATEHOUSE_JWT_SECRET" ]; then
    (umask 077 && printf '%s\n' "$GATEHOUSE_JWT_SECRET" >"$DEMO_SECRET_FILE.tmp")
    mv -f "$DEMO_SECRET_FILE.tmp" "$DEMO_SECRET_FILE"
  fi
  chmod 600 "$DEMO_SECRET_FILE"
}

free_port() {
  "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

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

# start_demo_upstreams DIR FREE: starts the demo upstreams, on the README's ports (FREE=0)
# or on free ones (FREE=1). Fills PORT_MAP (README port -> port in use), DEMO_RUN_CONFIG
# (the config gatehouse is to run: the demo's own, or a copy in DIR on the ports in use)
# and DEMO_GW (host:port gatehouse listens on).
declare -A PORT_MAP=()
PORT_SED=(-e '')
start_demo_upstreams() {
  local dir=$1 free=$2 spec name port actual specs=()
  for spec in "${DEMO_UPSTREAMS[@]}"; do
    if [ "$free" = 1 ]; then specs+=("${spec%=*}=0"); else specs+=("$spec"); fi
  done
  start_upstreams "$dir/upstreams.out" "${specs[@]}"
  for spec in "${DEMO_UPSTREAMS[@]}"; do
    name=${spec%=*} port=${spec#*=}
    actual=$(awk -v n="$name" '$1 == "listening" && $2 == n {print $4}' "$dir/upstreams.out")
    PORT_MAP[$port]=$actual
  done
  if [ "$free" = 1 ]; then PORT_MAP[${DEMO_LISTEN##*:}]=$(free_port); else
    PORT_MAP[${DEMO_LISTEN##*:}]=${DEMO_LISTEN##*:}; fi
  DEMO_GW=127.0.0.1:${PORT_MAP[${DEMO_LISTEN##*:}]}
  PORT_SED=(-e "")
  for port in "${!PORT_MAP[@]}"; do
    [ "$port" = "${PORT_MAP[$port]}" ] ||
      PORT_SED+=(-e "s/(localhost|127\\.0\\.0\\.1):$port\\b/\\1:${PORT_MAP[$port]}/g")
  done
  DEMO_RUN_CONFIG=$DEMO_CONFIG
  if [ "$free" = 1 ] || [ "$DEMO_TLS" = 1 ]; then
    DEMO_RUN_CONFIG=$dir/gatehouse.yaml
    if [ "$DEMO_TLS" = 1 ]; then
      # The demo config on the TLS port, with a `tls` section for the demo certificate.
      sed -E "s/^listen: ${DEMO_CONFIG_LISTEN}\b/listen: ${DEMO_TLS_LISTEN}/" "$DEMO_CONFIG" |
        sed -E "${PORT_SED[@]}" >"$DEMO_RUN_CONFIG"
      printf '\ntls:\n  cert_file: %s\n  key_file: %s\n' \
        "$(realpath "$DEMO_TLS_DIR/server.crt")" "$(realpath "$DEMO_TLS_DIR/server.key")" \
        >>"$DEMO_RUN_CONFIG"
    else
      sed -E "${PORT_SED[@]}" "$DEMO_CONFIG" >"$DEMO_RUN_CONFIG"
    fi
  fi
}

# The TLS demo's CA (build/demo-tls/ca.pem, for `curl --cacert`) and its server
# certificate for localhost and 127.0.0.1, made with the openssl CLI on first use and
# again when the certificate expires within 7 days. Keys are mode 0600.
ensure_demo_tls() {
  local d=$DEMO_TLS_DIR
  if [ -s "$d/ca.pem" ] && [ -s "$d/server.key" ] &&
     openssl x509 -checkend 604800 -noout -in "$d/server.crt" >/dev/null 2>&1; then
    return 0
  fi
  mkdir -p "$d"
  (
    umask 077
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 \
      -subj "/CN=gatehouse demo CA" -keyout "$d/ca.key" -out "$d/ca.pem" 2>/dev/null
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
      -subj "/CN=localhost" -keyout "$d/server.key" -out "$d/server.csr" 2>/dev/null
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' \
      >"$d/server.ext"
    openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -days 90 \
      -set_serial "0x$(openssl rand -hex 8)" -extfile "$d/server.ext" -out "$d/server.crt" 2>/dev/null
    rm -f "$d/server.csr" "$d/server.ext"
  ) || die "could not make the demo certificate in $d"
  chmod 644 "$d/ca.pem" "$d/server.crt"
}

# with_ports LINE: LINE with the README's ports (localhost:8080, 127.0.0.1:9003, ...)
# replaced by the ones in use, and build/ by the build folder in use.
with_ports() {
  local line=$1
  line=$(sed -E "${PORT_SED[@]}" <<<"$line")
  if [ "$DEMO_DIR" != build ]; then
    line=$(sed -E "s#(^|[[:space:]\"'=(])build/#\\1$DEMO_DIR/#g" <<<"$line")
  fi
  printf '%s\n' "$line"
}

stop_pid() {  # stop_pid PID: SIGTERM, then wait for it
  local pid=$1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# The broken copy of the demo config that the README's "A config error" feeds to
# `gatehouse check`.
demo_broken_config() {
  sed -e 's/version: v2/version: v1/' -e 's/max_body:/max_bdy:/' \
      -e 's|http://127.0.0.1:9003|ftp://127.0.0.1:9003|' "$DEMO_CONFIG"
}
