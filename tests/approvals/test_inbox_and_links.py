"""The inbox filter ``?mine=`` (true, false, absent) and e-mail decision links that lose
a race with another decision of their step."""

from __future__ import annotations

import pytest
from django.test import Client

from approvals import links
from approvals import views as approval_views
from core import errors
from opportunities import services as opp_services
from opportunities.models import Approval, Opportunity
from opportunities.stages import Source, Stage
from tests.api.conftest import client_for
from tests.approvals.conftest import BIG
from tests.factories import ready_opportunity

pytestmark = pytest.mark.django_db


def run(opportunity, name, actor, **params):
    return opp_services.opportunity_transition(
        opportunity=opportunity, name=name, actor=actor, source=Source.API, **params
    )


def _ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return sorted(row["id"] for row in response.json()["results"])


def test_mine_true_false_and_absent_split_the_queue(rep, revops, fiona, policy):
    at_revops = ready_opportunity(rep, **BIG, name="At RevOps")
    at_finance = ready_opportunity(rep, **BIG, name="At Finance")
    for opportunity in (at_revops, at_finance):
        run(opportunity, "submit_for_approval", rep)
    run(at_finance, "approve", revops)
    theirs = Approval.objects.get(opportunity=at_finance).pk
    others = Approval.objects.get(opportunity=at_revops).pk
    api = client_for(fiona)
    assert _ids(api.get("/api/v1/approvals/?decision=pending&mine=true")) == [theirs]
    assert _ids(api.get("/api/v1/approvals/?decision=pending&mine=false")) == [others]
    assert _ids(api.get("/api/v1/approvals/?decision=pending")) == sorted([theirs, others])


def test_amendments_mine_false_is_the_complement_too(rep, revops, revops2, finance_group):
    from tests.amendments.conftest import big_change, publish_policy, won_opportunity

    opportunity = won_opportunity(rep, revops)
    publish_policy()
    amendment = big_change(opportunity, rep)
    api = client_for(revops2)
    assert _ids(api.get("/api/v1/amendments/?mine=true")) == [amendment.pk]
    assert _ids(api.get("/api/v1/amendments/?mine=false")) == []
    assert _ids(client_for(rep).get("/api/v1/amendments/?mine=false")) == [amendment.pk]


def test_a_link_whose_step_was_decided_meanwhile_decides_nothing(
    monkeypatch, rep, revops, revops2, fiona, policy
):
    opportunity = ready_opportunity(rep, **BIG)
    run(opportunity, "submit_for_approval", rep)
    approval = Approval.objects.get(opportunity=opportunity)
    # Rita 2 holds a reject link for RevOps' step (RevOps may reject at any step).
    url = links.decision_link(approval, revops2, "reject")
    real = approval_views.opportunity_transition

    def decided_first(**kwargs):
        # Between the page's check and the decision, Rita approves RevOps' step: the
        # request now waits for Finance.
        real(opportunity=opportunity.pk, name="approve", actor=revops)
        return real(**kwargs)

    monkeypatch.setattr(approval_views, "opportunity_transition", decided_first)
    client = Client()
    client.force_login(revops2)
    page = client.post(url, {"comment": "meant for RevOps' step"})
    assert page.status_code == 409, page.content.decode()[:2000]
    assert page.context["code"] == "concurrent_update"
    # Rolled back with the page's transaction: Finance's step still waits, undecided.
    assert Opportunity.objects.get(pk=opportunity.pk).stage == Stage.PENDING_APPROVAL
    approval.refresh_from_db()
    assert approval.decision == "pending"
    assert not approval.decisions.filter(decision="rejected").exists()


def test_the_service_refuses_a_decision_for_another_step_or_request(rep, revops, fiona, policy):
    opportunity = ready_opportunity(rep, **BIG)
    run(opportunity, "submit_for_approval", rep)
    first = Approval.objects.get(opportunity=opportunity)
    run(opportunity, "approve", revops)
    with pytest.raises(errors.ConcurrentUpdate) as stale:
        run(opportunity, "approve", fiona, expected_step=(first.pk, 0))
    assert (stale.value.code, stale.value.status) == ("concurrent_update", 409)
    # Rejected and submitted again: a link of the first request never decides the second.
    run(opportunity, "reject", fiona, reason="PO missing")
    run(opportunity, "submit_for_approval", rep)
    with pytest.raises(errors.ConcurrentUpdate):
        run(opportunity, "approve", revops, expected_step=(first.pk, 0))
    second = Approval.objects.get(opportunity=opportunity, decision="pending")
    run(opportunity, "approve", revops, expected_step=(second.pk, 0))
    assert Approval.objects.get(pk=second.pk).step_index == 1
