"""The Dockerfile, the scripts and the pins: lint and the facts the Rust side relies on."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import DOCKER

SCRIPTS = sorted(DOCKER.glob("*.sh"))


def tool(name: str) -> str | None:
    beside_python = Path(sys.executable).parent / name
    return str(beside_python) if beside_python.exists() else shutil.which(name)


@pytest.mark.skipif(tool("hadolint") is None, reason="hadolint is not installed (docker/test.sh installs it)")
def test_dockerfile_passes_hadolint() -> None:
    result = subprocess.run([tool("hadolint"), "--no-color", "Dockerfile"], cwd=DOCKER, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(tool("shellcheck") is None, reason="shellcheck is not installed (docker/test.sh installs it)")
@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_scripts_pass_shellcheck(script: Path) -> None:
    result = subprocess.run([tool("shellcheck"), script.name], cwd=DOCKER, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_scripts_are_executable() -> None:
    assert {p.name for p in SCRIPTS} == {"build_and_push.sh", "gpu_check.sh", "test.sh"}
    assert all(os.access(p, os.X_OK) for p in SCRIPTS)


def test_base_image_is_pinned_and_matches_the_test_torch() -> None:
    dockerfile = (DOCKER / "Dockerfile").read_text()
    [base] = re.findall(r"^FROM\s+(\S+)", dockerfile, flags=re.MULTILINE)
    match = re.fullmatch(r"pytorch/pytorch:(\d+\.\d+\.\d+)-cuda[\d.]+-cudnn\d+-runtime", base)
    assert match, base
    test_pins = (DOCKER / "requirements-test.txt").read_text()
    assert f"torch=={match.group(1)}\n" in test_pins
    assert 'ENTRYPOINT ["python", "-m", "hawkins_train"]' in dockerfile


@pytest.mark.parametrize("name", ["requirements.txt", "requirements-test.txt"])
def test_every_requirement_is_pinned(name: str) -> None:
    for line in (DOCKER / name).read_text().splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("-r "):
            assert re.fullmatch(r"[A-Za-z0-9_.-]+==[A-Za-z0-9_.+-]+", line), line


def test_the_image_does_not_reinstall_torch() -> None:
    runtime = (DOCKER / "requirements.txt").read_text()
    assert not re.search(r"^(torch|nvidia-|triton)", runtime, flags=re.MULTILINE)


def test_dockerignore_keeps_the_context_to_what_the_image_copies() -> None:
    lines = [
        line.strip()
        for line in (DOCKER / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*"
    copied = set(re.findall(r"^COPY\s+(\S+)", (DOCKER / "Dockerfile").read_text(), flags=re.MULTILINE))
    assert {f"!{c}" for c in copied} <= set(lines)


def test_build_and_push_prints_the_image_uri_the_config_expects() -> None:
    env = {**os.environ, "AWS_REGION": "eu-west-1", "AWS_ACCOUNT_ID": "123456789012", "TAG": "abc123def456"}
    result = subprocess.run(
        ["bash", "build_and_push.sh", "--dry-run"], cwd=DOCKER, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[-1] == "123456789012.dkr.ecr.eu-west-1.amazonaws.com/hawkins-training:abc123def456"
    assert any("docker build --platform linux/amd64" in line for line in lines)
    assert any(line.startswith("+ docker push ") for line in lines)


def test_the_tag_defaults_to_the_git_commit() -> None:
    if subprocess.run(["git", "rev-parse", "HEAD"], cwd=DOCKER, capture_output=True).returncode != 0:
        pytest.skip("not a git checkout")
    env = {k: v for k, v in os.environ.items() if k != "TAG"}
    env.update(AWS_REGION="us-east-1", AWS_ACCOUNT_ID="123456789012")
    result = subprocess.run(
        ["bash", "build_and_push.sh", "--dry-run"], cwd=DOCKER, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(
        r"123456789012\.dkr\.ecr\.us-east-1\.amazonaws\.com/hawkins-training:[0-9a-f]{12}(-dirty)?",
        result.stdout.strip().splitlines()[-1],
    )
