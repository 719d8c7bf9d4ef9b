"""What a newcomer meets first: the README's commands from a second terminal, where sign-in
lands, a busy port, and a quiet log."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest
from django.urls import reverse

from tests.project.test_settings import ROOT, manage


def test_manage_commands_work_from_a_second_terminal_with_the_local_env_file(tmp_path):
    # Given the local.env that make run writes (DEBUG=1 and a generated key)
    env_file = tmp_path / "local.env"
    env_file.write_text("DEBUG=1\nSECRET_KEY=" + "k" * 60 + "\n")
    # When a command runs with nothing else in its environment
    result = manage("check", CLOSEDWON_ENV_FILE=str(env_file), CLOSEDWON_DATA_DIR=str(tmp_path))
    # Then it works
    assert result.returncode == 0, result.stderr


def test_the_environment_wins_over_the_env_file(tmp_path):
    env_file = tmp_path / "local.env"
    env_file.write_text("DEBUG=1\n")
    result = manage("check", CLOSEDWON_ENV_FILE=str(env_file), DEBUG="0")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_still_refuses_a_weak_key_from_the_env_file(tmp_path):
    env_file = tmp_path / "local.env"
    env_file.write_text("SECRET_KEY=short\n")
    result = manage("check", CLOSEDWON_ENV_FILE=str(env_file))
    assert result.returncode != 0
    assert "too weak" in result.stderr


def test_make_run_stops_at_once_when_the_port_is_busy():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        started = time.monotonic()
        result = subprocess.run(
            ["make", "-s", "port-free", f"PORT={port}"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode != 0
    assert f"Port {port} on 127.0.0.1 is busy" in result.stdout + result.stderr
    assert time.monotonic() - started < 10


def test_make_run_accepts_a_free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = subprocess.run(
        ["make", "-s", "port-free", f"PORT={port}"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_embedded_broker_names_its_host_so_kombu_does_not_warn(tmp_path):
    code = (
        "import logging; logging.basicConfig(); import django; django.setup();"
        "from django.conf import settings; from kombu import Connection;"
        "Connection(settings.CELERY_BROKER_URL)._info()"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL")}
    env.update(
        DEBUG="1",
        CLOSEDWON_DATA_DIR=str(tmp_path),
        CLOSEDWON_ENV_FILE=os.devnull,
        DJANGO_SETTINGS_MODULE="closedwon.settings",
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "No hostname" not in result.stderr


@pytest.mark.django_db
def test_revops_land_on_their_approval_queue_and_reps_on_their_board(client, rep, revops):
    revops.is_staff = True
    revops.save()
    client.force_login(revops)
    assert client.get(reverse("signed_in"))["Location"] == reverse(
        "admin:opportunities_closedwonapproval_changelist"
    )
    client.force_login(rep)
    assert client.get(reverse("signed_in"))["Location"] == reverse("pipeline")


@pytest.mark.django_db
def test_signing_in_without_next_goes_through_the_role_redirect(client, rep):
    rep.set_password("pw-for-the-test-123")
    rep.save()
    response = client.post(
        "/accounts/login/", {"username": rep.username, "password": "pw-for-the-test-123"}
    )
    assert response["Location"] == reverse("signed_in")
