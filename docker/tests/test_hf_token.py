from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from hawkins_train.contract import JobError
from hawkins_train.hf_token import read_hf_token, region_of, token_from_secret

ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:hawkins/hf-token-AbCdEf"


def stubbed_client():
    client = boto3.client(
        "secretsmanager", region_name="eu-west-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    return client, Stubber(client)


def test_region_comes_from_the_arn() -> None:
    assert region_of(ARN) == "eu-west-1"
    with pytest.raises(JobError):
        region_of("arn:aws:s3:::bucket")


@pytest.mark.parametrize(
    ("secret", "token"),
    [("hf_abc\n", "hf_abc"), ('{"HF_TOKEN": "hf_abc"}', "hf_abc"), ('{"token": " hf_abc "}', "hf_abc")],
)
def test_secret_shapes(secret: str, token: str) -> None:
    assert token_from_secret(secret) == token


def test_json_secret_without_a_known_key_is_an_error() -> None:
    with pytest.raises(JobError, match="without any of the keys"):
        token_from_secret('{"password": "x"}')


def test_reads_the_secret_through_secrets_manager() -> None:
    client, stub = stubbed_client()
    stub.add_response(
        "get_secret_value",
        {"ARN": ARN, "Name": "hawkins/hf-token", "SecretString": '{"HF_TOKEN": "hf_from_secrets_manager"}'},
        {"SecretId": ARN},
    )
    with stub:
        assert read_hf_token(ARN, client=client) == "hf_from_secrets_manager"
    stub.assert_no_pending_responses()


def test_an_unreadable_secret_is_a_clear_failure() -> None:
    client, stub = stubbed_client()
    stub.add_client_error("get_secret_value", service_error_code="AccessDeniedException", service_message="not allowed")
    with stub, pytest.raises(JobError) as caught:
        read_hf_token(ARN, client=client)
    assert "secretsmanager:GetSecretValue" in str(caught.value)
    assert "AccessDeniedException" in str(caught.value)
