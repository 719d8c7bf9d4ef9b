"""The approvers' inboxes on SQLite, the embedded default: the current step's group is read
from the frozen route with that database's JSON functions (a PostgreSQL cast there was a
500 for Finance and a 503 for ``?mine=true``)."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.project.test_settings import ROOT

SCRIPT = r"""
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
call_command("seed_demo", verbosity=0)
from django.contrib.auth import get_user_model
from django.test import Client
from approvals import selectors
from opportunities.models import Approval

User = get_user_model()
pending = Approval.objects.filter(decision="pending")
groups = set(selectors.with_step_group(pending).values_list("step_group", flat=True))
assert "RevOps" in groups, groups
for name in ("fiona", "dana", "rita"):
    client = Client(HTTP_HOST="localhost")
    client.force_login(User.objects.get(username=name))
    for url in (
        "/admin/opportunities/closedwonapproval/",
        "/admin/amendments/amendment/",
        "/api/v1/approvals/?decision=pending&mine=true",
        "/api/v1/amendments/?mine=true",
    ):
        status = client.get(url).status_code
        assert status == 200, (name, url, status)
print("ok", sorted(groups))
"""


def test_every_approver_opens_their_inbox_on_sqlite(tmp_path):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "CELERY_BROKER_URL", "SECRET_KEY")
    }
    env.update(
        DEBUG="1",
        CLOSEDWON_DATA_DIR=str(tmp_path),
        CLOSEDWON_ENV_FILE=os.devnull,
        DJANGO_SETTINGS_MODULE="closedwon.settings",
    )
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.splitlines()[-1].startswith("ok"), result.stdout[-2000:]
