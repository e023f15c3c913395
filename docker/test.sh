#!/usr/bin/env bash
# Runs the training container's tests on the CPU, without Docker.
#
# Creates docker/.venv on first use (and again whenever a requirements file changes), installs the
# pinned test requirements into it, then runs pytest. Extra arguments go to pytest:
#   docker/test.sh -k chatbot -x
# PYTHON picks the interpreter that builds the venv (default python3; the image has Python 3.11).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
venv="$here/.venv"
stamp="$venv/.requirements.sha256"
wanted="$(cat requirements.txt requirements-test.txt | sha256sum | cut -d' ' -f1)"

if [[ ! -x "$venv/bin/python" || ! -f "$stamp" || "$(cat "$stamp")" != "$wanted" ]]; then
    started=$SECONDS
    echo "test.sh: creating $venv"
    rm -rf "$venv"
    "${PYTHON:-python3}" -m venv "$venv"
    # --no-deps: requirements-test.txt is the complete, pinned set (see its comments on torch).
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -r requirements-test.txt
    "$venv/bin/python" -c "import torch, transformers, peft; torch.ones(1) + 1"
    echo "$wanted" > "$stamp"
    echo "test.sh: venv ready in $((SECONDS - started)) s"
fi

# The tests build their models from configs; nothing may be fetched from a model hub.
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1 TOKENIZERS_PARALLELISM=false
# The models are tiny: one thread is as fast, and far faster when other work shares the cores
# (OpenMP threads spin while they wait for a busy core).
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
export PATH="$venv/bin:$PATH"
started=$SECONDS
status=0
"$venv/bin/python" -m pytest tests "$@" || status=$?
echo "test.sh: pytest took $((SECONDS - started)) s"
exit "$status"
