#!/usr/bin/env bash
# Installs every Debian package that the build, the tests and the demo need.
# Only what is missing is installed: one `apt-get update` and one `apt-get install`.
set -euo pipefail

packages=(
  # build
  g++ cmake ninja-build pkg-config make
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libboost-stacktrace1.81-dev libssl-dev libyaml-cpp-dev libspdlog-dev libcli11-dev
  # tests
  libgtest-dev libgmock-dev libbenchmark-dev
  python3 python3-pytest python3-jwt python3-cryptography python3-yaml python3-requests
  python3-websockets        # tests/e2e/test_websocket.py: a real WebSocket client and server
  systemd                   # systemd-analyze verify of deploy/systemd/gatehouse.service
  testssl.sh                # tests/e2e/test_tls_scan.py: a peer's scan of the TLS listener
  strace                    # tests/e2e/test_tls_listener.py: system calls of a new connection
  prometheus   # promtool: tests/e2e/test_metrics.py checks the /metrics output with it
  # demo and tools used by the README tour
  curl ca-certificates openssl procps
  # deploy/ checks (tests/deploy, tests/e2e/test_monitoring.py): promtool, amtool, a real
  # Prometheus and Alertmanager, `docker-compose config`
  prometheus prometheus-alertmanager docker-compose
  # tests/e2e/test_scale_out.py: one network namespace per replica (ip; unshare and
  # nsenter are util-linux, always there)
  iproute2
  # tests/browser: the status page in a real browser (playwright-core drives it; the
  # browser comes from Debian, never downloaded); fonts so text has a size to measure
  chromium fonts-dejavu-core
  # tests/e2e/test_rate_limit_shared.py: a real Redis (started by the test on a free
  # loopback port, TLS included), never the system service
  redis-server
)
# `kubectl kustomize` renders deploy/k8s: the kubectl on PATH if there is one, else
# Debian's (the two conflict: never install one over the other).
if ! command -v kubectl >/dev/null 2>&1; then
  packages+=(kubernetes-client)
fi
# deploy/tools (npm ci): the machine's Node 20 + npm if present, else Debian's.
if ! command -v npm >/dev/null 2>&1; then
  packages+=(nodejs npm)
fi
if [ "${GATEHOUSE_IMAGE_DEPS:-0}" = 1 ]; then
  # make test-image (deploy/test-image.sh): build and run the image and the compose
  # stack with no registry (SPEC 11.1); netavark needs iptables
  packages+=(podman runc debootstrap netavark aardvark-dns iptables catatonit uidmap)
fi
if [ "${GATEHOUSE_BENCH_DEPS:-0}" = 1 ]; then
  # valgrind: bench/instructions.py; python3-matplotlib: bench/soak.py's plot.
  # python3-munkres: matplotlib's python3-fonttools takes it or python3-scipy, whose
  # python3-pythran pulls libboost-dev (1.74), which conflicts with the build's
  # libboost1.81-dev; without it the resolver gives up.
  packages+=(nginx-light haproxy wrk util-linux valgrind python3-munkres python3-matplotlib)
fi
if [ "${GATEHOUSE_FUZZ_DEPS:-0}" = 1 ]; then
  # libFuzzer + ASan/UBSan runtimes, and llvm-symbolizer for readable crash stacks
  packages+=(clang-14 libclang-rt-14-dev llvm-14)
fi

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
