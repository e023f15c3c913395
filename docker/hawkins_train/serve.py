"""`serve`: the HTTP side SageMaker talks to for endpoints and batch transform.

- GET  /ping                  200 once the model is loaded.
- POST /invocations           body -> input_fn -> predict_fn -> output_fn -> response.
- GET  /execution-parameters  what batch transform should send (MultiRecord, 6 MB payloads).

The handler module is chosen by the model's hawkins.json `kind`. A request the handler rejects
(ValueError) is answered 400 with {"error": "..."}; anything else 500. Requests are handled one
at a time (the model is not shared between threads), while /ping stays answered.

Training needs root (SageMaker creates /opt/ml root-owned), but serving does not: when started as
root, `serve` switches to the image's unprivileged user (HAWKINS_SERVE_USER, default `hawkins`;
empty keeps the current user) before it loads the model.
"""

from __future__ import annotations

import importlib
import json
import os
import pwd
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

from .contract import log
from .inference import MODULE_BY_KIND

DEFAULT_PORT = 8080
MAX_PAYLOAD_MB = 6


def handler_for(model_dir: Path) -> ModuleType:
    meta_path = model_dir / "hawkins.json"
    try:
        kind = json.loads(meta_path.read_text(encoding="utf-8"))["kind"]
    except (OSError, ValueError, KeyError) as err:
        raise SystemExit(f"hawkins: {meta_path} is missing or has no 'kind': {err}") from None
    if kind not in MODULE_BY_KIND:
        raise SystemExit(f"hawkins: unknown model kind {kind!r} in {meta_path}")
    return importlib.import_module(f"hawkins_train.inference.{MODULE_BY_KIND[kind]}")


def _response_type(module: ModuleType, accept: str | None) -> str:
    """The chatbot and classifier answer JSON only; the theme handler answers JSON lines unless
    the caller accepts only application/json."""
    media = (accept or "").split(";")[0].strip().lower()
    if module.DEFAULT_ACCEPT == "application/json":
        return "application/json"
    if media in ("application/json", "application/jsonlines", "application/x-jsonlines", "application/jsonl"):
        return media
    return module.DEFAULT_ACCEPT


def make_server(model_dir: Path, host: str = "0.0.0.0", port: int = DEFAULT_PORT) -> ThreadingHTTPServer:
    module = handler_for(model_dir)
    model = module.model_fn(str(model_dir))
    lock = threading.Lock()
    log(f"serving {module.__name__} from {model_dir}")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class' name)
            pass

        def _send(self, status: int, body: str | bytes, content_type: str = "application/json") -> None:
            data = body.encode("utf-8") if isinstance(body, str) else body
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            if self.path == "/ping":
                self._send(200, b"")
            elif self.path == "/execution-parameters":
                self._send(
                    200,
                    json.dumps(
                        {
                            "MaxConcurrentTransforms": 1,
                            "BatchStrategy": "MULTI_RECORD",
                            "MaxPayloadInMB": MAX_PAYLOAD_MB,
                        }
                    ),
                )
            else:
                self._send(404, json.dumps({"error": f"no route {self.path}"}))

        def do_POST(self) -> None:  # noqa: N802
            if self.path != "/invocations":
                self._send(404, json.dumps({"error": f"no route {self.path}"}))
                return
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            content_type = self.headers.get("Content-Type") or "application/json"
            accept = self.headers.get("Accept")
            try:
                with lock:
                    data = module.input_fn(body, content_type)
                    prediction = module.predict_fn(data, model)
                    response_type = _response_type(module, accept)
                    result = module.output_fn(prediction, response_type)
            except ValueError as err:
                self._send(400, json.dumps({"error": str(err)}))
                return
            except Exception as err:  # noqa: BLE001 (the caller gets a message, the log the rest)
                log(f"invocation failed: {type(err).__name__}: {err}")
                self._send(500, json.dumps({"error": f"{type(err).__name__}: {err}"}))
                return
            self._send(200, result, response_type)

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server


def drop_privileges(user: str) -> None:
    if not user or os.geteuid() != 0:
        return
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        log(f"user {user!r} does not exist: serving as root")
        return
    os.setgroups([])
    os.setgid(entry.pw_gid)
    os.setuid(entry.pw_uid)
    os.environ["HOME"] = entry.pw_dir
    log(f"serving as {user}")


def main() -> int:
    model_dir = Path(os.environ.get("SM_MODEL_DIR") or Path(os.environ.get("HAWKINS_ML_ROOT") or "/opt/ml") / "model")
    port = int(os.environ.get("SAGEMAKER_BIND_TO_PORT") or DEFAULT_PORT)
    drop_privileges(os.environ.get("HAWKINS_SERVE_USER", "hawkins"))
    server = make_server(model_dir, "0.0.0.0", port)
    log(f"listening on port {port}")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
