"""`serve` on loopback: /ping, /invocations and /execution-parameters, as SageMaker calls them."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hawkins_train.serve import make_server


@contextmanager
def serving(model_dir: Path) -> Iterator[str]:
    server = make_server(model_dir, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def call(
    url: str, body: bytes | None = None, content_type: str = "application/json", accept: str | None = None
) -> tuple[int, str, str]:
    request = urllib.request.Request(url, data=body, method="POST" if body is not None else "GET")
    request.add_header("Content-Type", content_type)
    if accept:
        request.add_header("Accept", accept)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers.get("Content-Type"), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type"), error.read().decode()


def test_classifier_endpoint(trained_location: Path) -> None:
    with serving(trained_location) as base:
        assert call(f"{base}/ping")[0] == 200
        status, content_type, text = call(
            f"{base}/invocations", json.dumps({"inputs": ["A quiet lake with a dock."]}).encode()
        )
        assert (status, content_type) == (200, "application/json")
        [prediction] = json.loads(text)["predictions"]
        assert set(prediction) == {"label", "score"}
        status, _, text = call(f"{base}/invocations", b'{"inputs": []}')
        assert status == 400 and "non-empty list" in json.loads(text)["error"]
        assert call(f"{base}/nowhere")[0] == 404


def test_chatbot_endpoint(trained_chatbot: Path) -> None:
    with serving(trained_chatbot) as base:
        request = {"messages": [{"role": "user", "content": "Where is Will?"}], "max_new_tokens": 4, "temperature": 0.7}
        status, _, text = call(f"{base}/invocations", json.dumps(request).encode())
        assert status == 200
        assert json.loads(text)["character"] == "Eleven"


def test_theme_batch_transform(theme_model: Path) -> None:
    records = [
        {"episode": "S01E01", "batch": 0, "sentences": ["The boys ride home in the dark."]},
        {"episode": "S01E01", "batch": 1, "sentences": ["A light flickers.", "Nobody answers the phone."]},
    ]
    body = ("\n".join(json.dumps(r) for r in records) + "\n").encode()
    with serving(theme_model) as base:
        status, text_type, text = call(f"{base}/execution-parameters")
        assert status == 200 and json.loads(text)["BatchStrategy"] == "MULTI_RECORD"
        status, content_type, text = call(f"{base}/invocations", body, "application/jsonlines", "application/jsonlines")
        assert (status, content_type) == (200, "application/jsonlines")
        outputs = [json.loads(line) for line in text.splitlines()]
        assert [(o["episode"], o["batch"]) for o in outputs] == [("S01E01", 0), ("S01E01", 1)]
        status, _, text = call(f"{base}/invocations", b'{"episode": 1}', "application/jsonlines")
        assert status == 400
