from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import DATA, Job, location_hyperparameters, parse_metrics, run_in_process
from safetensors.torch import load_file

from hawkins_train.data import split_indices
from hawkins_train.location import macro_f1

LABELS = ["Danger Zone", "Hangout", "Institution", "Safe Haven"]


def test_trains_a_few_steps_and_reports_accuracy_and_f1(
    job: Job, encoder_base: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    job.hyperparameters(location_hyperparameters(encoder_base)).add("locations.jsonl")
    code, out = run_in_process(job, capsys)
    assert code == 0, job.failure.read_text() if job.failure.exists() else ""
    found = parse_metrics(out)
    by_name: dict[str, list[tuple[int, float]]] = {}
    for name, step, value in found:
        by_name.setdefault(name, []).append((step, value))
    assert [s for s, _ in by_name["loss"]] == [2, 4, 6]
    for name in ("eval_loss", "accuracy", "f1"):
        assert [s for s, _ in by_name[name]] == [3, 6], name
    assert all(0 <= v <= 1 for name in ("accuracy", "f1") for _, v in by_name[name])

    config = json.loads((job.model_dir / "config.json").read_text())
    assert [config["id2label"][str(i)] for i in range(4)] == LABELS
    assert (job.model_dir / "model.safetensors").is_file()
    assert (job.model_dir / "code" / "inference.py").is_file()
    meta = json.loads((job.model_dir / "hawkins.json").read_text())
    assert meta["kind"] == "location" and meta["labels"] == LABELS


def test_resumes_from_its_checkpoint_to_the_same_weights(
    tmp_path: Path, encoder_base: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = Job(tmp_path / "first")
    first.hyperparameters(location_hyperparameters(encoder_base)).add("locations.jsonl")
    assert run_in_process(first)[0] == 0
    resumed = Job(tmp_path / "resumed")
    resumed.hyperparameters(location_hyperparameters(encoder_base)).add("locations.jsonl")
    resumed.checkpoints.mkdir(parents=True)
    (first.checkpoints / "step-00000004").rename(resumed.checkpoints / "step-00000004")
    code, out = run_in_process(resumed, capsys)
    assert code == 0
    assert [s for n, s, _ in parse_metrics(out) if n == "loss"] == [6]
    a = load_file(str(first.model_dir / "model.safetensors"))
    b = load_file(str(resumed.model_dir / "model.safetensors"))
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(b[key], a[key], rtol=1e-5, atol=1e-6)


def test_one_label_is_not_a_classifier(job: Job, encoder_base: Path) -> None:
    job.hyperparameters(location_hyperparameters(encoder_base))
    job.channel.mkdir(parents=True)
    rows = [json.loads(line) for line in (DATA / "locations.jsonl").read_text().splitlines()]
    (job.channel / "locations.jsonl").write_text(
        "".join(json.dumps({**row, "label": "Safe Haven"}) + "\n" for row in rows)
    )
    assert run_in_process(job)[0] == 1
    assert "at least two location types" in job.failure.read_text()


def test_a_row_without_text_names_its_line(job: Job, encoder_base: Path) -> None:
    job.hyperparameters(location_hyperparameters(encoder_base)).add("locations.jsonl")
    with (job.channel / "locations.jsonl").open("a") as handle:
        handle.write('{"name": "Nowhere", "label": "Hangout"}\n')
    assert run_in_process(job)[0] == 1
    assert "locations.jsonl line 33 has no description" in job.failure.read_text()


def test_split_is_stratified_and_keeps_every_label_in_training() -> None:
    labels = ["a"] * 8 + ["b"] * 4 + ["c"]
    train, held = split_indices(len(labels), 0.25, seed=1, groups=labels)
    assert sorted(train + held) == list(range(len(labels)))
    assert [labels[i] for i in held].count("a") == 2 and [labels[i] for i in held].count("b") == 1
    assert "c" in [labels[i] for i in train]
    assert split_indices(5, 0.0, seed=1) == ([0, 1, 2, 3, 4], [])
    assert split_indices(10, 0.2, seed=4) == split_indices(10, 0.2, seed=4)


def test_macro_f1() -> None:
    assert macro_f1([0, 0, 1, 1], [0, 0, 1, 1]) == 1.0
    assert macro_f1([0, 0, 1, 1], [0, 1, 1, 1]) == pytest.approx((2 / 3 + 0.8) / 2)
    assert macro_f1([0, 0], [1, 1]) == 0.0
