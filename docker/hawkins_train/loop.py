"""The training loop both trainers share: a fixed data order, checkpoints, resume, SIGTERM.

A step is one optimizer update on one batch. The order of the training examples is a function of
the seed and the epoch only, so a job resumed from the checkpoint of step N sees exactly the
batches it would have seen had it never stopped; with the optimizer, scheduler and random-number
states restored too, the resumed run ends with the same weights as an uninterrupted one.

Checkpoints live in `/opt/ml/checkpoints/step-<N>/`, which SageMaker copies to the job's
checkpoint S3 URI and back onto the new instance after a spot interruption. A checkpoint is
written under a temporary name and renamed once complete, and carries a signature of the job
(model, data, batch size, seed...): one written by a different job is ignored, not resumed.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from collections.abc import Callable

import torch

from . import metrics
from .contract import Hyperparameters, JobError, StopFlag, Stopped, log

STATE_FILE = "state.json"


@dataclass(frozen=True)
class Schedule:
    n_train: int
    batch_size: int
    epochs: int
    max_steps: int
    seed: int

    @property
    def steps_per_epoch(self) -> int:
        return max(1, math.ceil(self.n_train / self.batch_size))

    @property
    def total_steps(self) -> int:
        return self.max_steps if self.max_steps > 0 else self.epochs * self.steps_per_epoch

    def batch_indices(self, step: int) -> list[int]:
        """The training examples of 0-based step `step`."""
        epoch, position = divmod(step, self.steps_per_epoch)
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        order = torch.randperm(self.n_train, generator=generator).tolist()
        return order[position * self.batch_size : (position + 1) * self.batch_size]


class CheckpointStore:
    def __init__(self, root: Path, signature: dict[str, Any], keep: int = 2):
        self.root = root
        self.signature = json.loads(json.dumps(signature, sort_keys=True))
        self.keep = keep

    def _complete(self) -> list[tuple[int, Path]]:
        found: list[tuple[int, Path]] = []
        if not self.root.is_dir():
            return found
        for path in self.root.iterdir():
            if not (path.is_dir() and path.name.startswith("step-")):
                continue
            try:
                state = json.loads((path / STATE_FILE).read_text(encoding="utf-8"))
                found.append((int(state["step"]), path))
            except (OSError, ValueError, KeyError, TypeError):
                continue  # incomplete: the job stopped while writing it
        return sorted(found)

    def newest(self) -> tuple[int, Path] | None:
        for step, path in reversed(self._complete()):
            state = json.loads((path / STATE_FILE).read_text(encoding="utf-8"))
            if state.get("signature") == self.signature:
                return step, path
            log(f"ignoring checkpoint {path.name}: it was written by a job with other settings or data")
        return None

    def save(self, step: int, write: Callable[[Path], None]) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        final = self.root / f"step-{step:08d}"
        partial = self.root / f".partial-step-{step:08d}"
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir()
        write(partial)
        state = {"step": step, "signature": self.signature}
        (partial / STATE_FILE).write_text(json.dumps(state, sort_keys=True), encoding="utf-8")
        shutil.rmtree(final, ignore_errors=True)
        os.replace(partial, final)
        for _, old in self._complete()[: -self.keep]:
            shutil.rmtree(old, ignore_errors=True)
        log(f"checkpoint saved step={step} in {final}")
        return final


def _trainable(model: torch.nn.Module) -> dict[str, torch.nn.Parameter]:
    return {name: p for name, p in model.named_parameters() if p.requires_grad}


def _lr_lambda(total: int, warmup: int) -> Callable[[int], float]:
    def factor(step: int) -> float:
        if warmup and step < warmup:
            return (step + 1) / warmup
        return max(0.0, (total - step) / max(1, total - warmup))

    return factor


def run(
    *,
    model: torch.nn.Module,
    hp: Hyperparameters,
    schedule: Schedule,
    make_batch: Callable[[list[int]], dict[str, torch.Tensor]],
    batch_loss: Callable[[dict[str, torch.Tensor]], torch.Tensor],
    evaluate: Callable[[], dict[str, float]] | None,
    store: CheckpointStore,
    stop: StopFlag,
) -> dict[str, float]:
    """Trains `model` in place and returns the last values of each metric."""
    params = _trainable(model)
    if not params:
        raise JobError("The model has no trainable parameters; check lora_target_modules.")
    optimizer = torch.optim.AdamW(params.values(), lr=hp.learning_rate, weight_decay=0.0)
    total = schedule.total_steps
    warmup = int(total * hp.warmup_ratio)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _lr_lambda(total, warmup))
    uses_cuda = any(p.is_cuda for p in params.values())

    def write_checkpoint(folder: Path) -> None:
        torch.save({n: p.detach().cpu().clone() for n, p in params.items()}, folder / "trainable.pt")
        torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()}, folder / "optimizer.pt")
        rng = {"cpu": torch.get_rng_state(), "cuda": torch.cuda.get_rng_state_all() if uses_cuda else []}
        torch.save(rng, folder / "rng.pt")

    step = 0
    resumed = store.newest()
    if resumed is not None:
        step, folder = resumed
        saved = torch.load(folder / "trainable.pt", map_location="cpu", weights_only=True)
        if set(saved) != set(params):
            raise JobError(
                f"The checkpoint {folder.name} does not hold this model's trainable weights; "
                f"delete the job's checkpoints to start over."
            )
        with torch.no_grad():
            for name, tensor in saved.items():
                params[name].copy_(tensor)
        states = torch.load(folder / "optimizer.pt", map_location="cpu", weights_only=True)
        optimizer.load_state_dict(states["optimizer"])
        scheduler.load_state_dict(states["scheduler"])
        rng = torch.load(folder / "rng.pt", map_location="cpu", weights_only=True)
        torch.set_rng_state(rng["cpu"])
        if uses_cuda and rng["cuda"]:
            torch.cuda.set_rng_state_all(rng["cuda"])
        log(f"resumed from checkpoint step={step} ({folder.name}), {total - step} steps to go")

    log(
        f"training {total} steps: {schedule.n_train} examples, batch {schedule.batch_size}, "
        f"{len(params)} trainable tensors"
    )
    last: dict[str, float] = {}
    window_loss, window_steps = 0.0, 0
    started, first_step = time.monotonic(), step
    while step < total:
        if stop.requested:
            if step > 0:
                store.save(step, write_checkpoint)
            raise Stopped(step)
        model.train()
        batch = make_batch(schedule.batch_indices(step))
        loss = batch_loss(batch)
        value = float(loss.detach())
        if not math.isfinite(value):
            raise JobError(
                f"Training diverged: the loss became {value} at step {step + 1}. Lower learning_rate "
                f"(now {hp.learning_rate:g}) or check the training data."
            )
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params.values(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        window_loss += value
        window_steps += 1
        if step % hp.log_steps == 0 or step == total:
            last["loss"] = window_loss / window_steps
            metrics.emit(step, "loss", last["loss"])
            window_loss, window_steps = 0.0, 0
        if evaluate is not None and hp.eval_steps and step % hp.eval_steps == 0 and step < total:
            for name, result in evaluate().items():
                last[name] = result
                metrics.emit(step, name, result)
        if step < total and (step % hp.checkpoint_steps == 0 or stop.requested):
            store.save(step, write_checkpoint)
            if stop.requested:
                raise Stopped(step)

    elapsed = time.monotonic() - started
    ran = step - first_step
    if ran:
        log(f"trained {ran} steps in {elapsed:.2f} s ({ran / max(elapsed, 1e-9):.3f} steps/s)")
    if evaluate is not None:
        for name, result in evaluate().items():
            last[name] = result
            metrics.emit(step, name, result)
    last["steps"] = float(step)
    return last


def pick_device() -> torch.device:
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


def use_bf16(hp: Hyperparameters, device: torch.device) -> bool:
    if hp.precision == "fp32":
        return False
    supported = device.type == "cuda" and torch.cuda.is_bf16_supported()
    if hp.precision == "bf16" and not supported:
        log("precision=bf16 asked for, but this device has no bf16 support: training in fp32")
    return supported


def write_json(path: Path, document: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")
