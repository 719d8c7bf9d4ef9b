"""Bulk approve / reject: each deal through the service on its own, reported per row."""

from __future__ import annotations

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME

from opportunities.models import Approval, Decision, StageRequirement
from tests.admin.conftest import client_for, pending_opportunity, stage_of

pytestmark = pytest.mark.django_db


def act(client, url, action, approvals, **extra):
    data = {"action": action, ACTION_CHECKBOX_NAME: [a.pk for a in approvals], **extra}
    return client.post(url, data, follow=True)


def test_bulk_approve_reports_each_deal_it_did_not_approve(rep, rep2, revops, queue_url):
    ready = [pending_opportunity(rep, hours_ago=5 - n, name=f"Ready {n}") for n in range(3)]
    own = pending_opportunity(revops, name="Acme renewal", hours_ago=1)
    unready = pending_opportunity(rep2, name="Globex pilot", term_months=None, hours_ago=0.5)
    StageRequirement.objects.create(stage="pending_approval", field="term_months")

    client = client_for(revops)
    confirm = act(client, queue_url, "approve_selected", [*ready, own, unready])
    # Nothing happens before the confirmation page is accepted; it names every deal.
    assert confirm.status_code == 200 and 'data-confirm="approve"' in confirm.content.decode()
    assert all(d.opportunity.name in confirm.content.decode() for d in [*ready, own, unready])
    assert "Approve 5 deals" in confirm.content.decode()
    assert [stage_of(a) for a in ready] == ["pending_approval"] * 3

    response = act(client, queue_url, "approve_selected", [*ready, own, unready], apply="1")

    [message] = [m for m in response.context["messages"]]
    assert str(message) == (
        "Approved 3: Ready 0, Ready 1, Ready 2. Not approved: Acme renewal — you own this deal; Globex pilot — "
        "1 requirement unmet (Term (months) is required from Closed-Won on (set by RevOps).)."
    )
    assert message.level_tag == "warning"
    assert [stage_of(a) for a in ready] == ["closed_won"] * 3
    assert stage_of(own) == "pending_approval" and stage_of(unready) == "pending_approval"


def test_bulk_approve_of_only_refused_deals_is_an_error(revops, queue_url):
    own = pending_opportunity(revops, name="Mine")

    response = act(client_for(revops), queue_url, "approve_selected", [own], apply="1")

    [message] = list(response.context["messages"])
    assert str(message) == "Approved none. Not approved: Mine — you own this deal."
    assert message.level_tag == "error"


def test_bulk_approve_skips_requests_already_decided(rep, revops, revops2, queue_url):
    approval = pending_opportunity(rep, name="Done already")
    client_for(revops2).post(f"{queue_url}{approval.pk}/reject/", {"reason": "Wrong PO"})

    response = act(
        client_for(revops), f"{queue_url}?decision=all", "approve_selected", [approval], apply="1"
    )

    assert "Done already — already rejected" in str(list(response.context["messages"])[0])
    assert stage_of(approval) == "negotiation"


def test_bulk_reject_asks_one_reason_for_all_then_rejects_each(rep, rep2, revops, queue_url):
    approvals = [pending_opportunity(rep, name="First"), pending_opportunity(rep2, name="Second")]
    client = client_for(revops)

    page = act(client, queue_url, "reject_selected", approvals)
    blank = client.post(
        queue_url,
        {
            "action": "reject_selected",
            ACTION_CHECKBOX_NAME: [a.pk for a in approvals],
            "apply": "1",
            "reason": " ",
        },
    )
    done = act(
        client, queue_url, "reject_selected", approvals, apply="1", reason="Quarter is closed"
    )

    assert page.status_code == 200
    assert "Reject 2 deals" in page.content.decode()
    assert [stage_of(a) for a in approvals] == ["negotiation", "negotiation"]
    assert (
        blank.status_code == 422 and 'data-error-code="reason_required"' in blank.content.decode()
    )
    assert str(list(done.context["messages"])[0]) == "Rejected 2: First, Second."
    assert set(Approval.objects.values_list("decision", "reason")) == {
        (Decision.REJECTED, "Quarter is closed")
    }


def test_reps_cannot_run_the_actions(rep, rep2, queue_url):
    approval = pending_opportunity(rep2)

    response = client_for(rep).post(
        queue_url, {"action": "approve_selected", ACTION_CHECKBOX_NAME: [approval.pk]}
    )

    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert stage_of(approval) == "pending_approval"
