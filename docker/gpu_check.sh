#!/usr/bin/env bash
# Optional check on a machine with an NVIDIA GPU (never needed by CI): runs the chatbot trainer's
# steps on CUDA in bf16 and prints steps/s.
#
# No download happens: the base model is a Llama-architecture model with random weights (about
# 90M parameters by default), built from a config by tests/tiny_models.py, and the data is the
# sample tests/data/eleven.jsonl. It needs a Python with CUDA torch and requirements.txt, such as
# the image itself:
#
#   docker run --rm --gpus all -v "$PWD/docker:/src" -w /src --entrypoint bash <image> gpu_check.sh
#
# or a venv on a GPU machine: PYTHON=/path/to/python docker/gpu_check.sh
# Environment: STEPS (default 60), BATCH_SIZE (default 8), HIDDEN (1024), LAYERS (8), SEQ (256).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${PYTHON:-python}"
steps="${STEPS:-60}"
batch_size="${BATCH_SIZE:-8}"
hidden="${HIDDEN:-1024}"
layers="${LAYERS:-8}"
seq="${SEQ:-256}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

"$python" - <<EOF
import torch
if not torch.cuda.is_available():
    raise SystemExit("gpu_check.sh: torch sees no CUDA device")
print("gpu_check.sh: torch", torch.__version__, "on", torch.cuda.get_device_name(0),
      "bf16" if torch.cuda.is_bf16_supported() else "no bf16")
EOF

export PYTHONPATH="$here:$here/tests${PYTHONPATH:+:$PYTHONPATH}"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
"$python" - "$work/base" "$hidden" "$layers" <<'EOF'
import sys
from pathlib import Path
import tiny_models
hidden, layers = int(sys.argv[2]), int(sys.argv[3])
tiny_models.build_causal_lm(Path(sys.argv[1]), hidden=hidden, layers=layers, heads=hidden // 64,
                            kv_heads=max(1, hidden // 256), intermediate=hidden * 11 // 4)
EOF

mkdir -p "$work/ml/input/config" "$work/ml/input/data/train"
cp "$here/tests/data/eleven.jsonl" "$work/ml/input/data/train/"
cat > "$work/ml/input/config/hyperparameters.json" <<EOF
{"model_kind": "chatbot", "base_model": "$work/base", "character": "Eleven",
 "max_steps": "$steps", "batch_size": "$batch_size", "max_seq_length": "$seq",
 "precision": "bf16", "checkpoint_steps": "1000000", "log_steps": "10", "eval_fraction": "0.1"}
EOF

status=0
HAWKINS_ML_ROOT="$work/ml" "$python" -m hawkins_train train > "$work/stdout" 2> "$work/stderr" || status=$?
cat "$work/stdout"
if [[ $status -ne 0 ]]; then
    cat "$work/stderr" >&2
    echo "gpu_check.sh: the trainer failed ($status): $(cat "$work/ml/output/failure" 2>/dev/null)" >&2
    exit 1
fi
grep -E "device cuda|trained [0-9]+ steps" "$work/stderr"
if ! grep -q "device cuda, bf16" "$work/stderr"; then
    echo "gpu_check.sh: the trainer did not run on CUDA in bf16" >&2
    exit 1
fi
rate="$(sed -nE 's/.*trained [0-9]+ steps in [0-9.]+ s \(([0-9.]+) steps\/s\).*/\1/p' "$work/stderr")"
echo "gpu_check.sh: $rate steps/s (chatbot LoRA, hidden $hidden, $layers layers, batch $batch_size, max_seq_length $seq, bf16)"
