# Developer entry points. `make run` and `make test` work on a fresh Debian 12 machine:
# every target that needs packages installs the missing ones first (scripts/install-deps.sh).
#
#   make deps       install missing Debian packages (apt-get; root or sudo)
#   make build      configure and build; the binary is build/gatehouse
#   make test       unit tests (ctest) and end-to-end tests (pytest); fails if either fails
#   make run        the demo: upstreams + gatehouse with examples/gatehouse.yaml
#   make run-check  the demo, non-interactive, asserting every request it prints
#   make sanitize   make test with ASan+UBSan, in build-asan/
#   make clean      remove the build directory
#
# Variables: BUILD_DIR (build), BUILD_TYPE (Release), CMAKE_ARGS (extra -D options).

BUILD_DIR  ?= build
BUILD_TYPE ?= Release
CMAKE_ARGS ?=
PYTHON     := /usr/bin/python3
JOBS       := $(shell nproc)

.PHONY: all deps build test test-unit test-e2e run run-check sanitize clean

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
	echo "== end-to-end tests (pytest)"; \
	GATEHOUSE_BIN=$(CURDIR)/$(BUILD_DIR)/gatehouse $(PYTHON) -m pytest -q tests/e2e || status=1; \
	exit $$status

test-unit: build
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j2

test-e2e: build
	GATEHOUSE_BIN=$(CURDIR)/$(BUILD_DIR)/gatehouse $(PYTHON) -m pytest -q tests/e2e

run: build
	GATEHOUSE_BIN=$(BUILD_DIR)/gatehouse bash scripts/run-demo.sh

run-check: build
	GATEHOUSE_BIN=$(BUILD_DIR)/gatehouse bash scripts/run-check.sh

sanitize:
	$(MAKE) test BUILD_DIR=build-asan BUILD_TYPE=RelWithDebInfo CMAKE_ARGS=-DGATEHOUSE_SANITIZE=ON

clean:
	rm -rf $(BUILD_DIR)
