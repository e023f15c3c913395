"""The SageMaker training contract as Hawkins uses it: where things are, what the hyperparameters
mean, and how a failure is reported.

Nothing here imports torch, so a bad hyperparameter is reported within a second of the container
starting, before the heavy libraries load.
"""

from __future__ import annotations

import json
import math
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Callable, Mapping

MODEL_KINDS = ("chatbot", "location", "theme")

# SageMaker cuts FailureReason at 1024 characters; keep ours inside that.
FAILURE_MAX_CHARS = 1000


class JobError(Exception):
    """A failure with a message written for a person: it becomes the job's FailureReason."""


class Stopped(Exception):
    """SageMaker asked the job to stop (SIGTERM: spot interruption or StopTrainingJob)."""

    def __init__(self, step: int):
        super().__init__(f"stopped at step {step}")
        self.step = step


class StopFlag:
    """Set by SIGTERM; the loop checks it after every step."""

    def __init__(self) -> None:
        self.requested = False

    def __call__(self, signum: int = 15, frame: object = None) -> None:
        if not self.requested:
            log("SIGTERM received: the job will checkpoint after this step and stop")
        self.requested = True


def log(message: str) -> None:
    """One log line on stderr (stdout carries only the METRIC lines)."""
    print(f"hawkins: {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Paths:
    """The container's file layout. Every path can be moved by an environment variable, so the
    same code runs under /opt/ml in SageMaker and under a temporary folder in the tests."""

    root: Path
    hyperparameters: Path
    train_channel: Path
    model_dir: Path
    output_data_dir: Path
    failure: Path
    checkpoints: Path

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Paths:
        env = os.environ if env is None else env
        root = Path(env.get("HAWKINS_ML_ROOT") or "/opt/ml")
        return cls(
            root=root,
            hyperparameters=root / "input" / "config" / "hyperparameters.json",
            train_channel=Path(env.get("SM_CHANNEL_TRAIN") or root / "input" / "data" / "train"),
            model_dir=Path(env.get("SM_MODEL_DIR") or root / "model"),
            output_data_dir=Path(env.get("SM_OUTPUT_DATA_DIR") or root / "output" / "data"),
            failure=root / "output" / "failure",
            checkpoints=Path(env.get("HAWKINS_CHECKPOINT_DIR") or root / "checkpoints"),
        )


def write_failure(paths: Paths, message: str) -> None:
    """Writes the one-paragraph message SageMaker shows as FailureReason (and Hawkins' alert)."""
    text = " ".join(message.split())
    if len(text) > FAILURE_MAX_CHARS:
        text = text[: FAILURE_MAX_CHARS - 3].rstrip() + "..."
    log(f"failed: {text}")
    try:
        paths.failure.parent.mkdir(parents=True, exist_ok=True)
        paths.failure.write_text(text + "\n", encoding="utf-8")
    except OSError as err:  # the message is in the log all the same
        log(f"could not write {paths.failure}: {err}")


def read_hyperparameters(paths: Paths) -> dict[str, str]:
    """Reads hyperparameters.json. SageMaker passes every value as a string; the SageMaker Python
    SDK additionally JSON-encodes them (`"\\"0.001\\""`), so one layer of quotes is taken off."""
    if not paths.hyperparameters.exists():
        raise JobError(
            f"The container found no hyperparameters at {paths.hyperparameters}. "
            "Hawkins always sets at least model_kind and base_model; was the job started by hand?"
        )
    try:
        raw = json.loads(paths.hyperparameters.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise JobError(f"The hyperparameters file {paths.hyperparameters} is not readable JSON: {err}.") from None
    if not isinstance(raw, dict):
        raise JobError(f"The hyperparameters file {paths.hyperparameters} must hold a JSON object.")
    values: dict[str, str] = {}
    for key, value in raw.items():
        if not isinstance(value, str):
            value = json.dumps(value) if not isinstance(value, (int, float)) else str(value)
        stripped = value.strip()
        if len(stripped) >= 2 and stripped[0] == '"' and stripped[-1] == '"':
            try:
                decoded = json.loads(stripped)
                if isinstance(decoded, str):
                    stripped = decoded.strip()
            except json.JSONDecodeError:
                pass
        values[str(key)] = stripped
    return values


@dataclass(frozen=True)
class Hyperparameters:
    model_kind: str
    base_model: str
    character: str | None
    epochs: int
    max_steps: int
    learning_rate: float
    batch_size: int
    lora_r: int
    lora_alpha: float
    lora_dropout: float
    lora_target_modules: str
    eval_fraction: float
    seed: int
    max_seq_length: int
    warmup_ratio: float
    checkpoint_steps: int
    log_steps: int
    eval_steps: int
    gradient_checkpointing: bool
    precision: str
    themes: tuple[str, ...]
    hypothesis_template: str
    hf_token_secret_arn: str | None
    ignored: tuple[str, ...] = field(default=())


# Defaults that differ by model kind: (chatbot, location, theme).
_KIND_DEFAULTS = {
    "learning_rate": {"chatbot": "2e-4", "location": "5e-5", "theme": "5e-5"},
    "batch_size": {"chatbot": "4", "location": "16", "theme": "16"},
    "epochs": {"chatbot": "3", "location": "4", "theme": "1"},
    "max_seq_length": {"chatbot": "512", "location": "256", "theme": "256"},
}

_DEFAULTS = {
    "max_steps": "0",
    "lora_r": "16",
    "lora_alpha": "32",
    "lora_dropout": "0.05",
    "lora_target_modules": "all-linear",
    "eval_fraction": "0.1",
    "seed": "42",
    "warmup_ratio": "0.03",
    "checkpoint_steps": "50",
    "log_steps": "10",
    "eval_steps": "0",
    "gradient_checkpointing": "false",
    "precision": "auto",
    "themes": "",
    "hypothesis_template": "This text is about {}.",
}

KNOWN_KEYS = frozenset(
    {"model_kind", "base_model", "character", "hf_token_secret_arn"} | set(_KIND_DEFAULTS) | set(_DEFAULTS)
)


def _integer(minimum: int, meaning: str) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            try:
                as_float = float(text)
            except ValueError:
                raise ValueError(meaning) from None
            if not as_float.is_integer():
                raise ValueError(meaning) from None
            value = int(as_float)
        if value < minimum:
            raise ValueError(meaning)
        return value

    return parse


def _number(check: Callable[[float], bool], meaning: str) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise ValueError(meaning) from None
        if not math.isfinite(value) or not check(value):
            raise ValueError(meaning)
        return value

    return parse


def _boolean(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no", ""):
        return False
    raise ValueError("must be true or false")


def _choice(*options: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text.lower() not in options:
            raise ValueError("must be one of " + ", ".join(options))
        return text.lower()

    return parse


_PARSERS: dict[str, Callable[[str], object]] = {
    "epochs": _integer(1, "must be a whole number of at least 1"),
    "max_steps": _integer(0, "must be a whole number of at least 0 (0 means: run the full epochs)"),
    "learning_rate": _number(lambda v: 0 < v < 1, "must be a number between 0 and 1, such as 2e-4"),
    "batch_size": _integer(1, "must be a whole number of at least 1"),
    "lora_r": _integer(1, "must be a whole number of at least 1"),
    "lora_alpha": _number(lambda v: v > 0, "must be a positive number"),
    "lora_dropout": _number(lambda v: 0 <= v < 1, "must be a number from 0 up to (not including) 1"),
    "eval_fraction": _number(lambda v: 0 <= v < 1, "must be a number from 0 up to (not including) 1"),
    "seed": _integer(0, "must be a whole number of at least 0"),
    "max_seq_length": _integer(16, "must be a whole number of at least 16"),
    "warmup_ratio": _number(lambda v: 0 <= v < 1, "must be a number from 0 up to (not including) 1"),
    "checkpoint_steps": _integer(1, "must be a whole number of at least 1"),
    "log_steps": _integer(1, "must be a whole number of at least 1"),
    "eval_steps": _integer(0, "must be a whole number of at least 0 (0 means: only at the end)"),
    "gradient_checkpointing": _boolean,
    "precision": _choice("auto", "bf16", "fp32"),
}


def parse_hyperparameters(raw: Mapping[str, str]) -> Hyperparameters:
    """Validates every value and reports all the problems at once, in one paragraph."""
    problems: list[str] = []
    kind = raw.get("model_kind", "").lower()
    if not kind:
        problems.append("model_kind is missing (it must be chatbot, location or theme)")
    elif kind not in MODEL_KINDS:
        problems.append(f"model_kind '{raw['model_kind']}' is unknown (it must be chatbot, location or theme)")
    base_model = raw.get("base_model", "")
    if not base_model:
        problems.append("base_model is missing (a Hugging Face model id or a local path)")
    character = raw.get("character") or None
    if kind == "chatbot" and not character:
        problems.append("character is missing: a chatbot job trains one character's model")

    lookup_kind = kind if kind in MODEL_KINDS else "chatbot"
    values: dict[str, object] = {}
    for key, parser in _PARSERS.items():
        default = _KIND_DEFAULTS[key][lookup_kind] if key in _KIND_DEFAULTS else _DEFAULTS[key]
        text = raw.get(key, "") or default
        try:
            values[key] = parser(text)
        except ValueError as err:
            problems.append(f"{key} {err}, got '{text}'")

    themes: tuple[str, ...] = ()
    seen: set[str] = set()
    for theme in (raw.get("themes") or "").split(","):
        theme = theme.strip()
        if theme and theme.lower() not in seen:
            seen.add(theme.lower())
            themes = themes + (theme,)
    if kind == "theme" and not themes:
        problems.append("themes is missing: a theme job needs a comma-separated list such as 'friendship,fear'")

    template = raw.get("hypothesis_template") or _DEFAULTS["hypothesis_template"]
    if template.count("{}") != 1:
        problems.append(f"hypothesis_template must contain '{{}}' exactly once, got '{template}'")

    arn = raw.get("hf_token_secret_arn") or None
    if arn is not None and not (arn.startswith("arn:") and ":secretsmanager:" in arn):
        problems.append("hf_token_secret_arn must be the ARN of a Secrets Manager secret")

    target_modules = raw.get("lora_target_modules") or _DEFAULTS["lora_target_modules"]

    if problems:
        raise JobError(
            "The training job's hyperparameters are not valid: "
            + "; ".join(problems)
            + ". Fix them in the Hawkins config and start the job again."
        )

    ignored = tuple(sorted(key for key in raw if key not in KNOWN_KEYS))
    return Hyperparameters(
        model_kind=kind,
        base_model=base_model,
        character=character,
        lora_target_modules=target_modules,
        themes=themes,
        hypothesis_template=template,
        hf_token_secret_arn=arn,
        ignored=ignored,
        **values,  # type: ignore[arg-type]
    )


def read_jsonl(path: Path) -> list[tuple[int, object]]:
    """(line number, parsed value) for each non-blank line; a broken line is a JobError naming it."""
    rows: list[tuple[int, object]] = []
    try:
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    rows.append((number, json.loads(line)))
                except json.JSONDecodeError as err:
                    raise JobError(f"{path.name} line {number} is not valid JSON: {err.msg}.") from None
    except UnicodeDecodeError:
        raise JobError(f"{path.name} is not UTF-8 text.") from None
    return rows


def channel_files(channel: Path, what: str) -> list[Path]:
    """Every *.jsonl file under the channel, in a stable order."""
    if not channel.is_dir():
        raise JobError(
            f"The training channel {channel} does not exist: the job was started without the "
            f"'train' input that holds {what}."
        )
    files = sorted(p for p in channel.rglob("*.jsonl") if p.is_file())
    if not files:
        raise JobError(f"The training channel {channel} holds no .jsonl file; it should hold {what}.")
    return files
