#!/usr/bin/env bash
# The cost run at 1,000 and 10,000 jobs (200 endpoints each): handler time, peak resident memory,
# and how both grow. Goal: linear growth, at most 1 s and 64 MB at 10,000.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release -q -p hawkins-shared --example costs_scale
bin="${CARGO_TARGET_DIR:-target}/release/examples/costs_scale"
small=$("$bin" 1000)
large=$("$bin" 10000)
echo "$small"
echo "$large"
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" <<<"$2"; }
awk -v a="$(field handler_ms "$small")" -v b="$(field handler_ms "$large")" \
    -v c="$(field peak_rss_after_kib "$small")" -v d="$(field peak_rss_after_kib "$large")" \
    'BEGIN { printf "10x the jobs: handler time x%.2f, peak memory x%.2f (%.1f MB at 10,000)\n", b / a, d / c, d / 1024 }'
