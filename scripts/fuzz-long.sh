#!/usr/bin/env bash
# The long fuzz run recorded in docs/benchmarks.md ("Fuzzing"): every target of fuzz/ for
# SECONDS each (default 300), one at a time (libFuzzer with one worker: one core), continuing
# from the corpora earlier runs left in fuzz/corpus/. Prints one Markdown table row per target
# and stops at the first crash, failed assertion, timeout or memory blow-up (2 GiB), whose input
# libFuzzer saves under fuzz/artifacts/<target>/.
#
#   scripts/fuzz-long.sh [SECONDS [TARGET...]]   (default: every target)
set -euo pipefail
seconds=${1:-300}
shift || true
cd "$(dirname "$0")/../fuzz"
command -v cargo-fuzz >/dev/null 2>&1 || cargo install --locked --quiet cargo-fuzz@0.13.2
# cargo-fuzz passes nightly-only flags; RUSTC_BOOTSTRAP=1 lets the stable toolchain take them.
export RUSTC_BOOTSTRAP=1
cargo fuzz build -s none --release
echo "| Target | Seconds | Executions | Coverage (edges) | Corpus (inputs) |"
echo "|---|---|---|---|---|"
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo fuzz list)
for target in "${targets[@]}"; do
  log=$(mktemp)
  if ! cargo fuzz run "$target" -s none --release -- \
      -max_total_time="$seconds" -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
    tail -40 "$log"
    echo "fuzz target $target failed (its input is in fuzz/artifacts/$target)" >&2
    exit 1
  fi
  runs=$(grep -oE "^Done [0-9]+ runs" "$log" | grep -oE "[0-9]+" || echo "?")
  coverage=$(grep -oE "cov: [0-9]+" "$log" | tail -1 | grep -oE "[0-9]+" || echo "?")
  corpus=$(find "corpus/$target" -type f | wc -l)
  echo "| $target | $seconds | $runs | $coverage | $corpus |"
  rm -f "$log"
done
