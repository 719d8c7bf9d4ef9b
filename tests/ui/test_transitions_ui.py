"""Transition buttons on the deal page: plain form posts through the service (source ui)."""

from __future__ import annotations

import pytest

from opportunities.models import Approval, Decision, Opportunity, StageChange
from opportunities.stages import Source, Stage
from tests.factories import OpportunityFactory, ready_opportunity

pytestmark = pytest.mark.django_db


def post(client, opportunity, name, data=None, **kwargs):
    return client.post(f"/opportunities/{opportunity.pk}/transitions/{name}/", data or {}, **kwargs)


def stage_of(opportunity):
    return Opportunity.objects.values_list("stage", flat=True).get(pk=opportunity.pk)


def test_request_closed_won_submits_a_ready_deal(rep, rep_client):
    opportunity = ready_opportunity(rep, stage=Stage.NEGOTIATION)
    response = post(rep_client, opportunity, "submit_for_approval", follow=True)
    assert stage_of(opportunity) == Stage.PENDING_APPROVAL
    assert Approval.objects.get(opportunity=opportunity).decision == Decision.PENDING
    assert StageChange.objects.get(opportunity=opportunity).source == Source.UI
    html = response.content.decode()
    assert "it now waits for RevOps approval" in html
    assert 'data-stage-badge="pending_approval"' in html


def test_request_closed_won_refused_lists_every_unmet_requirement(rep, rep_client):
    opportunity = OpportunityFactory(owner=rep)  # nothing filled in
    response = post(rep_client, opportunity, "submit_for_approval", follow=True)
    html = response.content.decode()
    assert stage_of(opportunity) == Stage.PROSPECTING
    assert not Approval.objects.exists()
    assert "Request Closed-Won refused" in html
    for message in (
        "Add a contract ID or a PO number.",
        "Enter the deal amount (total contract value).",
        "Set the close date.",
        "Choose the primary contact at the customer.",
        "Add the products sold, each with at least one seat.",
    ):
        assert message in html


def test_mark_lost_needs_a_reason(rep, rep_client):
    opportunity = ready_opportunity(rep, stage=Stage.PROPOSAL)
    response = post(rep_client, opportunity, "mark_lost", {"loss_reason": ""})
    assert response.status_code == 422
    assert "loss_reason" in response.context["form"].errors
    assert stage_of(opportunity) == Stage.PROPOSAL


def test_mark_lost_other_needs_a_detail_from_the_service(rep, rep_client):
    opportunity = ready_opportunity(rep, stage=Stage.PROPOSAL)
    response = post(
        rep_client, opportunity, "mark_lost", {"loss_reason": "other", "loss_detail": " "}
    )
    assert response.status_code == 422
    assert response.context["form"].errors["loss_detail"] == ["Describe why the deal was lost."]
    assert stage_of(opportunity) == Stage.PROPOSAL


def test_mark_lost_with_a_reason(rep, rep_client):
    opportunity = ready_opportunity(rep, stage=Stage.PROPOSAL)
    response = post(
        rep_client, opportunity, "mark_lost", {"loss_reason": "competitor"}, follow=True
    )
    opportunity.refresh_from_db()
    assert (opportunity.stage, opportunity.loss_reason) == (Stage.CLOSED_LOST, "competitor")
    assert "marked lost" in response.content.decode()


def test_withdraw_and_reopen(rep, rep_client):
    opportunity = ready_opportunity(rep, stage=Stage.NEGOTIATION)
    post(rep_client, opportunity, "submit_for_approval")
    post(rep_client, opportunity, "withdraw")
    assert stage_of(opportunity) == Stage.NEGOTIATION
    post(rep_client, opportunity, "mark_lost", {"loss_reason": "timing"})
    post(rep_client, opportunity, "reopen")
    assert stage_of(opportunity) == Stage.QUALIFICATION
    assert StageChange.objects.filter(opportunity=opportunity, source=Source.UI).count() == 4


def test_a_transition_from_the_wrong_stage_is_refused_with_a_message(rep, rep_client):
    opportunity = ready_opportunity(rep, stage=Stage.PROPOSAL)
    response = post(rep_client, opportunity, "withdraw", follow=True)
    assert stage_of(opportunity) == Stage.PROPOSAL
    assert "Withdraw request is not possible from Proposal." in response.content.decode()


def test_another_rep_cannot_mark_your_deal_lost(rep, rep2_client):
    opportunity = ready_opportunity(rep, stage=Stage.PROPOSAL)
    response = post(rep2_client, opportunity, "mark_lost", {"loss_reason": "price"}, follow=True)
    assert stage_of(opportunity) == Stage.PROPOSAL
    assert "Only the deal&#x27;s owner or RevOps can do this." in response.content.decode()


def test_approve_and_reject_are_not_rep_ui_actions(rep, revops_client):
    opportunity = ready_opportunity(rep, stage=Stage.PENDING_APPROVAL)
    assert post(revops_client, opportunity, "approve").status_code == 404
    assert post(revops_client, opportunity, "reject", {"reason": "x"}).status_code == 404
    assert post(revops_client, opportunity, "no_such_thing").status_code == 404
    assert stage_of(opportunity) == Stage.PENDING_APPROVAL


def test_transitions_need_csrf(rep):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(rep)
    opportunity = ready_opportunity(rep, stage=Stage.PROSPECTING)
    assert post(client, opportunity, "move_to_qualification").status_code == 403
    assert stage_of(opportunity) == Stage.PROSPECTING
