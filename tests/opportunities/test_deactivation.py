"""Deactivating a user lists the open and pending deals RevOps must reassign; until then
none of them can be won (owner_inactive)."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from core import errors
from opportunities.services.people import user_deactivate
from opportunities.stages import Stage
from tests.admin.conftest import client_for
from tests.factories import ready_opportunity

pytestmark = pytest.mark.django_db


def test_it_deactivates_and_lists_open_and_pending_deals(rep, revops):
    open_opportunity = ready_opportunity(rep, stage=Stage.PROPOSAL)
    pending = ready_opportunity(rep, stage=Stage.PENDING_APPROVAL)
    ready_opportunity(rep, stage=Stage.CLOSED_WON)  # won: nothing to reassign
    opportunities = user_deactivate(user=rep, actor=revops)
    rep.refresh_from_db()
    assert rep.is_active is False
    assert {d.pk for d in opportunities} == {open_opportunity.pk, pending.pk}


def test_only_revops_deactivate_and_never_themselves(rep, rep2, revops):
    with pytest.raises(errors.PermissionDenied):
        user_deactivate(user=rep2, actor=rep)
    with pytest.raises(errors.PermissionDenied):
        user_deactivate(user=revops, actor=revops)


def test_the_command_prints_the_deals_to_reassign(rep, revops, capsys):
    opportunity = ready_opportunity(rep, stage=Stage.NEGOTIATION, name="Acme expansion")
    call_command("deactivate_user", rep.username)
    out = capsys.readouterr().out
    assert f"Deactivated {rep.username}." in out
    assert f"#{opportunity.pk}  Acme expansion" in out
    with pytest.raises(CommandError):
        call_command("deactivate_user", "nobody-by-that-name")


def test_the_admin_action_names_the_deals(rep, revops):
    revops.is_staff = True
    revops.is_superuser = True  # the user admin needs auth permissions
    revops.save()
    opportunity = ready_opportunity(rep, stage=Stage.PROPOSAL, name="Globex pilot")
    response = client_for(revops).post(
        "/admin/auth/user/",
        {"action": "deactivate_selected", "_selected_action": [rep.pk]},
        follow=True,
    )
    text = " ".join(str(m) for m in response.context["messages"])
    assert f"#{opportunity.pk} Globex pilot" in text
    rep.refresh_from_db()
    assert rep.is_active is False
