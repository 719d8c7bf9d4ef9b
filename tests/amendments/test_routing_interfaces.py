"""Routed amendments over HTTP and in the admin: route / current_step / step_decisions in
the API, ``?mine=true``, the dry run's route label, the approver's admin inbox; racing
approvers on PostgreSQL."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from amendments.models import Amendment, Booking
from amendments.services import amendment_decide
from approvals.models import ApprovalDecision
from core import errors
from tests.amendments.conftest import big_change, publish_policy, won_opportunity
from tests.api.conftest import client_for as api
from tests.opportunities.test_concurrency import race


def post(client, path, body=None):
    return client.post(path, json.dumps(body or {}), content_type="application/json")


@pytest.mark.django_db
def test_api_dry_run_list_mine_and_step_decisions(rep, revops, revops2, fiona):
    opportunity = won_opportunity(rep, revops)
    publish_policy()
    body = {
        "kind": "change",
        "reason": "",
        "changes": {"amount": "100000.00"},
        "line_items": [{"product": opportunity.seat.pk, "seats": 1000, "unit_price": "100.00"}],
    }
    dry = post(api(rep), f"/api/v1/opportunities/{opportunity.pk}/amendments/dry-run/", body)
    assert dry.status_code == 200, dry.content
    assert dry.json()["route_label"] == "RevOps → Finance (amount ≥ 100,000)"

    amendment = big_change(opportunity, rep)
    assert api(fiona).get("/api/v1/amendments/?mine=true").json()["results"] == []
    mine = api(revops2).get("/api/v1/amendments/?mine=true").json()["results"]
    assert [a["id"] for a in mine] == [amendment.pk]
    assert api(rep).get("/api/v1/amendments/?mine=true").json()["results"] == []  # own deal

    decided = post(api(revops2), f"/api/v1/amendments/{amendment.pk}/transitions/approve/")
    assert decided.status_code == 200, decided.content
    data = decided.json()
    assert data["status"] == "pending" and data["current_step"]["group"] == "Finance"
    assert data["current_step"]["index"] == 1 and data["step_index"] == 1
    assert [(d["group"], d["decided_by"]) for d in data["step_decisions"]] == [
        ("RevOps", revops2.pk)
    ]
    assert [a["id"] for a in api(fiona).get("/api/v1/amendments/?mine=true").json()["results"]] == [
        amendment.pk
    ]
    assert api(revops2).get("/api/v1/amendments/?mine=true").json()["results"] == []

    twice = post(api(revops2), f"/api/v1/amendments/{amendment.pk}/transitions/approve/")
    assert twice.status_code == 409 and twice.json()["code"] == "already_decided"
    denied = post(api(revops), f"/api/v1/amendments/{amendment.pk}/transitions/approve/")
    assert denied.status_code == 403 and denied.json()["code"] == "permission_denied"
    done = post(api(fiona), f"/api/v1/amendments/{amendment.pk}/transitions/approve/")
    assert done.status_code == 200 and done.json()["status"] == "approved"
    assert done.json()["current_step"] is None


@pytest.mark.django_db
def test_api_list_queries_do_not_grow_with_step_decisions(rep, revops, revops2, fiona):
    client = api(revops)

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/api/v1/amendments/").status_code == 200
        return len(ctx.captured_queries)

    opportunity = won_opportunity(rep, revops)
    publish_policy()
    amendment_decide(amendment=big_change(opportunity, rep), actor=revops2, decision="approve")
    one = count()
    for _ in range(3):
        other = won_opportunity(rep, revops)
        amendment_decide(amendment=big_change(other, rep), actor=revops2, decision="approve")
    assert count() == one


@pytest.mark.django_db
def test_admin_inbox_shows_finance_its_step_and_decides_through_the_service(
    rep, revops, revops2, fiona
):
    opportunity = won_opportunity(rep, revops, name="Inbox amendment")
    publish_policy()
    amendment = big_change(opportunity, rep)
    finance = Client()
    finance.force_login(fiona)
    queue = "/admin/amendments/amendment/"
    assert "Inbox amendment" not in finance.get(queue).content.decode()
    refused = finance.post(f"{queue}{amendment.pk}/decide/approve/")
    assert refused.status_code == 302
    assert not ApprovalDecision.objects.filter(amendment=amendment).exists()

    ops = Client()
    ops.force_login(revops2)
    page = ops.get(f"{queue}{amendment.pk}/change/").content.decode()
    assert "RevOps → Finance (amount ≥ 100,000)" in page and "amendment-approve" in page
    ops.post(f"{queue}{amendment.pk}/decide/approve/")

    listing = finance.get(queue).content.decode()
    assert "Inbox amendment" in listing and "data-step-group='Finance'" in listing
    box = finance.get("/admin/opportunities/closedwonapproval/").content.decode()
    assert f'data-amendment="{amendment.pk}"' in box
    finance.post(f"{queue}{amendment.pk}/decide/approve/")
    amendment.refresh_from_db()
    assert amendment.status == "approved"


# --- PostgreSQL races -------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_members_of_an_all_two_step_both_count_once(rep, revops, revops2, fiona, fred):
    opportunity = won_opportunity(rep, revops)
    publish_policy(mode="all", count=2)
    amendment = big_change(opportunity, rep)
    amendment_decide(amendment=amendment, actor=revops2, decision="approve")
    actors = [fiona, fred]

    results = race(
        2, lambda i: amendment_decide(amendment=amendment.pk, actor=actors[i], decision="approve")
    )

    assert all(isinstance(r, Amendment) for r in results), results
    amendment.refresh_from_db()
    assert amendment.status == "approved"
    assert ApprovalDecision.objects.filter(amendment=amendment, step_index=1).count() == 2
    assert Booking.objects.filter(amendment=amendment).count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_members_approving_the_last_any_step_at_once_one_wins(
    rep, revops, revops2, fiona, fred
):
    opportunity = won_opportunity(rep, revops)
    publish_policy()
    amendment = big_change(opportunity, rep)
    amendment_decide(amendment=amendment, actor=revops2, decision="approve")
    actors = [fiona, fred]

    results = race(
        2, lambda i: amendment_decide(amendment=amendment.pk, actor=actors[i], decision="approve")
    )

    wins = [r for r in results if isinstance(r, Amendment)]
    losses = [r for r in results if isinstance(r, errors.DomainError)]
    assert len(wins) == 1 and len(losses) == 1, results
    assert losses[0].code == "already_decided"
    assert ApprovalDecision.objects.filter(amendment=amendment, step_index=1).count() == 1
    assert Booking.objects.filter(amendment=amendment).count() == 1
