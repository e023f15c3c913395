"""Location classifier: fine-tunes a small encoder to map a place's description to its type.

The labels are the distinct `label` values of locations.jsonl, sorted; the held-out split is
stratified by label. Accuracy and macro F1 are reported on it.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import torch

from . import data, loop
from .contract import Hyperparameters, JobError, Paths, channel_files, log, read_jsonl


def load_locations(files: list[Path]) -> list[tuple[str, str]]:
    """(description, label) pairs."""
    rows: list[tuple[str, str]] = []
    for path in files:
        for number, row in read_jsonl(path):
            where = f"{path.name} line {number}"
            if not isinstance(row, dict):
                raise JobError(f"{where} is not a JSON object.")
            text, label = row.get("text"), row.get("label")
            if not isinstance(text, str) or not text.strip():
                raise JobError(f"{where} has no description in 'text'.")
            if not isinstance(label, str) or not label.strip():
                raise JobError(f"{where} has no location type in 'label'.")
            rows.append((text.strip(), label.strip()))
    labels = {label for _, label in rows}
    if len(labels) < 2:
        raise JobError(
            f"The location dataset has {len(rows)} rows but {len(labels)} distinct label(s); "
            "a classifier needs at least two location types."
        )
    return rows


def macro_f1(truth: list[int], predicted: list[int]) -> float:
    """Mean F1 over the labels that occur in either list."""
    labels = sorted(set(truth) | set(predicted))
    scores = []
    for label in labels:
        tp = sum(1 for t, p in zip(truth, predicted) if t == label and p == label)
        fp = sum(1 for t, p in zip(truth, predicted) if t != label and p == label)
        fn = sum(1 for t, p in zip(truth, predicted) if t == label and p != label)
        scores.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return sum(scores) / len(scores) if scores else 0.0


def train(hp: Hyperparameters, paths: Paths, token: str | None, stop: loop.StopFlag) -> dict[str, float]:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    files = channel_files(paths.train_channel, "locations.jsonl")
    rows = load_locations(files)
    labels = sorted({label for _, label in rows})
    label_ids = {label: i for i, label in enumerate(labels)}
    targets = [label_ids[label] for _, label in rows]
    train_idx, eval_idx = data.split_indices(len(rows), hp.eval_fraction, hp.seed, groups=targets)
    log(f"{len(train_idx)} training and {len(eval_idx)} held-out locations, {len(labels)} types: {', '.join(labels)}")

    try:
        tokenizer = AutoTokenizer.from_pretrained(hp.base_model, token=token)
    except (OSError, ValueError) as err:
        raise JobError(f"Could not load the tokenizer of base_model '{hp.base_model}': {err}.") from None
    torch.manual_seed(hp.seed)
    try:
        model = AutoModelForSequenceClassification.from_pretrained(
            hp.base_model,
            num_labels=len(labels),
            id2label=dict(enumerate(labels)),
            label2id=label_ids,
            ignore_mismatched_sizes=True,
            token=token,
        )
    except (OSError, ValueError) as err:
        raise JobError(f"Could not load base_model '{hp.base_model}' as a sequence classifier: {err}.") from None
    device = loop.pick_device()
    bf16 = loop.use_bf16(hp, device)
    model.to(device)
    max_len = hp.max_seq_length
    model_max = getattr(tokenizer, "model_max_length", None)
    if isinstance(model_max, int) and 0 < model_max < max_len:
        max_len = model_max
    log(f"encoder {hp.base_model} on {device}, {'bf16 autocast' if bf16 else 'fp32'}, max length {max_len}")

    def collate(indices: list[int]) -> dict[str, torch.Tensor]:
        encoded = tokenizer(
            [rows[i][0] for i in indices], padding=True, truncation=True, max_length=max_len, return_tensors="pt"
        )
        batch = {k: v.to(device) for k, v in encoded.items()}
        batch["labels"] = torch.tensor([targets[i] for i in indices], device=device)
        return batch

    def forward(batch: dict[str, torch.Tensor]) -> Any:
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=bf16):
            return model(**batch)

    def evaluate() -> dict[str, float]:
        model.eval()
        truth: list[int] = []
        predicted: list[int] = []
        total_loss = 0.0
        with torch.no_grad():
            for start in range(0, len(eval_idx), hp.batch_size):
                chunk = eval_idx[start : start + hp.batch_size]
                output = forward(collate(chunk))
                total_loss += float(output.loss) * len(chunk)
                predicted.extend(output.logits.argmax(dim=-1).tolist())
                truth.extend(targets[i] for i in chunk)
        accuracy = sum(1 for t, p in zip(truth, predicted) if t == p) / len(truth)
        return {"eval_loss": total_loss / len(truth), "accuracy": accuracy, "f1": macro_f1(truth, predicted)}

    schedule = loop.Schedule(len(train_idx), hp.batch_size, hp.epochs, hp.max_steps, hp.seed)
    signature = {
        "kind": "location",
        "base_model": hp.base_model,
        "data": data.fingerprint(files),
        "schedule": [hp.batch_size, hp.epochs, hp.max_steps, hp.seed, hp.eval_fraction, max_len],
        "optimizer": [hp.learning_rate, hp.warmup_ratio],
    }
    results = loop.run(
        model=model,
        hp=hp,
        schedule=schedule,
        make_batch=lambda indices: collate([train_idx[i] for i in indices]),
        batch_loss=lambda batch: forward(batch).loss,
        evaluate=evaluate if eval_idx else None,
        store=loop.CheckpointStore(paths.checkpoints, signature),
        stop=stop,
    )

    paths.model_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(paths.model_dir)
    tokenizer.save_pretrained(paths.model_dir)
    loop.write_json(
        paths.model_dir / "hawkins.json",
        {"kind": "location", "labels": labels, "base_model": hp.base_model, "max_seq_length": max_len},
    )
    code = paths.model_dir / "code"
    code.mkdir(exist_ok=True)
    shutil.copyfile(Path(__file__).parent / "inference" / "classifier.py", code / "inference.py")
    log(f"location classifier saved in {paths.model_dir}")
    return results
