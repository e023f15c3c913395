from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import DOCKER, Job, chatbot_hyperparameters, parse_metrics, run_in_process
from safetensors.torch import load_file

from hawkins_train.chatbot import encode, load_tokenizer
from hawkins_train.contract import parse_hyperparameters


def adapter(model_dir: Path) -> dict[str, torch.Tensor]:
    return load_file(str(model_dir / "adapter_model.safetensors"))


def test_trains_a_few_steps_and_writes_the_adapter(
    job: Job, chat_base: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    job.hyperparameters(chatbot_hyperparameters(chat_base)).add("eleven.jsonl")
    code, out = run_in_process(job, capsys)
    assert code == 0, job.failure.read_text() if job.failure.exists() else ""
    assert not job.failure.exists()

    found = parse_metrics(out)
    assert [(n, s) for n, s, _ in found if n == "loss"] == [("loss", 2), ("loss", 4), ("loss", 6)]
    assert [(n, s) for n, s, _ in found if n == "eval_loss"] == [("eval_loss", 6)]
    assert all(v > 0 for _, _, v in found)

    for name in (
        "adapter_config.json",
        "adapter_model.safetensors",
        "tokenizer.json",
        "hawkins.json",
        "code/inference.py",
    ):
        assert (job.model_dir / name).is_file(), name
    weights = adapter(job.model_dir)
    assert weights and all("lora_" in key for key in weights)
    meta = json.loads((job.model_dir / "hawkins.json").read_text())
    assert meta["kind"] == "chatbot" and meta["character"] == "Eleven"
    assert meta["system_prompt"].startswith("You are Eleven")
    assert meta["base_model"] == str(chat_base)
    assert json.loads((job.model_dir / "adapter_config.json").read_text())["r"] == 4
    assert [p.name for p in job.checkpoints.iterdir()] == ["step-00000004"]
    summary = json.loads((job.output_data / "metrics.json").read_text())
    assert summary["model_kind"] == "chatbot" and summary["steps"] == 6 and "eval_loss" in summary


def test_resumed_run_continues_from_the_checkpoint_and_ends_with_the_same_adapter(
    tmp_path: Path, chat_base: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = Job(tmp_path / "first")
    first.hyperparameters(chatbot_hyperparameters(chat_base, checkpoint_steps=2)).add("eleven.jsonl")
    assert run_in_process(first)[0] == 0
    assert sorted(p.name for p in first.checkpoints.iterdir()) == ["step-00000002", "step-00000004"]

    # A second job finding the first one's step-4 checkpoint (as after a spot interruption at
    # step 4) runs only steps 5 and 6, and ends with the weights of the uninterrupted run.
    second = Job(tmp_path / "second")
    second.hyperparameters(chatbot_hyperparameters(chat_base, checkpoint_steps=2)).add("eleven.jsonl")
    second.checkpoints.mkdir(parents=True)
    (first.checkpoints / "step-00000004").rename(second.checkpoints / "step-00000004")
    code, out = run_in_process(second, capsys)
    assert code == 0
    steps = [step for name, step, _ in parse_metrics(out) if name == "loss"]
    assert steps == [6]
    for key, value in adapter(first.model_dir).items():
        torch.testing.assert_close(adapter(second.model_dir)[key], value, rtol=1e-5, atol=1e-6)


def test_a_checkpoint_from_other_settings_is_not_resumed(
    tmp_path: Path, chat_base: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = Job(tmp_path / "first")
    first.hyperparameters(chatbot_hyperparameters(chat_base)).add("eleven.jsonl")
    assert run_in_process(first)[0] == 0
    other = Job(tmp_path / "other")
    other.hyperparameters(chatbot_hyperparameters(chat_base, lora_r=2)).add("eleven.jsonl")
    other.checkpoints.mkdir(parents=True)
    (first.checkpoints / "step-00000004").rename(other.checkpoints / "step-00000004")
    code, out = run_in_process(other, capsys)
    assert code == 0
    assert [s for n, s, _ in parse_metrics(out) if n == "loss"] == [2, 4, 6]


def test_sigterm_checkpoints_stops_and_the_rerun_resumes(tmp_path: Path, chat_base: Path) -> None:
    """A spot interruption as SageMaker delivers it: SIGTERM to the running container."""
    job = Job(tmp_path / "spot")
    job.hyperparameters(
        chatbot_hyperparameters(chat_base, max_steps=80, checkpoint_steps=3, log_steps=1, eval_fraction=0)
    )
    job.add("eleven.jsonl")
    command = [sys.executable, "-m", "hawkins_train", "train"]
    process = subprocess.Popen(
        command, cwd=DOCKER, env=job.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith("METRIC step=2 "):
                process.send_signal(signal.SIGTERM)
                break
        rest, errors = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 143, errors
    assert not job.failure.exists()
    assert not (job.model_dir / "adapter_model.safetensors").exists()
    stopped_at = max(
        int(line.split()[1].split("=")[1])
        for line in rest.splitlines() + ["METRIC step=2 loss=0"]
        if line.startswith("METRIC")
    )
    assert 2 <= stopped_at < 80
    assert (job.checkpoints / f"step-{stopped_at:08d}" / "state.json").is_file()

    # SageMaker restarts the interrupted job with the same hyperparameters (log_steps only changes
    # how often the loss is printed, not the checkpoint's signature).
    job.hyperparameters(
        chatbot_hyperparameters(chat_base, max_steps=80, checkpoint_steps=3, log_steps=100, eval_fraction=0)
    )
    rerun = subprocess.run(command, cwd=DOCKER, env=job.env(), capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert f"resumed from checkpoint step={stopped_at}" in rerun.stderr
    assert f"{80 - stopped_at} steps to go" in rerun.stderr
    assert (job.model_dir / "adapter_model.safetensors").is_file()


def test_loss_is_taken_on_the_characters_line_only(chat_base: Path) -> None:
    hp = parse_hyperparameters({"model_kind": "chatbot", "base_model": str(chat_base), "character": "Eleven"})
    tokenizer = load_tokenizer(hp, None)
    messages = [{"role": "user", "content": "Where is Will?"}, {"role": "assistant", "content": "In the Upside Down."}]
    ids, labels, truncated = encode(tokenizer, messages, "You are Eleven.", 512)
    assert not truncated and len(ids) == len(labels)
    target = [i for i, label in zip(ids, labels) if label != -100]
    assert tokenizer.decode(target) == "in the upside down . <|end|>"
    prompt = tokenizer.decode([i for i, label in zip(ids, labels) if label == -100])
    assert prompt.startswith("<|system|> you are eleven .") and prompt.endswith("<|assistant|>")

    ids, labels, truncated = encode(tokenizer, messages, "You are Eleven. " * 40, 24)
    assert truncated and len(ids) == 24
    assert [i for i, label in zip(ids, labels) if label != -100] == target


def test_a_malformed_row_fails_with_its_line_number(job: Job, chat_base: Path) -> None:
    job.hyperparameters(chatbot_hyperparameters(chat_base)).add("eleven.jsonl")
    with (job.channel / "eleven.jsonl").open("a") as handle:
        handle.write(json.dumps({"messages": [{"role": "user", "content": "Hello?"}]}) + "\n")
    assert run_in_process(job)[0] == 1
    assert "eleven.jsonl line 33" in job.failure.read_text()


def test_an_unloadable_base_model_fails_cleanly(job: Job, tmp_path: Path) -> None:
    job.hyperparameters(chatbot_hyperparameters(tmp_path / "no-such-model")).add("eleven.jsonl")
    assert run_in_process(job)[0] == 1
    assert "Could not load the tokenizer of base_model" in job.failure.read_text()
