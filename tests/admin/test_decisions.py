"""Approve and Reject on the queue's deal page: who sees them, what a forged POST gets."""

from __future__ import annotations

import pytest

from opportunities import services
from opportunities.models import Approval, Decision, StageChange, StageRequirement
from opportunities.stages import Source
from tests.admin.conftest import (
    approve_url,
    client_for,
    opportunity_url,
    pending_opportunity,
    reject_url,
    stage_of,
)
from tests.factories import make_user

pytestmark = pytest.mark.django_db

APPROVE_BUTTON = "Approve Closed-Won</button>"


def test_revops_sees_the_deal_and_both_buttons(rep, revops):
    approval = pending_opportunity(rep, name="Acme renewal", po_number="PO-9")

    response = client_for(revops).get(opportunity_url(approval))

    assert response.status_code == 200
    html = response.content.decode()
    assert APPROVE_BUTTON in html
    assert reject_url(approval) in html
    assert response.context["checklist"]["passes"] is True
    assert all(item["met"] for item in response.context["checklist"]["items"])
    for section in (
        "checklist",
        "summary",
        "line-items",
        "contact",
        "snapshot",
        "stage-history",
        "field-history",
        "handoffs",
    ):
        assert f'id="{section}"' in html, section
    # values as submitted, beside the values now
    snapshot = {row["label"]: row for row in response.context["snapshot_rows"]}
    assert snapshot["PO number"]["submitted"] == "PO-9" and not snapshot["PO number"]["changed"]
    assert [c.transition for c in response.context["stage_history"]] == ["submit_for_approval"]
    assert response.context["field_history"][-1]["changes"] == ["Created the deal"]


def test_the_checklist_shows_each_unmet_requirement(rep, revops):
    approval = pending_opportunity(rep, po_number="")
    StageRequirement.objects.create(stage="pending_approval", field="po_number")

    response = client_for(revops).get(opportunity_url(approval))

    checklist = response.context["checklist"]
    assert checklist["passes"] is False
    assert [u["code"] for u in checklist["unmet"]] == ["stage_requirement"]
    unmet_rows = [item for item in checklist["items"] if not item["met"]]
    assert [row["label"] for row in unmet_rows] == ["PO number (required by RevOps)"]
    assert 'disabled title="The deal does not pass the gate"' in response.content.decode()


def test_approve_runs_the_service_and_shows_the_four_handoffs(rep, revops):
    approval = pending_opportunity(rep)
    client = client_for(revops)

    response = client.post(approve_url(approval), {"version": approval.opportunity.version})

    assert response.status_code == 302 and response["Location"] == opportunity_url(approval)
    assert stage_of(approval) == "closed_won"
    change = StageChange.objects.get(opportunity=approval.opportunity, transition="approve")
    assert (change.actor, change.source) == (revops, Source.ADMIN)
    approval.refresh_from_db()
    assert (approval.decision, approval.decided_by) == (Decision.APPROVED, revops)

    page = client.get(opportunity_url(approval))
    kinds = [h["handoff"].kind for h in page.context["handoffs"]]
    assert kinds == ["billing", "provisioning", "customer_success", "commission"]
    html = page.content.decode()
    assert 'data-kind="commission"' in html
    assert APPROVE_BUTTON not in html


def test_the_owner_sees_no_approve_button_and_a_forged_post_gets_403(revops, revops2):
    # given a RevOps member who also sells: their own deal waits in the queue
    approval = pending_opportunity(revops)
    client = client_for(revops)

    page = client.get(opportunity_url(approval))
    forged = client.post(approve_url(approval), {"version": approval.opportunity.version})

    assert APPROVE_BUTTON not in page.content.decode()
    assert page.context["approve_denied"].code == "self_approval_forbidden"
    assert forged.status_code == 403
    assert 'data-code="self_approval_forbidden"' in forged.content.decode()
    assert stage_of(approval) == "pending_approval"
    assert not StageChange.objects.filter(transition="approve").exists()
    # another RevOps member may
    assert APPROVE_BUTTON in client_for(revops2).get(opportunity_url(approval)).content.decode()


def test_the_submitter_may_not_approve_after_the_deal_changed_hands(rep, revops, revops2):
    # given revops2 owned and submitted the deal, then RevOps handed it to a rep
    approval = pending_opportunity(revops2)
    services.opportunity_update(
        opportunity=approval.opportunity_id, actor=revops, data={"owner": rep}, source=Source.ADMIN
    )
    client = client_for(revops2)

    page = client.get(opportunity_url(approval))
    forged = client.post(approve_url(approval))

    assert APPROVE_BUTTON not in page.content.decode()
    assert forged.status_code == 403
    assert stage_of(approval) == "pending_approval"


