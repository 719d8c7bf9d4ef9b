"""Production mode: refuses to start without a real SECRET_KEY and passes check --deploy."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STRONG = "p" * 20 + "-strong-secret-key-for-the-deploy-check-0123456789"


def manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if k
        not in (
            "SECRET_KEY",
            "DEBUG",
            "SECURE_SSL_REDIRECT",
            "SESSION_COOKIE_SECURE",
            "CSRF_COOKIE_SECURE",
            "DJANGO_ALLOW_ASYNC_UNSAFE",
        )
    }
    # A developer's local.env (written by make run) must not leak into these checks.
    base.setdefault("CLOSEDWON_ENV_FILE", os.devnull)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_mode_refuses_to_start_without_a_secret_key():
    result = manage("check")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_mode_refuses_a_weak_secret_key():
    result = manage("check", SECRET_KEY="short")
    assert result.returncode != 0
    assert "too weak" in result.stderr


def test_production_mode_passes_the_deploy_check():
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        SECRET_KEY=STRONG,
        ALLOWED_HOSTS="closedwon.example",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_debug_mode_runs_without_a_secret_key():
    result = manage("check", DEBUG="1")
    assert result.returncode == 0, result.stderr


def test_sqlite_default_uses_wal_immediate_transactions_and_a_busy_timeout(tmp_path):
    code = (
        "import django; django.setup();"
        "from django.conf import settings; from django.db import connection;"
        "o = settings.DATABASES['default']['OPTIONS'];"
        "c = connection.cursor(); c.execute('PRAGMA journal_mode'); jm = c.fetchone()[0];"
        "c.execute('PRAGMA busy_timeout'); bt = c.fetchone()[0];"
        "print(o['transaction_mode'], jm, bt, settings.CELERY_BROKER_URL)"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL")}
    env.update(
        DEBUG="1", CLOSEDWON_DATA_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="closedwon.settings"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["IMMEDIATE", "wal", "20000", "filesystem://localhost/"]
    assert (tmp_path / "broker" / "queue").is_dir()
