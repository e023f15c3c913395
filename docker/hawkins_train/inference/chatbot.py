"""Character chatbot endpoint: the base model with the character's LoRA adapter.

Request (application/json), as `hawkins chat` sends it:

    {"messages": [{"role": "user", "content": "Where is Will?"}], "max_new_tokens": 128, "temperature": 0.7}

`messages` is the conversation so far and ends with a user turn; roles are system, user and
assistant. The character's system prompt, stored with the adapter, is put first when the request
has no system message. `max_new_tokens` (1 to 1024, default 128), `temperature` (0 to 2, default
0.7; 0 means greedy) and `top_p` (above 0 up to 1, default 0.9) are optional.

Response: {"character": "Eleven", "reply": "..."}

The base model is the one recorded at training time in hawkins.json (`base_model`), or the
HAWKINS_BASE_MODEL environment variable when set (a local copy, say). For a gated base model the
endpoint reads its Hugging Face token from the Secrets Manager secret named by
HAWKINS_HF_TOKEN_SECRET_ARN. This file is self-contained (torch, transformers, peft, and boto3
only for the token): it is also copied into the model as code/inference.py, following the
SageMaker inference handler contract (model_fn, input_fn, predict_fn, output_fn).
"""

from __future__ import annotations

import json
import os
from typing import Any

import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer

JSON = "application/json"
DEFAULT_ACCEPT = JSON
ROLES = ("system", "user", "assistant")


def _hf_token() -> str | None:
    arn = os.environ.get("HAWKINS_HF_TOKEN_SECRET_ARN")
    if not arn:
        return None
    import boto3

    secret = boto3.client("secretsmanager", region_name=arn.split(":")[3]).get_secret_value(SecretId=arn)
    text = (secret.get("SecretString") or "").strip()
    if text.startswith("{"):
        document = json.loads(text)
        for key in ("HF_TOKEN", "hf_token", "token", "HUGGING_FACE_HUB_TOKEN"):
            if document.get(key):
                return str(document[key]).strip()
    return text or None


def model_fn(model_dir: str, context: Any = None) -> dict[str, Any]:
    with open(os.path.join(model_dir, "hawkins.json"), encoding="utf-8") as handle:
        meta = json.load(handle)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()
    base = os.environ.get("HAWKINS_BASE_MODEL") or meta["base_model"]
    model = AutoModelForCausalLM.from_pretrained(
        base, dtype=torch.bfloat16 if bf16 else torch.float32, token=_hf_token()
    )
    model = PeftModel.from_pretrained(model, model_dir).merge_and_unload()
    model.to(device).eval()
    return {
        "model": model,
        "tokenizer": tokenizer,
        "device": device,
        "character": meta["character"],
        "system_prompt": meta["system_prompt"],
        "max_length": int(meta.get("max_seq_length", 512)),
    }


def _number(document: dict[str, Any], key: str, default: float, low: float, high: float, integer: bool = False) -> Any:
    value = document.get(key, default)
    if value is None:
        value = default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not float(value).is_integer()):
        raise ValueError(f"{key} must be {'a whole number' if integer else 'a number'}")
    if not low <= value <= high:
        raise ValueError(f"{key} must be between {low:g} and {high:g}, got {value}")
    return int(value) if integer else float(value)


def input_fn(request_body: str | bytes, request_content_type: str | None = JSON) -> dict[str, Any]:
    media = (request_content_type or JSON).split(";")[0].strip().lower()
    if media != JSON:
        raise ValueError(f"unsupported content type {request_content_type!r}: send application/json")
    try:
        document = json.loads(request_body)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"the request is not valid JSON: {err}") from None
    if not isinstance(document, dict):
        raise ValueError("the request must be a JSON object with 'messages'")
    messages = document.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ValueError("'messages' must be a non-empty list of {role, content} objects")
    cleaned = []
    for message in messages:
        if (
            not isinstance(message, dict)
            or message.get("role") not in ROLES
            or not isinstance(message.get("content"), str)
        ):
            raise ValueError("every message needs a role (system, user or assistant) and a text content")
        cleaned.append({"role": message["role"], "content": message["content"]})
    if cleaned[-1]["role"] != "user":
        raise ValueError("the last message must be the user's")
    temperature = _number(document, "temperature", 0.7, 0.0, 2.0)
    top_p = _number(document, "top_p", 0.9, 0.0, 1.0)
    if top_p == 0:
        raise ValueError("top_p must be above 0")
    return {
        "messages": cleaned,
        "max_new_tokens": _number(document, "max_new_tokens", 128, 1, 1024, integer=True),
        "temperature": temperature,
        "top_p": top_p,
    }


def predict_fn(request: dict[str, Any], bundle: dict[str, Any]) -> dict[str, Any]:
    tokenizer, model = bundle["tokenizer"], bundle["model"]
    messages = request["messages"]
    if messages[0]["role"] != "system":
        messages = [{"role": "system", "content": bundle["system_prompt"]}] + messages
    ids = list(tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True))
    ids = ids[-bundle["max_length"] :]
    input_ids = torch.tensor([ids], device=bundle["device"])
    options: dict[str, Any] = {"max_new_tokens": request["max_new_tokens"], "pad_token_id": tokenizer.pad_token_id}
    if request["temperature"] > 0:
        options.update(do_sample=True, temperature=request["temperature"], top_p=request["top_p"])
    else:
        options.update(do_sample=False)
    with torch.inference_mode():
        output = model.generate(input_ids=input_ids, attention_mask=torch.ones_like(input_ids), **options)
    reply = tokenizer.decode(output[0, input_ids.shape[1] :], skip_special_tokens=True).strip()
    return {"character": bundle["character"], "reply": reply}


def output_fn(prediction: dict[str, Any], accept: str | None = JSON) -> str:
    return json.dumps(prediction)
