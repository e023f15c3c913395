#!/usr/bin/env bash
# Every test of the project, from a fresh machine: the Rust workspace (unit, property and
# end-to-end tests on the local AWS, which installs itself into .venv), the shared crate's unit
# tests again on arm64 under emulation (the vector code the functions run), the infrastructure checks
# (cfn-lint, checkov, routing and wiring tests) and the training container's tests (CPU, tiny
# models). Each part installs what it needs on first use.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== Rust workspace"
cargo test --workspace --locked

echo "== Shared crate on arm64 (emulated)"
bash tests/arm64.sh

echo "== Infrastructure template"
bash infra/checks.sh

echo "== Training container"
bash docker/test.sh
