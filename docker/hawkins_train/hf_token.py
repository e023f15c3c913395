"""The Hugging Face token, read from Secrets Manager when the job starts.

The token never travels in hyperparameters or in the environment: Hawkins passes only the secret's
ARN (`hf_token_secret_arn`), and the token is handed to `from_pretrained(token=...)` directly.
"""

from __future__ import annotations

import json

from .contract import JobError, log

# Keys tried, in order, when the secret holds a JSON object rather than the bare token.
_JSON_KEYS = ("HF_TOKEN", "hf_token", "token", "HUGGING_FACE_HUB_TOKEN")


def region_of(arn: str) -> str:
    parts = arn.split(":")
    if len(parts) < 7 or parts[2] != "secretsmanager" or not parts[3]:
        raise JobError(f"hf_token_secret_arn '{arn}' is not a Secrets Manager secret ARN.")
    return parts[3]


def token_from_secret(secret: str) -> str:
    """The secret may be the bare token or a JSON object holding it."""
    text = secret.strip()
    if text.startswith("{"):
        try:
            document = json.loads(text)
        except json.JSONDecodeError:
            document = None
        if isinstance(document, dict):
            for key in _JSON_KEYS:
                value = document.get(key)
                if isinstance(value, str) and value.strip():
                    return value.strip()
            raise JobError(
                "The Hugging Face token secret holds a JSON object without any of the keys "
                + ", ".join(_JSON_KEYS)
                + "."
            )
    if not text:
        raise JobError("The Hugging Face token secret is empty.")
    return text


def read_hf_token(arn: str, client=None) -> str:
    """Fetches the secret. `client` is a boto3 Secrets Manager client (the tests pass a stubbed one)."""
    region = region_of(arn)
    if client is None:
        import boto3

        client = boto3.client("secretsmanager", region_name=region)
    try:
        response = client.get_secret_value(SecretId=arn)
    except Exception as err:  # botocore's errors carry the useful text (AccessDenied, not found)
        raise JobError(
            f"The container could not read the Hugging Face token from Secrets Manager ({arn}): {err}. "
            "Check that the secret exists in that region and that the SageMaker execution role may "
            "call secretsmanager:GetSecretValue on it."
        ) from None
    secret = response.get("SecretString")
    if secret is None and response.get("SecretBinary") is not None:
        secret = bytes(response["SecretBinary"]).decode("utf-8", errors="replace")
    token = token_from_secret(secret or "")
    log("read the Hugging Face token from Secrets Manager")
    return token
