from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import DOCKER, Job, run_in_process

from hawkins_train import contract
from hawkins_train.contract import JobError, Paths, parse_hyperparameters


def test_paths_default_to_opt_ml_and_follow_the_environment(tmp_path: Path) -> None:
    default = Paths.from_env({})
    assert default.hyperparameters == Path("/opt/ml/input/config/hyperparameters.json")
    assert default.train_channel == Path("/opt/ml/input/data/train")
    assert default.model_dir == Path("/opt/ml/model")
    assert default.failure == Path("/opt/ml/output/failure")
    assert default.checkpoints == Path("/opt/ml/checkpoints")
    moved = Paths.from_env(
        {"HAWKINS_ML_ROOT": str(tmp_path), "SM_MODEL_DIR": str(tmp_path / "m"), "SM_CHANNEL_TRAIN": str(tmp_path / "c")}
    )
    assert moved.hyperparameters == tmp_path / "input" / "config" / "hyperparameters.json"
    assert moved.model_dir == tmp_path / "m"
    assert moved.train_channel == tmp_path / "c"
    assert moved.output_data_dir == tmp_path / "output" / "data"


def test_defaults_and_string_values() -> None:
    hp = parse_hyperparameters({"model_kind": "chatbot", "base_model": "org/model", "character": "Eleven"})
    assert (hp.epochs, hp.max_steps, hp.eval_fraction, hp.seed) == (3, 0, 0.1, 42)
    assert hp.learning_rate == pytest.approx(2e-4)
    assert hp.lora_target_modules == "all-linear"
    assert hp.hf_token_secret_arn is None
    location = parse_hyperparameters(
        {"model_kind": "location", "base_model": "x", "learning_rate": "3e-5", "epochs": "2.0"}
    )
    assert location.learning_rate == pytest.approx(3e-5)
    assert location.epochs == 2
    assert location.batch_size == 16


def test_values_json_encoded_by_the_sagemaker_sdk_are_unquoted(job: Job) -> None:
    job.hyperparameters({"model_kind": '"location"', "base_model": '"some/encoder"', "lr_note": "x"})
    raw = contract.read_hyperparameters(Paths.from_env({"HAWKINS_ML_ROOT": str(job.root)}))
    assert raw["model_kind"] == "location"
    assert raw["base_model"] == "some/encoder"


def test_themes_are_trimmed_and_deduplicated() -> None:
    hp = parse_hyperparameters({"model_kind": "theme", "base_model": "nli", "themes": " friendship, Fear ,,fear,loss "})
    assert hp.themes == ("friendship", "Fear", "loss")


def test_unknown_keys_are_kept_aside_not_rejected() -> None:
    hp = parse_hyperparameters(
        {"model_kind": "theme", "base_model": "nli", "themes": "a", "sagemaker_region": "eu-west-1"}
    )
    assert hp.ignored == ("sagemaker_region",)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"learning_rate": "fast"}, "learning_rate must be a number between 0 and 1, such as 2e-4, got 'fast'"),
        ({"epochs": "-2"}, "epochs must be a whole number of at least 1, got '-2'"),
        ({"model_kind": "poster"}, "model_kind 'poster' is unknown"),
        ({"character": ""}, "character is missing"),
        ({"batch_size": "0"}, "batch_size must be a whole number of at least 1"),
        ({"lora_dropout": "1.5"}, "lora_dropout must be a number from 0 up to"),
        ({"eval_fraction": "nan"}, "eval_fraction must be a number"),
        ({"max_steps": "-1"}, "max_steps must be a whole number of at least 0"),
        ({"precision": "fp8"}, "precision must be one of auto, bf16, fp32"),
        ({"hf_token_secret_arn": "my-token"}, "hf_token_secret_arn must be the ARN"),
        ({"base_model": ""}, "base_model is missing"),
    ],
)
def test_bad_values_are_named_in_the_message(overrides: dict[str, str], expected: str) -> None:
    raw = {"model_kind": "chatbot", "base_model": "org/model", "character": "Eleven", **overrides}
    with pytest.raises(JobError) as caught:
        parse_hyperparameters(raw)
    assert expected in str(caught.value)


def test_all_problems_are_reported_together() -> None:
    with pytest.raises(JobError) as caught:
        parse_hyperparameters({"model_kind": "chatbot", "base_model": "m", "learning_rate": "x", "epochs": "-1"})
    message = str(caught.value)
    assert "learning_rate" in message and "epochs" in message and "character is missing" in message
    assert "\n" not in message


def test_theme_needs_themes() -> None:
    with pytest.raises(JobError, match="themes is missing"):
        parse_hyperparameters({"model_kind": "theme", "base_model": "nli"})


