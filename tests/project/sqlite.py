"""Run a script in a fresh process on SQLite, the embedded default (its own data folder,
no PostgreSQL, no broker): for rules whose SQL differs per database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.project.test_settings import ROOT


def run_on_sqlite(script: str, data_dir: Path, *, timeout: int = 600) -> str:
    """Run ``script`` (after ``django.setup()``) with ``make run``'s settings in
    ``data_dir``; its stdout. Fails the test with the end of stderr when it exits non-zero."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "CELERY_BROKER_URL", "SECRET_KEY")
    }
    env.update(
        DEBUG="1",
        CLOSEDWON_DATA_DIR=str(data_dir),
        CLOSEDWON_ENV_FILE=os.devnull,
        DJANGO_SETTINGS_MODULE="closedwon.settings",
    )
    result = subprocess.run(
        [sys.executable, "-c", "import django\ndjango.setup()\n" + script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout
