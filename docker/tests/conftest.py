from __future__ import annotations

import json
import os
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

DOCKER = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent
for folder in (DOCKER, TESTS):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

import tiny_models  # noqa: E402

DATA = TESTS / "data"
ENV_KEYS = ("HAWKINS_ML_ROOT", "SM_MODEL_DIR", "SM_CHANNEL_TRAIN", "SM_OUTPUT_DATA_DIR", "HAWKINS_CHECKPOINT_DIR")


def metric_definitions() -> list[dict[str, str]]:
    return json.loads((DOCKER / "metric_definitions.json").read_text(encoding="utf-8"))


def parse_metrics(stdout: str) -> list[tuple[str, int, float]]:
    """(name, step, value) for every line a definition matches, applying the published regexes
    as SageMaker does, and checking each line against the anchored form of the same regex too."""
    found = []
    definitions = metric_definitions()
    for line in stdout.splitlines():
        matches = [(d["Name"], re.search(d["Regex"], line)) for d in definitions]
        matches = [(name, m) for name, m in matches if m]
        if not line.startswith("METRIC "):
            assert not matches, f"a non-metric line matched a metric regex: {line!r}"
            continue
        assert len(matches) == 1, f"{line!r} matched {len(matches)} metric definitions"
        name, match = matches[0]
        full = re.fullmatch(r"METRIC step=(\d+) " + re.escape(name) + r"=([0-9.eE+-]+)", line)
        assert full, f"{line!r} is not exactly 'METRIC step=<int> {name}=<float>'"
        assert float(match.group(1)) == float(full.group(2))
        found.append((name, int(full.group(1)), float(match.group(1))))
    return found


@dataclass
class Job:
    """One SageMaker-style job folder (the /opt/ml tree) under a temporary directory."""

    root: Path

    @property
    def model_dir(self) -> Path:
        return self.root / "model"

    @property
    def channel(self) -> Path:
        return self.root / "input" / "data" / "train"

    @property
    def failure(self) -> Path:
        return self.root / "output" / "failure"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def output_data(self) -> Path:
        return self.root / "output" / "data"

    def hyperparameters(self, values: dict[str, object]) -> Job:
        path = self.root / "input" / "config" / "hyperparameters.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({k: str(v) for k, v in values.items()}), encoding="utf-8")
        return self

    def add(self, *names: str) -> Job:
        self.channel.mkdir(parents=True, exist_ok=True)
        for name in names:
            shutil.copyfile(DATA / name, self.channel / name)
        return self

    def env(self) -> dict[str, str]:
        environment = {k: v for k, v in os.environ.items() if k not in ENV_KEYS}
        environment["HAWKINS_ML_ROOT"] = str(self.root)
        return environment


def run_in_process(job: Job, capsys: pytest.CaptureFixture[str] | None = None) -> tuple[int, str]:
    """Runs `train` in this process (much faster than a subprocess: torch is imported once)."""
    from hawkins_train.__main__ import main

    with pytest.MonkeyPatch.context() as patch:
        for key in ENV_KEYS:
            patch.delenv(key, raising=False)
        patch.setenv("HAWKINS_ML_ROOT", str(job.root))
        if capsys is not None:
            capsys.readouterr()
        code = main(["train"])
        out = capsys.readouterr().out if capsys is not None else ""
    return code, out


@pytest.fixture
def job(tmp_path: Path) -> Job:
    return Job(tmp_path / "ml")


@pytest.fixture(scope="session")
def chat_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_models.build_causal_lm(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="session")
def encoder_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_models.build_encoder(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="session")
def nli_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_models.build_nli(tmp_path_factory.mktemp("tiny-nli"))


def chatbot_hyperparameters(base: Path, **overrides: object) -> dict[str, object]:
    values: dict[str, object] = {
        "model_kind": "chatbot",
        "base_model": base,
        "character": "Eleven",
        "max_steps": 6,
        "batch_size": 4,
        "learning_rate": "0.005",
        "lora_r": 4,
        "lora_alpha": 8,
        "lora_dropout": "0.1",
        "eval_fraction": "0.2",
        "log_steps": 2,
        "checkpoint_steps": 4,
        "max_seq_length": 64,
        "seed": 7,
    }
    values.update(overrides)
    return values


def location_hyperparameters(base: Path, **overrides: object) -> dict[str, object]:
    values: dict[str, object] = {
        "model_kind": "location",
        "base_model": base,
        "max_steps": 6,
        "batch_size": 8,
        "learning_rate": "0.001",
        "eval_fraction": "0.25",
        "log_steps": 2,
        "eval_steps": 3,
        "checkpoint_steps": 2,
        "seed": 3,
    }
    values.update(overrides)
    return values


@pytest.fixture(scope="session")
def trained_chatbot(tmp_path_factory: pytest.TempPathFactory, chat_base: Path) -> Path:
    job = Job(tmp_path_factory.mktemp("chatbot-job"))
    job.hyperparameters(chatbot_hyperparameters(chat_base, max_steps=3)).add("eleven.jsonl")
    code, _ = run_in_process(job)
    assert code == 0
    return job.model_dir


@pytest.fixture(scope="session")
def trained_location(tmp_path_factory: pytest.TempPathFactory, encoder_base: Path) -> Path:
    job = Job(tmp_path_factory.mktemp("location-job"))
    job.hyperparameters(location_hyperparameters(encoder_base, max_steps=3)).add("locations.jsonl")
    code, _ = run_in_process(job)
    assert code == 0
    return job.model_dir


@pytest.fixture(scope="session")
def theme_model(tmp_path_factory: pytest.TempPathFactory, nli_base: Path) -> Path:
    job = Job(tmp_path_factory.mktemp("theme-job"))
    job.hyperparameters({"model_kind": "theme", "base_model": nli_base, "themes": "friendship, fear,loss"})
    code, _ = run_in_process(job)
    assert code == 0
    return job.model_dir