def test_bad_hyperparameter_writes_failure_and_exits_non_zero(job: Job, capsys: pytest.CaptureFixture[str]) -> None:
    job.hyperparameters(
        {"model_kind": "chatbot", "base_model": "org/model", "character": "Eleven", "learning_rate": "fast"}
    )
    code, out = run_in_process(job, capsys)
    assert code == 1
    text = job.failure.read_text(encoding="utf-8")
    assert text.count("\n") == 1 and text.endswith("\n")
    assert "learning_rate" in text and "'fast'" in text
    assert "METRIC" not in out
    assert not job.model_dir.exists()


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"model_kind": "tentacle", "base_model": "m"}, "model_kind 'tentacle' is unknown"),
        ({"model_kind": "chatbot", "base_model": "m"}, "character is missing"),
        ({"model_kind": "location", "base_model": "m", "epochs": "-3"}, "epochs must be a whole number"),
    ],
)
def test_each_bad_hyperparameter_fails_cleanly(job: Job, values: dict[str, str], expected: str) -> None:
    job.hyperparameters(values)
    assert run_in_process(job)[0] == 1
    assert expected in job.failure.read_text(encoding="utf-8")


def test_missing_hyperparameters_file_fails_cleanly(job: Job) -> None:
    job.root.mkdir(parents=True)
    assert run_in_process(job)[0] == 1
    assert "found no hyperparameters" in job.failure.read_text(encoding="utf-8")


def test_missing_channel_fails_cleanly(job: Job, encoder_base: Path) -> None:
    job.hyperparameters({"model_kind": "location", "base_model": encoder_base})
    assert run_in_process(job)[0] == 1
    assert "training channel" in job.failure.read_text(encoding="utf-8")


def test_failure_message_is_one_paragraph_within_sagemakers_limit(tmp_path: Path) -> None:
    paths = Paths.from_env({"HAWKINS_ML_ROOT": str(tmp_path)})
    contract.write_failure(paths, "first line\n\nsecond   line " + "x" * 2000)
    text = paths.failure.read_text(encoding="utf-8").rstrip("\n")
    assert text.startswith("first line second line x")
    assert len(text) <= contract.FAILURE_MAX_CHARS and text.endswith("...")


def test_entry_point_as_sagemaker_invokes_it(job: Job) -> None:
    """`<image> train` runs `python -m hawkins_train train`; a bad value fails before torch loads."""
    job.hyperparameters({"model_kind": "chatbot", "base_model": "m"})
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "hawkins_train", "train"],
        cwd=DOCKER,
        env=job.env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "character is missing" in job.failure.read_text(encoding="utf-8")
    imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")}
    assert "hawkins_train.contract" in imported and "torch" not in imported
    assert time.monotonic() - started < 30
    usage = subprocess.run(
        [sys.executable, "-m", "hawkins_train"], cwd=DOCKER, capture_output=True, text=True, timeout=60
    )
    assert usage.returncode == 2 and "usage" in usage.stderr


def test_the_hf_token_reaches_the_trainer_and_is_never_printed(
    job: Job, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import hawkins_train.hf_token
    import hawkins_train.location

    arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:hawkins/hf-AbCdEf"
    seen: dict[str, object] = {}
    monkeypatch.setattr(
        hawkins_train.hf_token, "read_hf_token", lambda value: seen.setdefault("arn", value) and "hf_secret_value"
    )

    def fake_train(hp, paths, token, stop):  # noqa: ANN001
        seen["token"] = token
        return {}

    monkeypatch.setattr(hawkins_train.location, "train", fake_train)
    job.hyperparameters({"model_kind": "location", "base_model": "m", "hf_token_secret_arn": arn})
    code, out = run_in_process(job, capsys)
    assert code == 0
    assert seen == {"arn": arn, "token": "hf_secret_value"}
    captured = capsys.readouterr()
    assert "hf_secret_value" not in out + captured.out + captured.err
    assert "hf_secret_value" not in json.dumps(os.environ.copy())


def test_an_unexpected_error_still_leaves_a_readable_failure(job: Job, monkeypatch: pytest.MonkeyPatch) -> None:
    import hawkins_train.location

    def broken(hp, paths, token, stop):  # noqa: ANN001
        raise RuntimeError("the gate will not close")

    monkeypatch.setattr(hawkins_train.location, "train", broken)
    job.hyperparameters({"model_kind": "location", "base_model": "m"})
    assert run_in_process(job)[0] == 1
    text = job.failure.read_text()
    assert text.startswith("The location job failed unexpectedly: RuntimeError: the gate will not close.")
