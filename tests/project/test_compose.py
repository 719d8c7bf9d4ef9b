"""The production stack file is valid (no Docker engine here: docker-compose validates it)."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def compose_config(**env):
    exe = shutil.which("docker-compose")
    assert exe, "docker-compose is installed by scripts/ensure-system-packages.sh"
    base = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    return subprocess.run(
        [exe, "-f", "docker-compose.yml", "config", "-q"],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_compose_file_is_valid():
    result = compose_config(SECRET_KEY="x" * 60)
    assert result.returncode == 0, result.stderr


def test_compose_refuses_to_run_without_a_secret_key():
    result = compose_config()
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


@pytest.mark.parametrize("service", ["postgres", "redis", "web", "worker", "beat"])
def test_compose_has_every_service_of_the_stack(service):
    exe = shutil.which("docker-compose")
    result = subprocess.run(
        [exe, "-f", "docker-compose.yml", "config", "--services"],
        cwd=ROOT,
        env={**os.environ, "SECRET_KEY": "x" * 60},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert service in result.stdout.split()
