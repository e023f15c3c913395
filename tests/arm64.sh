#!/usr/bin/env bash
# The shared crate's unit tests built for arm64 and run under qemu's user-mode emulation: the
# functions run on arm64, where the subtitle reader takes its NEON path (shared/src/simd.rs), which
# the x86-64 tests do not reach.
#
#   bash tests/arm64.sh [TEST FILTER]
#
# Needs qemu-aarch64-static and an aarch64 C toolchain to link; installs them with apt when it can
# (as root), and otherwise says so and skips rather than fail the other tests.
set -euo pipefail
cd "$(dirname "$0")/.."

needed=(qemu-aarch64-static aarch64-linux-gnu-gcc)
missing() {
  for tool in "${needed[@]}"; do command -v "$tool" >/dev/null || return 0; done
  return 1
}
if missing && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "arm64.sh: installing qemu-user-static and the aarch64 cross toolchain" >&2
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends \
      qemu-user-static gcc-aarch64-linux-gnu libc6-dev-arm64-cross; } >/dev/null || true
fi
if missing; then
  echo "arm64.sh: SKIPPED: needs ${needed[*]} (Debian: qemu-user-static gcc-aarch64-linux-gnu libc6-dev-arm64-cross)" >&2
  exit 0
fi

rustup target add aarch64-unknown-linux-gnu >/dev/null
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64-static -L /usr/aarch64-linux-gnu"
cargo test --locked -p hawkins-shared --lib --target aarch64-unknown-linux-gnu -- "$@"
