"""Management commands: create_user, issue_token, seed_demo."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from knox.models import AuthToken

from amendments.models import Amendment, Booking
from opportunities import policies
from opportunities.models import Approval, Opportunity, StageChange
from opportunities.stages import Stage

pytestmark = pytest.mark.django_db


def run(*args):
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.mark.parametrize(
    "role,staff,superuser,revops",
    [("rep", False, False, False), ("revops", True, False, True), ("admin", True, True, True)],
)
def test_create_user_gives_the_role(role, staff, superuser, revops):
    run("create_user", "casey", "--role", role, "--password", "s3cret-pass-word")
    user = get_user_model().objects.get(username="casey")
    assert (user.is_staff, user.is_superuser, policies.is_revops(user)) == (
        staff,
        superuser,
        revops,
    )
    assert user.check_password("s3cret-pass-word")


def test_create_user_prints_a_generated_password():
    out, _ = run("create_user", "dana", "--role", "rep")
    password = out.strip().splitlines()[-1].removeprefix("password: ")
    assert get_user_model().objects.get(username="dana").check_password(password)


def test_create_user_refuses_an_unknown_role():
    with pytest.raises(CommandError):
        run("create_user", "eve", "--role", "ceo")


def test_issue_token_prints_a_token_that_authenticates_and_is_stored_hashed(client):
    run("create_user", "api", "--role", "revops", "--password", "x-pass-word-1")
    out, _ = run("issue_token", "api")
    token = out.strip().splitlines()[-1]
    stored = AuthToken.objects.get(user__username="api")
    assert token not in (stored.digest, stored.token_key)
    assert len(stored.digest) >= 64  # a hash, not the token
    from knox.auth import TokenAuthentication

    user, _ = TokenAuthentication().authenticate_credentials(token.encode())
    assert user.username == "api"


def test_issue_token_for_an_unknown_user_fails():
    with pytest.raises(CommandError):
        run("issue_token", "nobody")


def test_seed_demo_fills_every_stage_and_is_idempotent():
    out, _ = run("seed_demo", "--deals", "40")
    assert "alice" in out and "rita" in out and "closedwon-demo" in out
    stages = set(Opportunity.objects.values_list("stage", flat=True))
    # Every stage, Cancelled included: one won deal was cancelled through the service.
    assert stages == set(Stage.values)
    assert Opportunity.objects.count() == 40
    cancelled = Opportunity.objects.get(stage=Stage.CANCELLED)
    assert Booking.objects.filter(opportunity=cancelled, kind="cancellation").count() == 1
    assert sum(b.amount_delta for b in Booking.objects.filter(opportunity=cancelled)) == 0
    applied = Amendment.objects.get(kind="change", status="approved")
    assert Booking.objects.filter(amendment=applied, kind="amendment").count() == 1
    # Decided along its route: one decision per step, never by the requester or owner.
    steps = list(applied.step_decisions.all())
    assert len(steps) == len(applied.route) >= 1
    assert {d.decided_by_id for d in steps}.isdisjoint(
        {applied.requested_by_id, applied.opportunity.owner_id}
    )
    # Won deals went through the real path: submitted by their owner, approved by RevOps.
    won = Opportunity.objects.filter(stage__in=(Stage.CLOSED_WON, Stage.CANCELLED))
    assert Approval.objects.filter(opportunity__in=won, decision="approved").count() == won.count()
    assert (
        StageChange.objects.filter(opportunity__in=won, transition="approve").count() == won.count()
    )
    run("seed_demo", "--deals", "40")
    assert Opportunity.objects.count() == 40
    assert Amendment.objects.count() == 2  # idempotent: nothing amended twice


def test_seed_demo_bulk_path_for_large_counts():
    _, err = run("seed_demo", "--deals", "260", "--batch", "25", "--quiet-logins")
    assert Opportunity.objects.count() == 260
    assert "260/260" in err or "60/60" in err  # progress is shown


@pytest.mark.django_db(transaction=True)
def test_seed_demo_leaves_fresh_statistics_and_on_postgresql_vacuums():
    """Outside a transaction (as ``make run`` and a deployment seed), the bulk load ends
    with the loaded tables analysed and, on PostgreSQL, vacuumed: their pages are marked
    all-visible, so the queue summary's partial index answers without visiting rows."""
    from django.db import connection

    out, _ = run("seed_demo", "--deals", "60", "--batch", "30", "--quiet-logins")

    assert Opportunity.objects.count() == 60
    if connection.vendor == "postgresql":
        assert "Vacuumed and analyzed opportunities_opportunity" in out
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT relname FROM pg_stat_user_tables WHERE last_vacuum IS NOT NULL"
                " AND relname IN ('opportunities_opportunity', 'opportunities_approval')"
            )
            assert {row[0] for row in cursor.fetchall()} == {
                "opportunities_opportunity",
                "opportunities_approval",
            }
    else:
        assert "Analyzed opportunities_opportunity" in out
