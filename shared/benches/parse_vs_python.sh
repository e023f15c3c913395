#!/usr/bin/env bash
# Subtitle reading throughput, Hawkins against the Python baseline, on one core.
#
#   shared/benches/parse_vs_python.sh [CORPUS_DIR] [ITERATIONS]
#
# Python: the `srt` package (pinned below) parses, and reference_srt.py cleans with regexes that
# follow the same rules as hawkins::clean. Rust: examples/parse_throughput.rs, built with the
# bench profile (opt-level 3, as criterion's `cargo bench --bench parse`). Both decode, parse and
# clean every file, text in memory, and report their best iteration. The virtualenv lives under
# target/ and is reused while it has the pinned version.
set -euo pipefail

SRT_VERSION=3.5.3
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
corpus=${1:-$root/../shared/corpus/subtitles}
iterations=${2:-20}
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

echo "building the Rust reader (bench profile)" >&2
cargo build --quiet --manifest-path "$root/Cargo.toml" --profile bench -p hawkins-shared --example parse_throughput
rust_bin=$target/release/examples/parse_throughput

# One core each, one after the other.
pin=()
if command -v taskset >/dev/null; then pin=(taskset -c 0); fi
python_json=$("${pin[@]}" "$venv/bin/python" "$root/shared/benches/reference_srt.py" "$corpus" --iterations "$(( (iterations + 3) / 4 ))")
rust_json=$("${pin[@]}" "$rust_bin" "$corpus" "$iterations")

python3 - "$python_json" "$rust_json" <<'PY'
import json, sys
py, rs = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"corpus: {rs['files']} files, {rs['bytes'] / 1e6:.2f} MB, {rs['cues']} cues")
print(f"python ({py['reference']}): {py['mb_per_s']:8.1f} MB/s  best {py['best_s'] * 1e3:8.1f} ms  {py['lines']} lines")
print(f"rust (hawkins decode+parse+clean): {rs['mb_per_s']:8.1f} MB/s  best {rs['best_s'] * 1e3:8.1f} ms  {rs['lines']} lines")
print(f"rust / python: {rs['mb_per_s'] / py['mb_per_s']:.1f}x")
PY
