"""Handoffs over the API: list with filters, RevOps retry, downstream complete."""

from __future__ import annotations

import json
import uuid

import pytest

from handoffs.models import Handoff, HandoffStatus
from opportunities import services
from opportunities.stages import Source
from tests.api.conftest import problem
from tests.factories import ready_opportunity

pytestmark = pytest.mark.django_db


@pytest.fixture
def approved(rep, revops2):
    opportunity = ready_opportunity(rep)
    for name, actor in (("submit_for_approval", rep), ("approve", revops2)):
        services.opportunity_transition(
            opportunity=opportunity, name=name, actor=actor, source=Source.API
        )
    assert Handoff.objects.filter(opportunity=opportunity).count() == 4
    return opportunity


def post(client, path, body=None):
    return client.post(path, data=json.dumps(body or {}), content_type="application/json")


def test_list_and_filter(api, rep, approved):
    other = ready_opportunity(rep)
    client = api(rep)
    every = client.get("/api/v1/handoffs/").json()
    assert len(every["results"]) == 4
    assert {h["kind"] for h in every["results"]} == {
        "billing",
        "provisioning",
        "customer_success",
        "commission",
    }
    mine = client.get(f"/api/v1/handoffs/?opportunity={approved.pk}&kind=billing").json()
    assert [h["kind"] for h in mine["results"]] == ["billing"]
    assert mine["results"][0]["status"] == "pending"
    assert client.get(f"/api/v1/handoffs/?opportunity={other.pk}").json()["results"].__len__() == 0
    assert client.get("/api/v1/handoffs/?status=dead").json()["results"].__len__() == 0
    problem(client.get("/api/v1/handoffs/?status=lost"), 400, "invalid")


def test_revops_retry_a_dead_handoff(api, revops, approved):
    handoff = Handoff.objects.filter(opportunity=approved, kind="billing").get()
    Handoff.objects.filter(pk=handoff.pk).update(status=HandoffStatus.DEAD, next_attempt_at=None)
    response = post(api(revops), f"/api/v1/handoffs/{handoff.pk}/retry/")
    assert response.status_code == 200
    assert (response.json()["id"], response.json()["status"]) == (str(handoff.pk), "retrying")
    assert response.json()["retried_by"] == revops.pk


def test_retry_is_refused_unless_retrying_or_dead(api, revops, approved):
    handoff = Handoff.objects.filter(opportunity=approved).first()
    problem(
        post(api(revops), f"/api/v1/handoffs/{handoff.pk}/retry/"), 409, "transition_not_allowed"
    )


def test_downstream_completes_a_delivered_handoff(api, revops, approved):
    handoff = Handoff.objects.filter(opportunity=approved, kind="billing").get()
    Handoff.objects.filter(pk=handoff.pk).update(status=HandoffStatus.DELIVERED)
    path = f"/api/v1/handoffs/{handoff.pk}/complete/"
    problem(post(api(revops), path, {}), 400, "invalid")
    response = post(api(revops), path, {"external_ref": "INV-2025-0001"})
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["external_ref"]) == (
        "completed",
        "INV-2025-0001",
    )
    # Downstream retries the same confirmation: harmless.
    assert post(api(revops), path, {"external_ref": "INV-2025-0001"}).status_code == 200


def test_complete_is_refused_before_delivery(api, revops, approved):
    handoff = Handoff.objects.filter(opportunity=approved).first()
    problem(
        post(api(revops), f"/api/v1/handoffs/{handoff.pk}/complete/", {"external_ref": "X"}),
        409,
        "transition_not_allowed",
    )


def test_an_unknown_handoff_is_404(api, revops):
    problem(post(api(revops), f"/api/v1/handoffs/{uuid.uuid4()}/retry/"), 404, "not_found")


def test_compensation_is_private_reps_see_only_their_own_deals_handoffs(api, rep, rep2, revops):
    from opportunities import services as sales
    from tests.factories import ready_opportunity

    mine = ready_opportunity(rep)
    theirs = ready_opportunity(rep2)
    for opportunity, owner in ((mine, rep), (theirs, rep2)):
        sales.opportunity_transition(
            opportunity=opportunity, name="submit_for_approval", actor=owner
        )
        sales.opportunity_transition(opportunity=opportunity, name="approve", actor=revops)

    seen_by_bob = api(rep2).get("/api/v1/handoffs/?kind=commission").json()["results"]
    assert [h["opportunity"] for h in seen_by_bob] == [theirs.pk]
    seen_by_alice = api(rep).get("/api/v1/handoffs/").json()["results"]
    assert {h["opportunity"] for h in seen_by_alice} == {mine.pk}
    assert rep2.email not in str(seen_by_alice)
    seen_by_revops = api(revops).get("/api/v1/handoffs/?kind=commission").json()["results"]
    assert {h["opportunity"] for h in seen_by_revops} == {mine.pk, theirs.pk}
