"""Theme: prepares the zero-shot model that the batch-transform job runs.

Nothing is fine-tuned. The job loads the NLI model named by base_model, checks it has an
entailment label, scores one sentence as a smoke test, and writes to /opt/ml/model the model, its
tokenizer, `hawkins.json` (the themes and the hypothesis template) and the handler as
code/inference.py. The batch-transform job then runs this image's `serve` on that model.

When the job also has a `train` channel holding batches.jsonl, every batch is scored now and the
results are written to theme_scores.jsonl in the output data folder (output.tar.gz), in the same
format the batch-transform job writes.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from . import loop
from .contract import Hyperparameters, JobError, Paths, Stopped, channel_files, log, read_jsonl
from .inference import theme as handler


def package(hp: Hyperparameters, paths: Paths, token: str | None, stop: loop.StopFlag) -> dict[str, float]:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(hp.base_model, token=token)
        model = AutoModelForSequenceClassification.from_pretrained(hp.base_model, token=token)
    except (OSError, ValueError) as err:
        raise JobError(f"Could not load base_model '{hp.base_model}' as an NLI classifier: {err}.") from None
    entailment, contradiction = handler.label_indices(model.config.id2label)
    if entailment is None:
        names = ", ".join(str(v) for v in model.config.id2label.values())
        raise JobError(
            f"base_model '{hp.base_model}' is not an NLI model: its labels are {names}. The theme job "
            "needs one with an 'entailment' label, such as an MNLI-trained encoder."
        )
    if contradiction is None:
        log("the NLI model has no contradiction label: scores are entailment against all labels")

    paths.model_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(paths.model_dir)
    tokenizer.save_pretrained(paths.model_dir)
    loop.write_json(
        paths.model_dir / "hawkins.json",
        {
            "kind": "theme",
            "themes": list(hp.themes),
            "hypothesis_template": hp.hypothesis_template,
            "base_model": hp.base_model,
            "max_seq_length": hp.max_seq_length,
        },
    )
    code = paths.model_dir / "code"
    code.mkdir(exist_ok=True)
    shutil.copyfile(Path(handler.__file__), code / "inference.py")

    bundle = handler.model_fn(str(paths.model_dir))
    smoke = handler.predict_fn(
        [{"episode": "smoke", "batch": 0, "sentences": ["The kids ride their bikes home."]}], bundle
    )
    log(f"theme model ready with {len(hp.themes)} themes; smoke test scores {json.dumps(smoke[0]['scores'])}")

    if paths.train_channel.is_dir() and any(paths.train_channel.rglob("*.jsonl")):
        out = paths.output_data_dir / "theme_scores.jsonl"
        out.parent.mkdir(parents=True, exist_ok=True)
        count = 0
        with out.open("w", encoding="utf-8") as handle:
            for path in channel_files(paths.train_channel, "batches.jsonl"):
                for number, row in read_jsonl(path):
                    if stop.requested:
                        raise Stopped(0)
                    try:
                        records = handler.input_fn(json.dumps(row), handler.JSON)
                    except ValueError as err:
                        raise JobError(f"{path.name} line {number}: {err}.") from None
                    handle.write(handler.output_fn(handler.predict_fn(records, bundle), handler.DEFAULT_ACCEPT) + "\n")
                    count += 1
        log(f"scored {count} batches into {out}")
    return {}
