from __future__ import annotations

import math
import re

import pytest
from conftest import metric_definitions, parse_metrics

from hawkins_train import metrics


def test_definitions_cover_every_metric_the_trainers_print() -> None:
    definitions = metric_definitions()
    assert [d["Name"] for d in definitions] == list(metrics.NAMES)
    for definition in definitions:
        assert set(definition) == {"Name", "Regex"}
        assert re.compile(definition["Regex"]).groups == 1


@pytest.mark.parametrize("name", metrics.NAMES)
@pytest.mark.parametrize("value", [0.0, 1.234567, 0.70, 12345.5, 1e-9])
def test_each_line_is_parsed_by_exactly_its_own_regex(name: str, value: float) -> None:
    line = metrics.format_metric(40, name, value)
    assert re.fullmatch(r"METRIC step=\d+ " + name + r"=[0-9.eE+-]+", line)
    [(parsed_name, step, parsed)] = parse_metrics(line)
    assert (parsed_name, step) == (name, 40)
    assert parsed == pytest.approx(value, abs=1e-6)


def test_the_documented_example_lines() -> None:
    text = (
        "METRIC step=20 loss=1.234567\nMETRIC step=20 eval_loss=1.5\n"
        "METRIC step=40 accuracy=0.75\nMETRIC step=40 f1=0.70\n"
    )
    assert parse_metrics(text) == [
        ("loss", 20, 1.234567),
        ("eval_loss", 20, 1.5),
        ("accuracy", 40, 0.75),
        ("f1", 40, 0.70),
    ]


def test_non_finite_and_unknown_metrics_are_refused() -> None:
    with pytest.raises(ValueError):
        metrics.format_metric(1, "loss", math.nan)
    with pytest.raises(ValueError):
        metrics.format_metric(1, "perplexity", 1.0)


def test_emit_prints_one_flushed_line(capsys: pytest.CaptureFixture[str]) -> None:
    metrics.emit(3, "f1", 0.5)
    assert capsys.readouterr().out == "METRIC step=3 f1=0.500000\n"
