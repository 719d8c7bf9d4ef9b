"""The dry run, running transitions, the stage history and the approval queue."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.utils import timezone

from opportunities import services
from opportunities.gate import Code
from opportunities.models import Approval, Decision, Opportunity, StageChange
from opportunities.stages import TRANSITIONS, Source, Stage
from tests.api.conftest import error_codes, problem
from tests.factories import OpportunityFactory, ready_opportunity

pytestmark = pytest.mark.django_db


def post(client, path, body=None):
    return client.post(path, data=json.dumps(body or {}), content_type="application/json")


def options(client, opportunity):
    response = client.get(f"/api/v1/opportunities/{opportunity.pk}/transitions/")
    assert response.status_code == 200
    return {row["name"]: row for row in response.json()}


def test_the_dry_run_lists_every_transition_with_what_is_missing(api, rep):
    opportunity = OpportunityFactory(owner=rep, stage=Stage.NEGOTIATION, account=None)
    rows = options(api(rep), opportunity)
    assert set(rows) == set(TRANSITIONS)
    for row in rows.values():
        assert {"name", "target", "label", "permitted", "allowed", "unmet"} <= set(row)
    submit = rows["submit_for_approval"]
    assert (submit["target"], submit["label"], submit["permitted"], submit["allowed"]) == (
        "pending_approval",
        "Request Closed-Won",
        True,
        False,
    )
    assert Code.ACCOUNT_REQUIRED in [u["code"] for u in submit["unmet"]]
    assert Code.CONTRACT_OR_PO_REQUIRED in [u["code"] for u in submit["unmet"]]
    assert rows["mark_lost"]["allowed"] is True
    assert rows["approve"]["permitted"] is False


def test_the_dry_run_is_per_user(api, rep, rep2, revops):
    opportunity = ready_opportunity(rep)
    services.opportunity_transition(
        opportunity=opportunity, name="submit_for_approval", actor=rep, source=Source.API
    )
    mine, theirs, revops_view = (
        options(api(rep), opportunity),
        options(api(rep2), opportunity),
        options(api(revops), opportunity),
    )
    assert mine["approve"]["permitted"] is False
    assert mine["approve"]["denied_code"] == "self_approval_forbidden"
    assert theirs["withdraw"]["permitted"] is False
    assert revops_view["approve"]["allowed"] is True


def test_the_whole_flow_submit_approve(api, rep, revops):
    opportunity = ready_opportunity(rep)
    submitted = post(
        api(rep), f"/api/v1/opportunities/{opportunity.pk}/transitions/submit_for_approval/"
    )
    assert submitted.status_code == 200
    assert (submitted.json()["stage"], submitted.json()["probability"]) == ("pending_approval", 90)

    approved = post(api(revops), f"/api/v1/opportunities/{opportunity.pk}/transitions/approve/")
    assert approved.status_code == 200
    body = approved.json()
    assert (body["stage"], body["forecast_category"], body["version"]) == (
        "closed_won",
        "closed",
        3,
    )
    assert body["closed_at"] is not None
    change = StageChange.objects.filter(opportunity=opportunity).first()
    assert (change.transition, change.source, change.actor) == ("approve", Source.API, revops)
    assert Approval.objects.get(opportunity=opportunity).decision == Decision.APPROVED


@pytest.mark.parametrize("name", ["move_to_proposal", "submit_for_approval", "approve"])
def test_a_transition_answers_with_the_deal_as_a_get_would(api, rep, revops, name):
    """The response is serialised from the service's own updated copy of the deal, not
    re-read: it must match what a GET returns right after, ETag included."""
    opportunity = ready_opportunity(rep)
    if name == "approve":
        services.opportunity_transition(
            opportunity=opportunity, name="submit_for_approval", actor=rep
        )
    actor = revops if name == "approve" else rep
    ran = post(api(actor), f"/api/v1/opportunities/{opportunity.pk}/transitions/{name}/")
    assert ran.status_code == 200, ran.content
    fetched = api(actor).get(f"/api/v1/opportunities/{opportunity.pk}/")
    assert ran.json() == fetched.json()
    assert ran["ETag"] == fetched["ETag"]
    assert len(ran.json()["line_items"]) == opportunity.line_items.count() > 0


def test_reject_needs_a_reason_and_records_it(api, rep, revops):
    opportunity = ready_opportunity(rep)
    services.opportunity_transition(
        opportunity=opportunity, name="submit_for_approval", actor=rep, source=Source.API
    )
    path = f"/api/v1/opportunities/{opportunity.pk}/transitions/reject/"
    problem(post(api(revops), path), 422, "reason_required")
    response = post(api(revops), path, {"reason": "PO missing"})
    assert response.status_code == 200 and response.json()["stage"] == "negotiation"
    assert StageChange.objects.filter(opportunity=opportunity).first().reason == "PO missing"


def test_mark_lost_with_other_needs_detail(api, rep):
    opportunity = ready_opportunity(rep)
    path = f"/api/v1/opportunities/{opportunity.pk}/transitions/mark_lost/"
    body = problem(post(api(rep), path, {"loss_reason": "other"}), 422, "reason_required")
    assert body["errors"][0]["field"] == "loss_detail"
    response = post(api(rep), path, {"loss_reason": "other", "loss_detail": "Merged with rival"})
    assert response.status_code == 200
    assert (response.json()["stage"], response.json()["loss_reason"]) == ("closed_lost", "other")


def test_gate_failed_at_approval_time(api, rep, revops):
    """The gate runs again on approve: an edit of the contact after submission counts."""
    opportunity = ready_opportunity(rep)
    services.opportunity_transition(
        opportunity=opportunity, name="submit_for_approval", actor=rep, source=Source.API
    )
    type(opportunity.primary_contact).objects.filter(pk=opportunity.primary_contact_id).update(
        email=""
    )
    body = problem(
        post(api(revops), f"/api/v1/opportunities/{opportunity.pk}/transitions/approve/"),
        422,
        "gate_failed",
    )
    assert error_codes(body) == [Code.PRIMARY_CONTACT_EMAIL_REQUIRED]
    assert Opportunity.objects.get(pk=opportunity.pk).stage == Stage.PENDING_APPROVAL


def test_history_is_newest_first(api, rep):
    opportunity = ready_opportunity(rep, stage=Stage.PROSPECTING)
    for name in ("move_to_qualification", "move_to_proposal", "mark_lost"):
        services.opportunity_transition(
            opportunity=opportunity,
            name=name,
            actor=rep,
            source=Source.API,
            loss_reason="price" if name == "mark_lost" else "",
        )
    rows = api(rep).get(f"/api/v1/opportunities/{opportunity.pk}/history/").json()["results"]
    assert [r["transition"] for r in rows] == [
        "mark_lost",
        "move_to_proposal",
        "move_to_qualification",
    ]
    assert rows[0]["actor"] == rep.pk and rows[0]["actor_username"] == rep.username
    assert rows[0]["gate_snapshot"]["passed"] is True


def test_the_approval_queue_is_oldest_first_with_its_age(api, rep, revops):
    opportunities = [ready_opportunity(rep) for _ in range(3)]
    for opportunity in opportunities:
        services.opportunity_transition(
            opportunity=opportunity, name="submit_for_approval", actor=rep, source=Source.API
        )
    now = timezone.now()
    for index, opportunity in enumerate(opportunities):
        Approval.objects.filter(opportunity=opportunity).update(
            submitted_at=now - dt.timedelta(hours=index + 1)
        )
    services.opportunity_transition(
        opportunity=opportunities[1], name="approve", actor=revops, source=Source.API
    )

    rows = api(revops).get("/api/v1/approvals/?decision=pending").json()["results"]

    assert [r["opportunity"] for r in rows] == [opportunities[2].pk, opportunities[0].pk]
    assert rows[0]["age_seconds"] >= 3 * 3600 - 5 and rows[1]["age_seconds"] >= 3600 - 5
    assert rows[0]["decision"] == "pending" and rows[0]["submitted_by"] == rep.pk
    every = api(revops).get("/api/v1/approvals/").json()
    assert len(every["results"]) == 3
    approved = api(revops).get("/api/v1/approvals/?decision=approved").json()["results"]
    assert [r["opportunity"] for r in approved] == [opportunities[1].pk]
