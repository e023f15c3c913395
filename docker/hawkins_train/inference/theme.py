"""Theme scoring for batch transform: zero-shot classification with an NLI model.

Each input record is one batch of an episode's sentences (the transform job splits the input file
by line, so a request holds one record or, with MultiRecord, several separated by newlines):

    {"episode": "S02E03", "batch": 0, "sentences": ["...", "..."]}

For each sentence and each configured theme the model reads the pair (sentence, hypothesis), the
hypothesis being the template filled with the theme ("This text is about friendship."). The
theme's score for the sentence is the probability of entailment against contradiction (each theme
on its own, so several themes can score high at once); the batch's score is the mean over its
sentences. One output line per record:

    {"episode": "S02E03", "batch": 0, "scores": {"friendship": 0.81, ...}, "sentence_scores": [...]}

`sentence_scores` (one {theme: score} object per sentence) is included when the environment sets
HAWKINS_THEME_SENTENCE_SCORES=true. A record with no sentences gets 0.0 for every theme.

This file is self-contained (torch and transformers only): it is also copied into the model as
code/inference.py, following the SageMaker inference handler contract (model_fn, input_fn,
predict_fn, output_fn).
"""

from __future__ import annotations

import json
import os
from typing import Any

import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

JSON = "application/json"
JSON_LINES = ("application/jsonlines", "application/x-jsonlines", "application/jsonl")
DEFAULT_ACCEPT = "application/jsonlines"
PAIRS_PER_FORWARD = 64


def label_indices(id2label: dict[Any, str]) -> tuple[int | None, int | None]:
    """(entailment, contradiction) label indices of an NLI model's config; None where absent."""
    entailment = contradiction = None
    for index, name in id2label.items():
        lowered = str(name).lower()
        if lowered.startswith("entail"):
            entailment = int(index)
        elif lowered.startswith("contradict"):
            contradiction = int(index)
    return entailment, contradiction


def _media_type(value: str | None) -> str:
    return (value or "").split(";")[0].strip().lower()


def model_fn(model_dir: str, context: Any = None) -> dict[str, Any]:
    with open(os.path.join(model_dir, "hawkins.json"), encoding="utf-8") as handle:
        meta = json.load(handle)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model.to(device).eval()
    entailment, contradiction = label_indices(model.config.id2label)
    if entailment is None:
        raise ValueError(f"the model in {model_dir} has no entailment label: {model.config.id2label}")
    return {
        "model": model,
        "tokenizer": tokenizer,
        "device": device,
        "themes": list(meta["themes"]),
        "template": meta.get("hypothesis_template", "This text is about {}."),
        "entailment": entailment,
        "contradiction": contradiction,
        "max_length": int(meta.get("max_seq_length", 256)),
        "sentence_scores": os.environ.get("HAWKINS_THEME_SENTENCE_SCORES", "").lower() in ("1", "true", "yes"),
    }


def _check_record(record: Any, where: str) -> dict[str, Any]:
    if not isinstance(record, dict):
        raise ValueError(f"{where} is not a JSON object")
    if not isinstance(record.get("episode"), str):
        raise ValueError(f"{where} has no 'episode' string")
    if not isinstance(record.get("batch"), int) or isinstance(record.get("batch"), bool):
        raise ValueError(f"{where} has no integer 'batch'")
    sentences = record.get("sentences")
    if not isinstance(sentences, list) or not all(isinstance(s, str) for s in sentences):
        raise ValueError(f"{where} has no 'sentences' list of strings")
    return record


def input_fn(request_body: str | bytes, request_content_type: str | None = JSON) -> list[dict[str, Any]]:
    """One record, a JSON array of records, or JSON lines (one record per line)."""
    media = _media_type(request_content_type) or JSON
    if media not in (JSON,) + JSON_LINES:
        raise ValueError(f"unsupported content type {request_content_type!r}: send application/jsonlines")
    text = request_body.decode("utf-8") if isinstance(request_body, (bytes, bytearray)) else request_body
    records: list[Any] = []
    stripped = text.strip()
    if stripped.startswith("["):
        try:
            records = json.loads(stripped)
        except json.JSONDecodeError as err:
            raise ValueError(f"the request is not valid JSON: {err.msg}") from None
    else:
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError as err:
                    raise ValueError(f"line {number} is not valid JSON: {err.msg}") from None
    if not records:
        raise ValueError("the request holds no record")
    return [_check_record(r, f"record {i + 1}") for i, r in enumerate(records)]


def score_sentences(sentences: list[str], bundle: dict[str, Any]) -> torch.Tensor:
    """[sentences, themes] entailment probabilities."""
    themes = bundle["themes"]
    if not sentences:
        return torch.zeros((0, len(themes)))
    hypotheses = [bundle["template"].format(theme) for theme in themes]
    pairs = [(s, h) for s in sentences for h in hypotheses]
    tokenizer, model = bundle["tokenizer"], bundle["model"]
    entailment, contradiction = bundle["entailment"], bundle["contradiction"]
    probabilities: list[torch.Tensor] = []
    with torch.inference_mode():
        for start in range(0, len(pairs), PAIRS_PER_FORWARD):
            chunk = pairs[start : start + PAIRS_PER_FORWARD]
            encoded = tokenizer(
                [p for p, _ in chunk],
                [h for _, h in chunk],
                padding=True,
                truncation=True,
                max_length=bundle["max_length"],
                return_tensors="pt",
            ).to(bundle["device"])
            logits = model(**encoded).logits.float()
            if contradiction is not None:
                logits = logits[:, [contradiction, entailment]]
                probabilities.append(logits.softmax(dim=-1)[:, 1].cpu())
            else:
                probabilities.append(logits.softmax(dim=-1)[:, entailment].cpu())
    return torch.cat(probabilities).view(len(sentences), len(themes))


def predict_fn(records: list[dict[str, Any]], bundle: dict[str, Any]) -> list[dict[str, Any]]:
    themes = bundle["themes"]
    outputs = []
    for record in records:
        matrix = score_sentences(record["sentences"], bundle)
        means = matrix.mean(dim=0) if len(matrix) else torch.zeros(len(themes))
        result: dict[str, Any] = {
            "episode": record["episode"],
            "batch": record["batch"],
            "scores": {theme: round(float(means[j]), 6) for j, theme in enumerate(themes)},
        }
        if bundle["sentence_scores"]:
            result["sentence_scores"] = [
                {theme: round(float(row[j]), 6) for j, theme in enumerate(themes)} for row in matrix
            ]
        outputs.append(result)
    return outputs


def output_fn(prediction: list[dict[str, Any]], accept: str | None = "application/jsonlines") -> str:
    """JSON lines, one per input record (what AssembleWith=Line expects); a JSON array when the
    caller accepts only application/json and sent several records."""
    media = _media_type(accept)
    if media == JSON:
        return json.dumps(prediction[0] if len(prediction) == 1 else prediction)
    return "\n".join(json.dumps(p) for p in prediction)
