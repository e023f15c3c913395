#!/usr/bin/env bash
# Ingest at scale: for 68, 680 and 2,720 sources made from the corpus (each copy a new "season"
# with its own lines), the cost of one more upload (time, peak RSS, requests to the bucket) and
# of the corpus build the train function runs once uploads settle (time, peak RSS). Each step
# runs in its own process over a folder standing in for the bucket: the Lambdas' code without
# the SDK, which adds a few MB on top in the functions themselves.
#
# Bars: per-upload peak RSS flat (within 10%) across sizes; corpus build at 2,720 sources within
# 128 MB. The reference each ratio names is the 68-source run.
#
# Usage: bash shared/benches/ingest_scale.sh [corpus-dir]   (default: ../shared/corpus)
set -euo pipefail
cd "$(dirname "$0")/../.."
corpus="${1:-../shared/corpus}"
[ -d "$corpus/subtitles" ] || { echo "no corpus at $corpus: pass its folder"; exit 1; }
cargo build -q --release -p hawkins-shared --features fakes --example ingest_scale
bin="$(realpath "${CARGO_TARGET_DIR:-target}")/release/examples/ingest_scale"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# Runs a step under /usr/bin/time; prints "<step's line> rss_mb=<peak>".
measure() {
  local out
  out="$( { /usr/bin/time -f 'rss_kb=%M' "$@"; } 2>&1 )"
  local kb line
  kb="$(sed -n 's/^rss_kb=//p' <<<"$out")"
  line="$(grep -E '^(upload|build) ' <<<"$out" | sed 's/ outcome=.*//')"
  echo "$line rss_mb=$(awk -v k="$kb" 'BEGIN { printf "%.1f", k / 1024 }')"
}
field() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p" <<<" $2"; }

printf '%-8s %12s %14s %10s %12s %14s\n' sources upload_ms upload_rss_mb requests build_ms build_rss_mb
declare -A upload_rss build_rss
for n in 68 680 2720; do
  sources="$work/sources-$n"
  bucket="$work/bucket-$n"
  "$bin" synth "$corpus" "$sources" "$n"
  find "$sources" -type f -print0 | xargs -0 "$bin" fill "$bucket"
  "$bin" build "$bucket" >/dev/null
  # One more episode arrives (a changed copy of the largest), as a Lambda invocation would see it.
  largest="$(find "$sources" -name '*.srt' -printf '%s %p\n' |
    awk '{ s = $1; sub(/^[0-9]+ /, ""); if (s > max) { max = s; path = $0 } } END { print path }')"
  changed="$work/$(basename "$largest")"
  { cat "$largest"; printf '\r\n9999\r\n05:00:00,000 --> 05:00:01,000\r\nMIKE: One more line.\r\n'; } > "$changed"
  up="$(measure "$bin" upload "$bucket" "$changed")"
  bu="$(measure "$bin" build "$bucket")"
  rm -f "$changed"
  upload_rss[$n]="$(field rss_mb "$up")"
  build_rss[$n]="$(field rss_mb "$bu")"
  printf '%-8s %12s %14s %10s %12s %14s\n' "$n" "$(field ms "$up")" "${upload_rss[$n]}" \
    "$(field requests "$up")" "$(field ms "$bu")" "${build_rss[$n]}"
done
# A 31 MB upload in each of the encodings that must be converted (the text is made anew, not
# borrowed from the upload): processed or quarantined within the ingest function's 256 MB.
for encoding in utf-16 windows-1252; do
  file="$work/Large.S09E01.$encoding.srt"
  "$bin" large "$file" "$encoding" 32505856
  up="$(measure "$bin" upload "$work/bucket-large" "$file")"
  echo "31 MB upload in $encoding: $(field ms "$up") ms, peak RSS $(field rss_mb "$up") MB (bar: 256 MB, the ingest function's memory)"
done
awk -v a="${upload_rss[68]}" -v b="${upload_rss[680]}" -v c="${upload_rss[2720]}" \
    -v d="${build_rss[2720]}" 'BEGIN {
  max = a; if (b > max) max = b; if (c > max) max = c
  min = a; if (b < min) min = b; if (c < min) min = c
  printf "per-upload peak RSS: 680 / 68 = x%.2f, 2,720 / 68 = x%.2f (bar: within 10%%): %s\n",
    b / a, c / a, (max <= min * 1.10 ? "met" : "missed")
  printf "corpus build at 2,720 sources: %.1f MB (bar: 128 MB): %s\n", d, (d <= 128 ? "met" : "missed")
}'
