#!/usr/bin/env bash
# Peak memory of one ingest invocation on the largest corpus episode, with the whole corpus
# (34 episodes + 34 transcripts) already in the store, so the corpus rebuild reads everything —
# the worst case the 128 MB Lambda meets. Runs the same code as the Lambda over a folder instead
# of S3 (the SDK clients add a few MB on top in the function itself).
#
# Usage: bash shared/benches/ingest_memory.sh [corpus-dir]   (default: ../shared/corpus)
set -euo pipefail
cd "$(dirname "$0")/../.."
corpus="${1:-../shared/corpus}"
[ -d "$corpus/subtitles" ] || { echo "no corpus at $corpus: pass its folder"; exit 1; }
cargo build -q --release -p hawkins-shared --example ingest_once
bin="${CARGO_TARGET_DIR:-target}/release/examples/ingest_once"
store="$(mktemp -d)"
trap 'rm -rf "$store"' EXIT
"$bin" "$store" "$corpus"/subtitles/*.srt "$corpus"/transcripts/*.csv >/dev/null
largest="$(ls -S "$corpus"/subtitles/*.srt | head -1)"
# A changed copy of the largest episode, so the invocation really processes and rebuilds.
changed="$store-$(basename "$largest")"
{ cat "$largest"; printf '\r\n9999\r\n05:00:00,000 --> 05:00:01,000\r\nMIKE: One more line.\r\n'; } > "$changed"
out="$( { /usr/bin/time -v "$bin" "$store" "$changed" >/dev/null; } 2>&1 )"
rm -f "$changed"
kb="$(echo "$out" | awk -F: '/Maximum resident set size/ {gsub(/ /,"",$2); print $2}')"
secs="$(echo "$out" | awk -F': ' '/Elapsed \(wall clock\)/ {print $2}')"
echo "largest episode: $(basename "$largest") ($(stat -c %s "$largest") bytes)"
echo "one ingest invocation (process + rebuild of 68 sources): peak RSS $((kb / 1024)) MB, wall $secs"
echo "Lambda memory setting: 128 MB"
