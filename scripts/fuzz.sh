#!/usr/bin/env bash
# `make fuzz`: builds the libFuzzer target for the JWT parser/verifier (tests/fuzz/
# jwt_fuzz.cpp) with clang-14 under ASan+UBSan in build-fuzz/, and runs it for
# FUZZ_SECONDS (default 60) over the seed corpus tests/fuzz/corpus/jwt. New inputs go to a
# temporary directory, so the checked-in corpus is never modified. Exits non-zero on a
# crash, a leak, a sanitizer report or a timeout (libFuzzer writes the reproducer as
# crash-*/leak-*/timeout-* in FUZZ_ARTIFACTS, default build-fuzz/artifacts/).
#
# Variables: FUZZ_SECONDS (60), FUZZ_BUILD_DIR (build-fuzz), FUZZ_ARTIFACTS
#            (build-fuzz/artifacts), FUZZ_ARGS (extra libFuzzer flags).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-60}
build_dir=${FUZZ_BUILD_DIR:-build-fuzz}
artifacts=${FUZZ_ARTIFACTS:-$build_dir/artifacts}
seeds=tests/fuzz/corpus/jwt

GATEHOUSE_FUZZ_DEPS=1 bash scripts/install-deps.sh

start=$(date +%s)
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER=clang++-14 -DGATEHOUSE_FUZZ=ON -DGATEHOUSE_TESTS=OFF
cmake --build "$build_dir" -j"$(nproc)" --target jwt_fuzz
echo "fuzz: build of $build_dir/jwt_fuzz took $(( $(date +%s) - start ))s" >&2

corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
mkdir -p "$artifacts"

echo "fuzz: running jwt_fuzz for ${seconds}s (seeds: $seeds)" >&2
# libFuzzer exits non-zero on a crash, a sanitizer error (-fno-sanitize-recover), a leak
# or a timeout; set -e turns that into the script's status.
"$build_dir/jwt_fuzz" -max_total_time="$seconds" -max_len=10000 -timeout=10 \
  -artifact_prefix="$artifacts/" ${FUZZ_ARGS:-} "$corpus" "$seeds"
echo "fuzz: no crash in ${seconds}s" >&2
