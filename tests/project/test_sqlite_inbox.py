"""The approvers' inboxes on SQLite, the embedded default: the current step's group is read
from the frozen route with that database's JSON functions (a PostgreSQL cast there was a
500 for Finance and a 503 for ``?mine=true``)."""

from __future__ import annotations

from tests.project.sqlite import run_on_sqlite

SCRIPT = r"""
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
    stdout = run_on_sqlite(SCRIPT, tmp_path)
    assert stdout.splitlines()[-1].startswith("ok"), stdout[-2000:]
