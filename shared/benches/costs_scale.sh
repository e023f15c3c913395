#!/usr/bin/env bash
# The cost run at 1,000 and 10,000 jobs (200 endpoints each): handler time, peak resident memory,
# and how both grow. Goal: linear growth, at most 1 s and 64 MB at 10,000.
# Then history: 10,000 jobs a month for 1, 2 and 12 months in month partitions, and 12 months at
# the flat keys of the layout before partitions. Goal: a year of history costs the daily run what
# the two months it reads (this one and the previous) cost, not twelve times more.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release -q -p hawkins-shared --example costs_scale
bin="${CARGO_TARGET_DIR:-target}/release/examples/costs_scale"
per_month="${COSTS_SCALE_JOBS:-10000}"
small=$("$bin" 1000)
large=$("$bin" 10000)
echo "$small"
echo "$large"
field() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p" <<<"$2"; }
awk -v a="$(field handler_ms "$small")" -v b="$(field handler_ms "$large")" \
    -v c="$(field peak_rss_after_kib "$small")" -v d="$(field peak_rss_after_kib "$large")" \
    'BEGIN { printf "10x the jobs: handler time x%.2f, peak memory x%.2f (%.1f MB at 10,000)\n", b / a, d / c, d / 1024 }'

month=$("$bin" "$per_month" 1)
two=$("$bin" "$per_month" 2)
year=$("$bin" "$per_month" 12)
flat=$("$bin" "$per_month" 12 flat)
echo "$month"
echo "$two"
echo "$year"
echo "$flat"
awk -v m="$(field handler_ms "$month")" -v t="$(field handler_ms "$two")" \
    -v y="$(field handler_ms "$year")" -v f="$(field handler_ms "$flat")" \
    -v mr="$(field objects_read "$month")" -v tr="$(field objects_read "$two")" \
    -v yr="$(field objects_read "$year")" -v fr="$(field objects_read "$flat")" \
    -v n="$per_month" -v yu="$(field month_to_date_usd "$year")" -v fu="$(field month_to_date_usd "$flat")" \
    'BEGIN {
        printf "daily run, %d jobs a month: 1 month %.1f ms (%d objects read), 2 months %.1f ms (%d), 12 months %.1f ms (%d)\n", n, m, mr, t, tr, y, yr
        printf "a year of history against one month: handler time x%.2f, objects read x%.2f\n", y / m, yr / mr
        printf "a year of history against the two months the run reads: handler time x%.2f, objects read x%.2f\n", y / t, yr / tr
        printf "the same year at the flat keys of the layout before partitions: %.1f ms (%d objects read), x%.2f the partitioned year\n", f, fr, f / y
        printf "month to date: %s USD from the partitions read, %s USD from every record (%s)\n", yu, fu, yu == fu ? "the same" : "DIFFERENT"
    }'
