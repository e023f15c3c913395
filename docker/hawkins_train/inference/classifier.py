"""Location classifier endpoint: descriptions in, location types out.

Request (application/json), as `hawkins invoke` sends it:

    {"inputs": ["A diner at the edge of town with a back door onto the woods", ...]}

Response: one prediction per input, in order, with the softmax probability of the chosen label:

    {"predictions": [{"label": "Safe Haven", "score": 0.93}, ...]}

`inputs` may also be a single string. This file is self-contained (torch and transformers only):
it is also copied into the model as code/inference.py, following the SageMaker inference handler
contract (model_fn, input_fn, predict_fn, output_fn).
"""

from __future__ import annotations

import json
import os
from typing import Any

import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

JSON = "application/json"
DEFAULT_ACCEPT = JSON
MAX_INPUTS = 1024
BATCH = 32


def model_fn(model_dir: str, context: Any = None) -> dict[str, Any]:
    meta_path = os.path.join(model_dir, "hawkins.json")
    meta: dict[str, Any] = {}
    if os.path.exists(meta_path):
        with open(meta_path, encoding="utf-8") as handle:
            meta = json.load(handle)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model.to(device).eval()
    return {
        "model": model,
        "tokenizer": tokenizer,
        "device": device,
        "labels": [model.config.id2label[i] for i in range(model.config.num_labels)],
        "max_length": int(meta.get("max_seq_length", 256)),
    }


def input_fn(request_body: str | bytes, request_content_type: str | None = JSON) -> list[str]:
    media = (request_content_type or JSON).split(";")[0].strip().lower()
    if media != JSON:
        raise ValueError(f"unsupported content type {request_content_type!r}: send application/json")
    try:
        document = json.loads(request_body)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"the request is not valid JSON: {err}") from None
    inputs = document.get("inputs") if isinstance(document, dict) else None
    if isinstance(inputs, str):
        inputs = [inputs]
    if not isinstance(inputs, list) or not inputs or not all(isinstance(i, str) for i in inputs):
        raise ValueError('the request needs "inputs": a non-empty list of description strings')
    if len(inputs) > MAX_INPUTS:
        raise ValueError(f"at most {MAX_INPUTS} inputs per request, got {len(inputs)}")
    return inputs


def predict_fn(inputs: list[str], bundle: dict[str, Any]) -> dict[str, Any]:
    tokenizer, model, labels = bundle["tokenizer"], bundle["model"], bundle["labels"]
    predictions: list[dict[str, Any]] = []
    with torch.inference_mode():
        for start in range(0, len(inputs), BATCH):
            encoded = tokenizer(
                inputs[start : start + BATCH],
                padding=True,
                truncation=True,
                max_length=bundle["max_length"],
                return_tensors="pt",
            ).to(bundle["device"])
            probabilities = model(**encoded).logits.float().softmax(dim=-1)
            scores, indices = probabilities.max(dim=-1)
            for score, index in zip(scores.tolist(), indices.tolist()):
                predictions.append({"label": labels[index], "score": round(score, 6)})
    return {"predictions": predictions}


def output_fn(prediction: dict[str, Any], accept: str | None = JSON) -> str:
    return json.dumps(prediction)
