#!/usr/bin/env bash
# Subtitle reading throughput, Hawkins against the Python baseline, on one core.
#
#   shared/benches/parse_vs_python.sh [CORPUS_DIR] [ITERATIONS] [ROUNDS]
#
# Python: the `srt` package (pinned below) parses, and reference_srt.py cleans with regexes that
# follow the same rules as hawkins::clean. Rust: examples/parse_throughput.rs, built with the
# release profile the functions ship (hawkins-shared is opt-level 3 there). Both decode, parse and
# clean every file from bytes in memory, on the same core, and report the sum of each file's best
# time (see the example's docs). The two take turns ROUNDS times, so that a change in the
# machine's load hits both, and each side's fastest round counts. The comparison refuses to print
# a ratio unless both read the same bytes and cleaned them into the same lines (same digest).
# The virtualenv lives under the target directory and is reused while it has the pinned version.
set -euo pipefail

SRT_VERSION=3.5.3
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
corpus=${1:-$root/../shared/corpus/subtitles}
iterations=${2:-30}
rounds=${3:-3}
target=${CARGO_TARGET_DIR:-$root/target}
venv=$target/bench-venv

if [ ! -d "$corpus" ]; then
    echo "no subtitle corpus at $corpus: nothing to compare" >&2
    exit 0
fi

if ! "$venv/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('srt') != '$SRT_VERSION')" 2>/dev/null; then
    echo "setting up $venv (srt==$SRT_VERSION)" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "srt==$SRT_VERSION"
fi

echo "building the Rust reader (release profile)" >&2
cargo build --quiet --manifest-path "$root/Cargo.toml" --release -p hawkins-shared --example parse_throughput
rust_bin=$target/release/examples/parse_throughput

# One core, one side at a time. Python passes take ~50x longer, so it gets fewer of them.
pin=()
if command -v taskset >/dev/null; then pin=(taskset -c 0); fi
python_runs=()
rust_runs=()
for round in $(seq "$rounds"); do
    echo "round $round of $rounds" >&2
    python_runs+=("$("${pin[@]}" "$venv/bin/python" "$root/shared/benches/reference_srt.py" "$corpus" --iterations "$(( (iterations + 5) / 6 ))")")
    rust_runs+=("$("${pin[@]}" "$rust_bin" "$corpus" "$iterations")")
done

python3 - "${#python_runs[@]}" "${python_runs[@]}" "${rust_runs[@]}" <<'PY'
import json, sys
n = int(sys.argv[1])
runs = [json.loads(r) for r in sys.argv[2:]]
py_runs, rs_runs = runs[:n], runs[n:]
py = max(py_runs, key=lambda r: r["mb_per_s"])
rs = max(rs_runs, key=lambda r: r["mb_per_s"])
for field in ("files", "bytes", "cues", "lines", "digest"):
    if py[field] != rs[field]:
        sys.exit(f"python and rust differ in {field}: {py[field]} vs {rs[field]}; no ratio")
print(f"corpus: {rs['files']} files, {rs['bytes'] / 1e6:.2f} MB, {rs['cues']} cues, {rs['lines']} lines (same digest on both sides)")
for name, side, all_runs in (("python", py, py_runs), ("rust", rs, rs_runs)):
    rounds = " ".join(f"{r['mb_per_s']:.1f}" for r in all_runs)
    print(f"{name:6}: {side['mb_per_s']:8.1f} MB/s  sum of file bests {side['best_s'] * 1e3:8.2f} ms"
          f"  best pass {side['pass_best_s'] * 1e3:8.2f} ms  (rounds: {rounds} MB/s)")
print(f"python: {py['reference']}")
print(f"rust / python: {rs['mb_per_s'] / py['mb_per_s']:.1f}x")
PY
