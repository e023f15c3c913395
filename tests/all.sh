#!/usr/bin/env bash
# Every test of the project, from a fresh machine: the Rust workspace (unit, property and
# end-to-end tests on the local AWS, which installs itself into .venv), the shared crate's unit
# tests again on arm64 under emulation (the vector code the functions run), the infrastructure checks
# (cfn-lint, checkov, routing and wiring tests) and the training container's tests (CPU, tiny
# models). Each part installs what it needs on first use; the web app's browser test needs
# Debian's Chromium and its WebDriver, installed here when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  echo "== Installing chromium and chromium-driver (the web app's end-to-end test)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
fi

echo "== Rust workspace"
cargo test --workspace --locked

echo "== Shared crate on arm64 (emulated)"
bash tests/arm64.sh

echo "== Infrastructure template"
bash infra/checks.sh

echo "== Training container"
bash docker/test.sh
