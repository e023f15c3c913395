#!/usr/bin/env bash
# Builds every function that infra/template.yaml deploys the way Lambda runs it (release, arm64,
# provided.al2023) and prints the size of each zip; a zip over 6 MB is flagged and fails the run.
#
#   bash infra/build.sh
#
# First run: installs cargo-lambda and zig (pip, pinned) into target/infra-venv and the Rust target
# aarch64-unknown-linux-gnu. Zips land in $CARGO_TARGET_DIR/lambda/<binary>/bootstrap.zip
# (target/ when unset). `sam build` runs the same cargo-lambda build for each function.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="target/infra-venv"
# One venv for the infra tools; infra/checks.sh adds cfn-lint, checkov and pytest to it.
PINS=(cargo-lambda==1.9.2 ziglang==0.14.1 pyyaml==6.0.4)
# Goal per function zip, in bytes (decimal MB: the stricter reading).
LIMIT=6000000

if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${PINS[@]}"
# cargo finds `cargo-lambda` on PATH; cargo-lambda finds zig through the venv's python (-m ziglang).
export PATH="$PWD/$VENV/bin:$PATH"

rustup target add aarch64-unknown-linux-gnu >/dev/null

mapfile -t functions < <(python infra/tests/stack.py functions)
if [ "${#functions[@]}" -eq 0 ]; then
  echo "build.sh: the template deploys no function" >&2
  exit 1
fi
# Selecting the packages (-p), not only the binaries, keeps the CLI's and the tests' features
# (the local AWS) out of the functions' build: cargo unifies features across selected packages.
selection=()
for line in "${functions[@]}"; do
  read -r _logical binary package _dir <<<"$line"
  if [ "$package" = "?" ]; then
    echo "build.sh: the template's binary '$binary' is not built by any functions/*/Cargo.toml" >&2
    exit 1
  fi
  selection+=(-p "$package" --bin "$binary")
done

start=$(date +%s)
cargo lambda build --release --arm64 --output-format zip --locked "${selection[@]}"
echo "build.sh: cargo lambda build took $(( $(date +%s) - start )) s"

target="${CARGO_TARGET_DIR:-target}"
status=0
printf '%-22s %-12s %12s %8s\n' function binary bytes MB
for line in "${functions[@]}"; do
  read -r logical binary _package _dir <<<"$line"
  zip="$target/lambda/$binary/bootstrap.zip"
  if [ ! -f "$zip" ]; then
    echo "build.sh: $zip was not produced" >&2
    status=1
    continue
  fi
  bytes=$(stat -c %s "$zip")
  mb=$(awk -v b="$bytes" 'BEGIN { printf "%.2f", b / 1000000 }')
  flag=""
  if [ "$bytes" -gt "$LIMIT" ]; then
    flag="  OVER the 6 MB goal"
    status=1
  fi
  printf '%-22s %-12s %12s %8s%s\n' "$logical" "$binary" "$bytes" "$mb" "$flag"
done
exit "$status"
