#!/usr/bin/env bash
# `make fuzz` and the fuzzing part of `make test`: builds the libFuzzer targets of
# tests/fuzz/ with clang-14 under ASan+UBSan in build-fuzz/ and runs each for
# FUZZ_SECONDS over its seed corpus tests/fuzz/corpus/<name>/, FUZZ_JOBS at a time.
# New inputs go to a temporary directory (or FUZZ_CORPUS_DIR/<name>), so the checked-in
# corpus is never modified.
#
# Prints one line per fuzzer (executions, exec/s, coverage, corpus); on a crash, a leak,
# a sanitizer report, a timeout or a violated property it prints the report with its
# symbolised stack and the reproducer's path, and the script exits non-zero.
#
# Targets: jwt (auth/ verifier), request (http/ request head + chunked body), response
# (upstream response head + relay framing), config (config/ loader), path (router/
# normalisation against an RFC 3986 reference). See docs/security.md, "Fuzzing".
#
# Variables: FUZZ_SECONDS (30), FUZZ_TARGETS (all; e.g. "request path"), FUZZ_JOBS (2),
#            FUZZ_BUILD_DIR (build-fuzz), FUZZ_ARTIFACTS (build-fuzz/artifacts),
#            FUZZ_CORPUS_DIR (keep new inputs there), FUZZ_NICE (0), FUZZ_ARGS (extra
#            libFuzzer flags).
set -euo pipefail
cd "$(dirname "$0")/.."

all_targets=(jwt request response config path)
seconds=${FUZZ_SECONDS:-30}
jobs=${FUZZ_JOBS:-2}
build_dir=${FUZZ_BUILD_DIR:-build-fuzz}
artifacts=${FUZZ_ARTIFACTS:-$build_dir/artifacts}
read -r -a targets <<< "${FUZZ_TARGETS:-${all_targets[*]}}"
targets=(${targets[@]//,/ })
for t in "${targets[@]}"; do
  [[ " ${all_targets[*]} " == *" $t "* ]] || {
    echo "fuzz: unknown target '$t' (known: ${all_targets[*]})" >&2; exit 2; }
done

# Per target: the largest input worth trying (beyond it inputs only get slower).
max_len() {
  case $1 in
    jwt) echo 10000 ;; request) echo 4096 ;; response) echo 8192 ;;
    config) echo 16384 ;; path) echo 1024 ;;
  esac
}

GATEHOUSE_FUZZ_DEPS=1 bash scripts/install-deps.sh

# Crash stacks with function names and lines (llvm-14's symbolizer).
export PATH=/usr/lib/llvm-14/bin:$PATH
export ASAN_SYMBOLIZER_PATH=/usr/lib/llvm-14/bin/llvm-symbolizer
[ -x "$ASAN_SYMBOLIZER_PATH" ] || { echo "fuzz: $ASAN_SYMBOLIZER_PATH missing (llvm-14)" >&2; exit 1; }
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

logs=$build_dir/fuzz-logs
mkdir -p "$build_dir" "$artifacts" "$logs"
start=$(date +%s)
if ! cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
     -DCMAKE_CXX_COMPILER=clang++-14 -DGATEHOUSE_FUZZ=ON -DGATEHOUSE_TESTS=OFF \
     > "$logs/build.log" 2>&1 ||
   ! cmake --build "$build_dir" -j"$(nproc)" --target "${targets[@]/%/_fuzz}" \
     >> "$logs/build.log" 2>&1; then
  tail -50 "$logs/build.log" >&2
  echo "fuzz: build failed (full log: $logs/build.log)" >&2
  exit 1
fi
echo "fuzz: built ${targets[*]} in $(( $(date +%s) - start ))s; ${seconds}s each, $jobs at a time"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Runs one fuzzer; prints its summary line, or its report when it failed.
run_one() {
  local name=$1 log="$logs/$1.log" corpus
  if [ -n "${FUZZ_CORPUS_DIR:-}" ]; then corpus=$FUZZ_CORPUS_DIR/$name; else corpus=$tmp/$name; fi
  mkdir -p "$corpus"
  local t0 rc=0
  t0=$(date +%s)
  # -timeout bounds each input (a hang is a failure); -rss_limit_mb the memory.
  nice -n "${FUZZ_NICE:-0}" "$build_dir/${name}_fuzz" -max_total_time="$seconds" \
    -max_len="$(max_len "$name")" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$artifacts/$name-" ${FUZZ_ARGS:-} "$corpus" "tests/fuzz/corpus/$name" \
    > "$log" 2>&1 || rc=$?
  local took=$(( $(date +%s) - t0 ))
  if [ "$rc" -eq 0 ]; then
    # "#N DONE cov: C ft: F corp: K/SIZE ..." and the final stats.
    local done_line execs rate cov ft corp
    done_line=$(grep -aE '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1 || true)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<< "$done_line")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<< "$done_line")
    corp=$(sed -n 's/.* corp: \([^ ]*\).*/\1/p' <<< "$done_line")
    printf 'fuzz: %-8s ok  %10s execs %7s/s  cov %5s  ft %6s  corpus %s (%ss)\n' \
      "$name" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$took"
    return 0
  fi
  local repro
  repro=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
  {
    echo "fuzz: $name FAILED after ${took}s (libFuzzer exit $rc); full log: $log"
    # The report without the progress lines and the dictionary.
    grep -av -e '^#[0-9]' -e '^INFO:' -e '^"' -e 'NEW_FUNC' -e 'ecommended dictionary' "$log" | head -150
    if [ -n "$repro" ]; then
      echo "fuzz: $name reproducer: $repro"
      echo "fuzz: replay with: $build_dir/${name}_fuzz $repro"
    fi
  } >&2
  return 1
}

# FUZZ_JOBS at a time: more would only share the same cores.
running=0
for t in "${targets[@]}"; do
  if [ "$running" -ge "$jobs" ]; then wait -n || true; running=$((running - 1)); fi
  ( run_one "$t" || touch "$tmp/failed-$t" ) &
  running=$((running + 1))
done
wait

failed=$(cd "$tmp" && ls failed-* 2>/dev/null | sed 's/^failed-//' | tr '\n' ' ' || true)
if [ -n "$failed" ]; then
  echo "fuzz: FAILED: $failed" >&2
  exit 1
fi
echo "fuzz: ${#targets[@]} fuzzers, no crash in ${seconds}s each"
