"""The handlers' documented JSON, through model_fn, input_fn, predict_fn and output_fn."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

from hawkins_train.inference import chatbot, classifier, theme

DESCRIPTIONS = [
    "A roadside diner with a kitchen door out back.",
    "A fenced government complex with sealed corridors.",
    "A loud arcade with rows of cabinets.",
]


def round_trip(
    module: ModuleType,
    model: object,
    request: object,
    content_type: str = "application/json",
    accept: str = "application/json",
) -> str:
    body = json.dumps(request) if not isinstance(request, str) else request
    return module.output_fn(module.predict_fn(module.input_fn(body.encode(), content_type), model), accept)


def load_copied_handler(model_dir: Path) -> ModuleType:
    """The model's code/inference.py, imported on its own, as a framework container would."""
    spec = importlib.util.spec_from_file_location(
        f"inference_{model_dir.parent.name}", model_dir / "code" / "inference.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def classifier_model(trained_location: Path) -> dict:
    return classifier.model_fn(str(trained_location))


@pytest.fixture(scope="module")
def chatbot_model(trained_chatbot: Path) -> dict:
    return chatbot.model_fn(str(trained_chatbot))


@pytest.fixture(scope="module")
def theme_bundle(theme_model: Path) -> dict:
    return theme.model_fn(str(theme_model))


def test_classifier_round_trip(classifier_model: dict) -> None:
    response = json.loads(round_trip(classifier, classifier_model, {"inputs": DESCRIPTIONS}))
    assert list(response) == ["predictions"]
    assert len(response["predictions"]) == 3
    for prediction in response["predictions"]:
        assert set(prediction) == {"label", "score"}
        assert prediction["label"] in {"Danger Zone", "Hangout", "Institution", "Safe Haven"}
        assert 0.25 <= prediction["score"] <= 1.0  # the arg-max of four probabilities


def test_classifier_accepts_a_single_string(classifier_model: dict) -> None:
    single = json.loads(round_trip(classifier, classifier_model, {"inputs": DESCRIPTIONS[0]}))
    batch = json.loads(round_trip(classifier, classifier_model, {"inputs": DESCRIPTIONS}))
    assert single["predictions"] == batch["predictions"][:1]


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        ('{"inputs": []}', "application/json", "non-empty list"),
        ('{"inputs": [1, 2]}', "application/json", "non-empty list"),
        ('{"text": "x"}', "application/json", "non-empty list"),
        ("not json", "application/json", "not valid JSON"),
        ('{"inputs": ["x"]}', "text/csv", "unsupported content type"),
    ],
)
def test_classifier_rejects_bad_requests(body: str, content_type: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        classifier.input_fn(body, content_type)


def test_chatbot_round_trip(chatbot_model: dict) -> None:
    request = {"messages": [{"role": "user", "content": "Where is Will?"}], "max_new_tokens": 8, "temperature": 0.7}
    response = json.loads(round_trip(chatbot, chatbot_model, request))
    assert set(response) == {"character", "reply"}
    assert response["character"] == "Eleven"
    assert isinstance(response["reply"], str)


def test_chatbot_prepends_the_stored_system_prompt(chatbot_model: dict) -> None:
    question = {"role": "user", "content": "Do you miss Mike?"}
    without = {"messages": [question], "max_new_tokens": 6, "temperature": 0}
    with_prompt = {
        "messages": [{"role": "system", "content": chatbot_model["system_prompt"]}, question],
        "max_new_tokens": 6,
        "temperature": 0,
    }
    other_prompt = {
        "messages": [{"role": "system", "content": "You are Hopper."}, question],
        "max_new_tokens": 6,
        "temperature": 0,
    }
    a = round_trip(chatbot, chatbot_model, without)
    assert a == round_trip(chatbot, chatbot_model, with_prompt)
    assert json.loads(round_trip(chatbot, chatbot_model, other_prompt))["character"] == "Eleven"


@pytest.mark.parametrize(
    ("request_body", "message"),
    [
        ({"messages": []}, "non-empty list"),
        ({"messages": [{"role": "assistant", "content": "Hi"}]}, "last message must be the user's"),
        ({"messages": [{"role": "narrator", "content": "Hi"}]}, "role"),
        ({"messages": [{"role": "user", "content": "Hi"}], "temperature": "hot"}, "temperature must be a number"),
        ({"messages": [{"role": "user", "content": "Hi"}], "max_new_tokens": 5000}, "max_new_tokens must be between"),
        (
            {"messages": [{"role": "user", "content": "Hi"}], "max_new_tokens": 2.5},
            "max_new_tokens must be a whole number",
        ),
    ],
)
def test_chatbot_rejects_bad_requests(request_body: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        chatbot.input_fn(json.dumps(request_body), "application/json")


def test_chatbot_request_defaults() -> None:
    parsed = chatbot.input_fn(
        '{"messages":[{"role":"user","content":"Where is Will?"}]}', "application/json; charset=utf-8"
    )
    assert parsed["max_new_tokens"] == 128 and parsed["temperature"] == 0.7 and parsed["top_p"] == 0.9


def test_theme_scores_json_lines(theme_bundle: dict) -> None:
    records = [
        json.loads(line) for line in Path(__file__).with_name("data").joinpath("batches.jsonl").read_text().splitlines()
    ]
    body = "\n".join(json.dumps(r) for r in records) + "\n"
    lines = round_trip(theme, theme_bundle, body, "application/jsonlines", "application/jsonlines").split("\n")
    outputs = [json.loads(line) for line in lines]
    assert len(outputs) == len(records)
    for record, output in zip(records, outputs):
        assert (output["episode"], output["batch"]) == (record["episode"], record["batch"])
        assert list(output["scores"]) == ["friendship", "fear", "loss"]
        assert "sentence_scores" not in output
    # A batch's score is the mean of its sentences' scores.
    matrix = theme.score_sentences(records[2]["sentences"], theme_bundle)
    assert matrix.shape == (5, 3)
    assert outputs[2]["scores"]["fear"] == pytest.approx(float(matrix[:, 1].mean()), abs=1e-6)


def test_theme_sentence_scores_and_empty_batches(theme_bundle: dict) -> None:
    bundle = {**theme_bundle, "sentence_scores": True}
    record = {"episode": "S02E03", "batch": 4, "sentences": ["Will sees a shadow.", "The boys wait by the phone."]}
    output = json.loads(round_trip(theme, bundle, record))
    assert len(output["sentence_scores"]) == 2
    assert all(set(s) == {"friendship", "fear", "loss"} for s in output["sentence_scores"])
    empty = json.loads(round_trip(theme, bundle, {"episode": "S02E03", "batch": 5, "sentences": []}))
    assert empty == {
        "episode": "S02E03",
        "batch": 5,
        "scores": {"friendship": 0.0, "fear": 0.0, "loss": 0.0},
        "sentence_scores": [],
    }


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('{"batch": 0, "sentences": []}', "no 'episode'"),
        ('{"episode": "S01E01", "batch": "0", "sentences": []}', "integer 'batch'"),
        ('{"episode": "S01E01", "batch": 0, "sentences": "one"}', "'sentences' list"),
        ('{"episode": "S01E01", "batch": 0, "sentences": []}\n{oops', "line 2 is not valid JSON"),
        ("", "no record"),
    ],
)
def test_theme_rejects_bad_records(body: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        theme.input_fn(body, "application/jsonlines")


@pytest.mark.parametrize("fixture", ["trained_location", "trained_chatbot", "theme_model"])
def test_the_copied_handler_is_self_contained(fixture: str, request: pytest.FixtureRequest) -> None:
    model_dir: Path = request.getfixturevalue(fixture)
    module = load_copied_handler(model_dir)
    assert all(callable(getattr(module, name)) for name in ("model_fn", "input_fn", "predict_fn", "output_fn"))
    source = (model_dir / "code" / "inference.py").read_text()
    assert "hawkins_train" not in source
    if fixture == "trained_location":
        model = module.model_fn(str(model_dir))
        assert len(json.loads(round_trip(module, model, {"inputs": DESCRIPTIONS}))["predictions"]) == 3
