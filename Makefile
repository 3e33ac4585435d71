# Developer entry points. `make run` and `make test` work on a fresh Debian 12 machine:
# every target that needs packages installs the missing ones first (scripts/install-deps.sh).
#
#   make deps       install missing Debian packages (apt-get; root or sudo)
#   make build      configure and build; the binary is build/gatehouse
#   make test       unit tests (ctest), end-to-end tests (pytest, the live Prometheus
#                   monitoring test included), the browser tests, deploy/ checks; fails
#                   if any fails
#   make test-browser  the status page in Debian's chromium (tests/browser, playwright-core)
#   make test-deploy  deploy/ checks alone: alert rules (promtool), Alertmanager (amtool),
#                   dashboard schema, kustomize renders + Kubernetes schemas, workflows
#   make test-image build the image with podman and run it, and bring the compose stack
#                   up (deploy/test-image.sh; CI runs it after make test)
#   make run        the demo: upstreams + gatehouse with examples/gatehouse.yaml
#                   (TLS=1: over HTTPS on 8443, with a certificate it makes)
#   make run-check  the README's tour, unattended: runs its command lines, asserts each answer
#   make install    binary, example config, docs, systemd unit into $(DESTDIR)$(PREFIX)
#   make sanitize   make test with ASan+UBSan, in build-asan/
#   make bench      side-by-side benchmark against nginx and HAProxy (bench/README.md)
#   make soak       30-minute soak: steady load, reloads, breaker trips, aborting clients;
#                   RSS, fds and p99 must stay flat (bench/soak.py; not in CI)
#   make fuzz       the libFuzzer targets of tests/fuzz/ under ASan+UBSan (clang-14), in build-fuzz/
#   make clean      remove the build directory
#
# Variables: BUILD_DIR (build), BUILD_TYPE (Release), CMAKE_ARGS (extra -D options),
#            BENCH_ARGS (options of bench/proxy.py, e.g. BENCH_ARGS=--quick),
#            SOAK_ARGS (options of bench/soak.py, e.g. SOAK_ARGS="--duration 120"),
#            FUZZ_SECONDS (seconds per fuzzer: 30 in `make test`, 300 in `make fuzz`),
#            FUZZ_TARGETS (some of: jwt request response config path; default all),
#            PREFIX (/usr/local) and DESTDIR (staging root) for `make install`,
#            TLS (1: `make run` serves HTTPS).

BUILD_DIR  ?= build
BUILD_TYPE ?= Release
CMAKE_ARGS ?=
PYTHON     := /usr/bin/python3
JOBS       := $(shell nproc)
BENCH_ARGS ?=
SOAK_ARGS  ?=
PREFIX     ?= /usr/local
DESTDIR    ?=
TLS        ?=

.PHONY: all deps build test test-tsan test-unit test-e2e test-browser test-deploy test-image run run-check install sanitize bench soak fuzz clean

all: build

deps:
	bash scripts/install-deps.sh

build: deps
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_ARGS)
	cmake --build $(BUILD_DIR) -j$(JOBS)
	@test -x $(BUILD_DIR)/gatehouse || { echo "make: no $(BUILD_DIR)/gatehouse after the build" >&2; exit 1; }

# Both suites run even if the first fails, so one CI run shows every failure.
test: build
	@status=0; \
	echo "== unit tests (ctest)"; \
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j2 || status=1; \
	echo "== breaker concurrency tests under ThreadSanitizer"; \
	$(MAKE) --no-print-directory test-tsan || status=1; \
	echo "== end-to-end tests (pytest)"; \
	GATEHOUSE_BIN=$(CURDIR)/$(BUILD_DIR)/gatehouse $(PYTHON) -m pytest -q tests/e2e || status=1; \
	echo "== status page in a real browser (chromium, playwright-core)"; \
	$(MAKE) --no-print-directory test-browser || status=1; \
	echo "== fuzzing (libFuzzer, ASan+UBSan, $${FUZZ_SECONDS:-30} s per fuzzer, two at a time)"; \
	FUZZ_SECONDS=$${FUZZ_SECONDS:-30} bash scripts/fuzz.sh || status=1; \
	echo "== deploy/ checks (rules, dashboard, manifests, workflows)"; \
	$(MAKE) --no-print-directory test-deploy || status=1; \
	exit $$status

# Offline checks of deploy/ and .github/; the npm checkers go to deploy/tools/node_modules.
test-deploy: build
	bash deploy/tools/install.sh
	GATEHOUSE_BIN=$(CURDIR)/$(BUILD_DIR)/gatehouse $(PYTHON) -m pytest -q tests/deploy

