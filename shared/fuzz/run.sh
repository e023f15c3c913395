#!/usr/bin/env bash
# Fuzzes the subtitle reader for a bounded time (first argument, seconds; 60 by default) when a
# nightly toolchain is installed, and says it skipped otherwise: libFuzzer's instrumentation needs
# nightly flags. The flags are those cargo-fuzz passes, so nothing has to be installed; seeds are
# the project's own fixtures. A crash fails the run and leaves its input in
# $CARGO_TARGET_DIR/fuzz-artifacts/.
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-60}"
if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  echo "fuzz: skipped, no nightly toolchain (rustup toolchain install nightly to run it)"
  exit 0
fi
host="$(rustup run nightly rustc -vV | sed -n 's/^host: //p')"
target_dir="${CARGO_TARGET_DIR:-target}/fuzz"
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Zsanitizer=address \
-Cdebug-assertions -Coverflow-checks"
# --target keeps build scripts and proc macros uninstrumented.
cargo +nightly build --quiet --release --locked --target "$host" --target-dir "$target_dir" \
  --bin parse_subtitle
corpus="$target_dir/corpus/parse_subtitle"
artifacts="$target_dir/artifacts/parse_subtitle/"
mkdir -p "$corpus" "$artifacts"
cp ../../tests/fixtures/corpus/*.srt ../../tests/fixtures/bad/*.srt "$corpus/"
log="$target_dir/parse_subtitle.log"
if "$target_dir/$host/release/parse_subtitle" "$corpus" -artifact_prefix="$artifacts" \
  -max_total_time="$seconds" -max_len=65536 -seed=1 -print_final_stats=1 >"$log" 2>&1; then
  tail -n 8 "$log"
  echo "fuzz: parse_subtitle ran ${seconds} s without a failure"
else
  cat "$log"
  echo "fuzz: parse_subtitle failed; the input is under $artifacts"
  exit 1
fi
