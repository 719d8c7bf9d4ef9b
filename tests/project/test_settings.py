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


def _postgres_statements(**env: str) -> subprocess.CompletedProcess[str]:
    """Runs one SELECT six times in a fresh process on the suite's PostgreSQL and prints
    the options, where the parameters were bound and how many statements the server holds
    prepared."""
    code = (
        "import django; django.setup();"
        "from django.conf import settings; from django.db import connection;"
        "c = connection.cursor();"
        "[c.execute('SELECT relname FROM pg_class WHERE oid = %s', [n]) for n in range(6)];"
        "c.execute('SELECT count(*) FROM pg_prepared_statements'); n = c.fetchone()[0];"
        "o = settings.DATABASES['default'].get('OPTIONS', {});"
        "import psycopg; client = isinstance(connection.connection.cursor(), psycopg.ClientCursor);"
        "print(o.get('server_side_binding'), o.get('prepare_threshold'),"
        " 'client-side' if client else 'server-side', n)"
    )
    base = {k: v for k, v in os.environ.items() if k != "DATABASE_PREPARED_STATEMENTS"}
    base.update(DJANGO_SETTINGS_MODULE="closedwon.settings", **env)
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=base, capture_output=True, text=True, timeout=60
    )


def test_postgresql_binds_on_the_server_and_prepares_what_a_connection_repeats():
    result = _postgres_statements()
    assert result.returncode == 0, result.stderr
    binding, threshold, cursor, prepared = result.stdout.split()
    assert (binding, threshold, cursor) == ("True", "5", "server-side")
    assert int(prepared) >= 1  # the SELECT run six times is prepared after five


def test_prepared_statements_off_restores_djangos_client_side_quoting():
    result = _postgres_statements(DATABASE_PREPARED_STATEMENTS="off")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["None", "None", "client-side", "0"]


def test_prepared_statements_takes_a_number_of_uses_or_off():
    result = _postgres_statements(DATABASE_PREPARED_STATEMENTS="0")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[:2] == ["True", "0"]
    result = _postgres_statements(DATABASE_PREPARED_STATEMENTS="sometimes")
    assert result.returncode != 0
    assert "DATABASE_PREPARED_STATEMENTS must be a number of uses" in result.stderr


def test_production_commands_run_before_collectstatic(tmp_path):
    # A fresh deployment runs migrate before collectstatic: the URLconf must import
    # without the static files manifest.
    result = manage(
        "check", SECRET_KEY=STRONG, ALLOWED_HOSTS="closedwon.example", STATIC_ROOT=str(tmp_path)
    )
    assert result.returncode == 0, result.stderr