# The status page in Debian's chromium, driven by playwright-core from
# tests/browser/node_modules (installed from the committed lock file); screenshots go to
# tests/browser/artifacts/.
test-browser: build
	bash tests/browser/install.sh
	GATEHOUSE_BIN=$(CURDIR)/$(BUILD_DIR)/gatehouse node --test tests/browser/dashboard.test.mjs

# The real image, built and run with podman (SPEC 11.1), and the compose stack brought
# up; slow (minutes), so not part of `make test`.
test-image: build
	GATEHOUSE_IMAGE_DEPS=1 bash scripts/install-deps.sh
	GATEHOUSE_BIN=$(CURDIR)/$(BUILD_DIR)/gatehouse bash deploy/test-image.sh

# The shared-state tests (breaker admission under contention) built with TSan.
test-tsan:
	cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGATEHOUSE_TSAN=ON
	cmake --build build-tsan -j$(JOBS) --target unit_health unit_balance
	TSAN_OPTIONS=halt_on_error=1 build-tsan/unit_health --gtest_filter='BreakerConcurrency.*:EndpointState*'
	TSAN_OPTIONS=halt_on_error=1 build-tsan/unit_balance --gtest_filter='*Concurrent*'

test-unit: build
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j2

test-e2e: build
	GATEHOUSE_BIN=$(CURDIR)/$(BUILD_DIR)/gatehouse $(PYTHON) -m pytest -q tests/e2e

run: build
	GATEHOUSE_BIN=$(BUILD_DIR)/gatehouse DEMO_TLS=$(TLS) bash scripts/run-demo.sh

run-check: build
	GATEHOUSE_BIN=$(BUILD_DIR)/gatehouse bash scripts/run-check.sh

# PREFIX/bin/gatehouse, PREFIX/share/doc/gatehouse/ (docs, examples/gatehouse.yaml),
# PREFIX/lib/systemd/system/gatehouse.service and PREFIX/lib/sysusers.d/gatehouse.conf,
# all under DESTDIR when set (packaging: make install PREFIX=/usr DESTDIR=/tmp/stage).
install: build
	DESTDIR="$(DESTDIR)" cmake --install $(BUILD_DIR) --prefix "$(PREFIX)"

# Unit and end-to-end suites against an ASan+UBSan build (CI runs it after make test).
sanitize: deps
	cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGATEHOUSE_SANITIZE=ON
	cmake --build build-asan -j$(JOBS)
	@status=0; \
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  ctest --test-dir build-asan --output-on-failure -j2 || status=1; \
	ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  GATEHOUSE_BIN=$(CURDIR)/build-asan/gatehouse $(PYTHON) -m pytest -q tests/e2e || status=1; \
	exit $$status

# Always a Release build, with the Google Benchmark micro benchmarks (bench/micro/) when
# there are any; their output lands next to the proxy report in bench/results/.
bench:
	GATEHOUSE_BENCH_DEPS=1 bash scripts/install-deps.sh
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release -DGATEHOUSE_BENCH=ON $(CMAKE_ARGS)
	cmake --build $(BUILD_DIR) -j$(JOBS)
	$(PYTHON) bench/proxy.py --gatehouse $(BUILD_DIR)/gatehouse $(BENCH_ARGS)
	$(PYTHON) bench/instructions.py --gatehouse $(BUILD_DIR)/gatehouse --features --tls --bodies small,big,huge
	@if [ -x $(BUILD_DIR)/micro_bench ]; then \
	  echo "== micro benchmarks (bench/results/micro.txt)"; \
	  mkdir -p bench/results; \
	  taskset -c 1 $(BUILD_DIR)/micro_bench > bench/results/micro.txt; status=$$?; \
	  cat bench/results/micro.txt; exit $$status; \
	else echo "== no $(BUILD_DIR)/micro_bench (no sources in bench/micro/ yet)"; fi

# Always a Release build. Writes bench/results/soak.csv, soak.png and soak.txt; fails
# unless RSS, fds and p99 stayed flat with no error (criteria in bench/README.md).
soak:
	GATEHOUSE_BENCH_DEPS=1 bash scripts/install-deps.sh
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_ARGS)
	cmake --build $(BUILD_DIR) -j$(JOBS) --target gatehouse
	$(PYTHON) bench/soak.py --gatehouse $(BUILD_DIR)/gatehouse $(SOAK_ARGS)

# Builds the fuzzers of tests/fuzz/ with clang-14 (ASan+UBSan) and runs each over its
# seed corpus for FUZZ_SECONDS (default 300), two at a time; one summary line per
# fuzzer, and the report, stack and reproducer of any crash or violated property.
fuzz:
	FUZZ_SECONDS=$${FUZZ_SECONDS:-300} bash scripts/fuzz.sh

clean:
	rm -rf $(BUILD_DIR)
