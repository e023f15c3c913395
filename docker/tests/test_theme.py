from __future__ import annotations

import json
from pathlib import Path

import pytest
import tiny_models
from conftest import DATA, Job, run_in_process


def test_packages_the_zero_shot_model_and_scores_the_channels_batches(
    job: Job, nli_base: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    job.hyperparameters({"model_kind": "theme", "base_model": nli_base, "themes": "friendship,fear,loss"})
    job.add("batches.jsonl")
    code, out = run_in_process(job, capsys)
    assert code == 0, job.failure.read_text() if job.failure.exists() else ""
    assert "METRIC" not in out
    meta = json.loads((job.model_dir / "hawkins.json").read_text())
    assert meta["kind"] == "theme"
    assert meta["themes"] == ["friendship", "fear", "loss"]
    assert meta["hypothesis_template"] == "This text is about {}."
    assert (job.model_dir / "code" / "inference.py").is_file()
    assert (job.model_dir / "model.safetensors").is_file()

    inputs = [json.loads(line) for line in (DATA / "batches.jsonl").read_text().splitlines()]
    outputs = [json.loads(line) for line in (job.output_data / "theme_scores.jsonl").read_text().splitlines()]
    assert [(o["episode"], o["batch"]) for o in outputs] == [(i["episode"], i["batch"]) for i in inputs]
    for output in outputs:
        assert list(output["scores"]) == ["friendship", "fear", "loss"]
        assert all(0.0 <= v <= 1.0 for v in output["scores"].values())


def test_without_a_channel_only_the_model_is_written(job: Job, nli_base: Path) -> None:
    job.hyperparameters({"model_kind": "theme", "base_model": nli_base, "themes": "courage"})
    assert run_in_process(job)[0] == 0
    assert (job.model_dir / "hawkins.json").is_file()
    assert not (job.output_data / "theme_scores.jsonl").exists()


def test_a_model_without_an_entailment_label_is_refused(job: Job, tmp_path: Path) -> None:
    base = tiny_models.build_nli(tmp_path / "sentiment", labels=("negative", "positive"))
    job.hyperparameters({"model_kind": "theme", "base_model": base, "themes": "fear"})
    assert run_in_process(job)[0] == 1
    text = job.failure.read_text()
    assert "is not an NLI model" in text and "negative, positive" in text
