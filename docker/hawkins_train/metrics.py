"""Metric lines on stdout, in the one form the job's MetricDefinitions parse.

    METRIC step=<int> <name>=<float>

The regexes SageMaker applies are kept in `docker/metric_definitions.json`, which the Rust config
reads too; the tests check every line printed here against those regexes.
"""

from __future__ import annotations

import math

NAMES = ("loss", "eval_loss", "accuracy", "f1")


def format_metric(step: int, name: str, value: float) -> str:
    if name not in NAMES:
        raise ValueError(f"unknown metric {name!r}")
    if not math.isfinite(value):
        raise ValueError(f"metric {name} is not finite: {value}")
    return f"METRIC step={int(step)} {name}={float(value):.6f}"


def emit(step: int, name: str, value: float) -> None:
    print(format_metric(step, name, value), flush=True)