def test_a_rep_gets_403_on_a_forged_approve_or_reject(rep, rep2):
    approval = pending_opportunity(rep2)
    client = client_for(rep)

    approve = client.post(approve_url(approval))
    reject = client.post(reject_url(approval), {"reason": "no"})

    assert (approve.status_code, reject.status_code) == (403, 403)
    assert stage_of(approval) == "pending_approval"
    assert Approval.objects.get(pk=approval.pk).decision == Decision.PENDING


def test_signed_out_visitors_are_sent_to_log_in(rep, client):
    approval = pending_opportunity(rep)

    response = client.post(approve_url(approval))

    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert stage_of(approval) == "pending_approval"


def test_approve_is_refused_when_the_gate_fails_at_approval_time(rep, revops):
    approval = pending_opportunity(rep, term_months=None)
    StageRequirement.objects.create(stage="pending_approval", field="term_months")
    client = client_for(revops)

    response = client.post(approve_url(approval), follow=True)

    assert stage_of(approval) == "pending_approval"
    [message] = [str(m) for m in response.context["messages"]]
    assert "Term (months) is required" in message


def test_approve_is_refused_when_the_deal_changed_since_the_page_was_loaded(rep, revops):
    approval = pending_opportunity(rep)
    loaded_version = approval.opportunity.version
    services.opportunity_update(
        opportunity=approval.opportunity_id,
        actor=revops,
        data={"name": "Renamed"},
        source=Source.ADMIN,
    )

    client_for(revops).post(approve_url(approval), {"version": loaded_version})

    assert stage_of(approval) == "pending_approval"


def test_approve_needs_a_post(rep, revops):
    approval = pending_opportunity(rep)

    response = client_for(revops).get(approve_url(approval))

    assert response.status_code == 405
    assert stage_of(approval) == "pending_approval"


def test_reject_asks_for_a_reason_on_its_own_page(rep, revops):
    approval = pending_opportunity(rep)
    client = client_for(revops)

    page = client.get(reject_url(approval))
    blank = client.post(reject_url(approval), {"reason": "   "})

    assert page.status_code == 200 and 'name="reason"' in page.content.decode()
    assert blank.status_code == 422
    assert 'data-error-code="reason_required"' in blank.content.decode()
    assert stage_of(approval) == "pending_approval"


def test_reject_with_a_reason_sends_the_deal_back(rep, revops, queue_url):
    approval = pending_opportunity(rep)

    response = client_for(revops).post(
        reject_url(approval), {"reason": "PO is for the wrong entity"}
    )

    assert response.status_code == 302 and response["Location"] == queue_url
    assert stage_of(approval) == "negotiation"
    approval.refresh_from_db()
    assert (approval.decision, approval.reason) == (Decision.REJECTED, "PO is for the wrong entity")
    change = StageChange.objects.get(opportunity=approval.opportunity, transition="reject")
    assert (change.source, change.reason, change.actor) == (
        Source.ADMIN,
        "PO is for the wrong entity",
        revops,
    )


def test_the_owner_may_reject_their_own_deal(revops):
    # SPEC §2: reject is RevOps' without the owner exception that approve has.
    approval = pending_opportunity(revops)

    client_for(revops).post(reject_url(approval), {"reason": "Wrong amount, my mistake"})

    assert stage_of(approval) == "negotiation"


def test_a_decided_request_cannot_be_decided_again(rep, revops, revops2):
    approval = pending_opportunity(rep)
    client_for(revops).post(reject_url(approval), {"reason": "Missing PO"})
    # the rep fixes it and asks again: a new request; the old page must not decide it
    services.opportunity_transition(
        opportunity=approval.opportunity_id, name="submit_for_approval", actor=rep
    )

    response = client_for(revops2).post(approve_url(approval), follow=True)

    assert stage_of(approval) == "pending_approval"
    assert "already decided" in str(list(response.context["messages"])[0])


def test_a_staff_user_without_the_revops_role_cannot_decide(rep):
    staff = make_user("rep", "staff_without_role")
    staff.is_staff = True
    staff.save()
    approval = pending_opportunity(rep)

    response = client_for(staff).post(approve_url(approval))

    assert response.status_code == 403
    assert stage_of(approval) == "pending_approval"
