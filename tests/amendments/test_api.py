"""The amendments API: request, dry run, list, detail, decide; problem+json codes."""

from __future__ import annotations

import json

import pytest

from amendments.models import Amendment
from amendments.services import amendment_request
from handoffs.models import Handoff
from tests.amendments.conftest import won_opportunity
from tests.api.conftest import client_for as api
from tests.api.conftest import db_state, error_codes, problem

pytestmark = pytest.mark.django_db


def post(client, path, body=None, **headers):
    return client.post(path, json.dumps(body or {}), content_type="application/json", **headers)


def body_30(opportunity):
    return {
        "kind": "change",
        "reason": "Order form says 30",
        "changes": {"amount": "3000.00"},
        "line_items": [{"product": opportunity.seat.pk, "seats": 30, "unit_price": "100.00"}],
    }


def test_request_approve_and_read_back(rep, revops, revops2, subscriber):
    opportunity = won_opportunity(rep, revops)
    created = post(
        api(revops), f"/api/v1/opportunities/{opportunity.pk}/amendments/", body_30(opportunity)
    )
    assert created.status_code == 201, created.content
    data = created.json()
    assert data["status"] == "pending" and data["delta"]["amount"] == "500.00"
    assert data["route"][0]["group"] == "RevOps" and data["current_step"]["group"] == "RevOps"
    assert created["Location"] == f"/api/v1/amendments/{data['id']}/"

    listed = api(rep).get("/api/v1/amendments/?status=pending").json()
    assert [a["id"] for a in listed["results"]] == [data["id"]]
    assert api(rep).get(f"/api/v1/amendments/?opportunity={opportunity.pk}").json()["results"]

    problem(
        post(api(revops), f"/api/v1/amendments/{data['id']}/transitions/approve/"),
        403,
        "self_approval_forbidden",
    )
    approved = post(api(revops2), f"/api/v1/amendments/{data['id']}/transitions/approve/")
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    assert approved.json()["decisions"][0]["decision"] == "approved"
    assert (
        Handoff.outbox.filter(
            event_type="handoff.billing.amended",
            opportunity=opportunity,
            endpoint__environment_kind="",
        ).count()
        == 1
    )
    problem(
        post(api(revops2), f"/api/v1/amendments/{data['id']}/transitions/approve/"),
        409,
        "already_decided",
    )
    detail = api(rep).get(f"/api/v1/amendments/{data['id']}/").json()
    assert detail["after"]["amount"] == "3000.00" and detail["current_step"] is None


def test_dry_run_writes_nothing(rep, revops):
    opportunity = won_opportunity(rep, revops)
    before = db_state()
    response = post(
        api(rep),
        f"/api/v1/opportunities/{opportunity.pk}/amendments/dry-run/",
        {"kind": "change", "reason": "", "changes": {"amount": "1.00"}},
    )
    assert response.status_code == 200, response.content
    assert response.json()["passes"] is False
    assert response.json()["unmet"][0]["code"] == "amount_mismatch"
    assert db_state() == before and not Amendment.objects.exists()


def test_error_codes_leave_the_database_as_it_was(rep, rep2, revops):
    opportunity = won_opportunity(rep, revops)
    path = f"/api/v1/opportunities/{opportunity.pk}/amendments/"
    before = db_state()
    problem(post(api(rep), path, {**body_30(opportunity), "reason": ""}), 422, "reason_required")
    body = problem(
        post(api(rep), path, {**body_30(opportunity), "changes": {"currency": "EUR"}}),
        422,
        "amendment_invalid",
    )
    assert error_codes(body) == ["currency_change_refused"]
    # Well formed, but no such product: the amendment is invalid, not the request.
    body = problem(
        post(
            api(rep),
            path,
            {
                **body_30(opportunity),
                "line_items": [{"product": 10**9, "seats": 1, "unit_price": "1.00"}],
            },
        ),
        422,
        "amendment_invalid",
    )
    assert error_codes(body) == ["does_not_exist"]
    body = problem(
        post(
            api(revops),
            path,
            {"kind": "cancellation", "reason": "x", "changes": {"term_months": 3}},
        ),
        422,
        "amendment_invalid",
    )
    body = problem(
        post(api(rep), path, {**body_30(opportunity), "changes": {"amount": 3000.0}}),
        400,
        "invalid",
    )
    body = problem(
        post(api(rep), path, {**body_30(opportunity), "changes": {"name": "x"}}), 400, "invalid"
    )
    assert error_codes(body) == ["unknown_field"]
    body = problem(
        post(api(rep), path, {**body_30(opportunity), "changes": {"amount": "9.00"}}),
        422,
        "gate_failed",
    )
    assert error_codes(body) == ["amount_mismatch"]
    problem(post(api(rep2), path, body_30(opportunity)), 403, "permission_denied")
    problem(post(api(rep), path, {"kind": "cancellation", "reason": "x"}), 403, "permission_denied")
    problem(
        post(api(rep), "/api/v1/opportunities/999999/amendments/", body_30(opportunity)),
        404,
        "not_found",
    )
    problem(post(api(rep), path, {**body_30(opportunity), "extra": 1}), 400, "invalid")
    assert db_state() == before
    assert post(api(rep), path, body_30(opportunity)).status_code == 201
    problem(
        post(api(revops), path, {"kind": "cancellation", "reason": "x"}), 409, "amendment_pending"
    )
    amendment = Amendment.objects.get()
    problem(
        post(api(rep), f"/api/v1/amendments/{amendment.pk}/transitions/explode/"), 404, "not_found"
    )
    problem(
        post(api(revops), f"/api/v1/amendments/{amendment.pk}/transitions/reject/"),
        422,
        "reason_required",
    )
    assert api(rep).get("/api/v1/amendments/?bogus=1").status_code == 400
    withdrawn = post(api(rep), f"/api/v1/amendments/{amendment.pk}/transitions/withdraw/")
    assert withdrawn.json()["status"] == "withdrawn"


def test_idempotent_request(rep, revops):
    opportunity = won_opportunity(rep, revops)
    path = f"/api/v1/opportunities/{opportunity.pk}/amendments/"
    client = api(rep)
    first = post(client, path, body_30(opportunity), HTTP_IDEMPOTENCY_KEY="amend-1")
    again = post(client, path, body_30(opportunity), HTTP_IDEMPOTENCY_KEY="amend-1")
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert Amendment.objects.count() == 1


def test_anonymous_is_refused(rep, revops):
    opportunity = won_opportunity(rep, revops)
    assert (
        post(
            api(None), f"/api/v1/opportunities/{opportunity.pk}/amendments/", body_30(opportunity)
        ).status_code
        == 401
    )


def test_proposed_line_items_read_like_the_deals_own(rep, revops):
    """A form sends text: the amendment shows whole seats and the currency's decimals."""
    deal = won_opportunity(rep, revops)
    amendment = amendment_request(
        opportunity=deal,
        actor=rep,
        kind="change",
        reason="More seats",
        changes={"amount": "3000.00"},
        line_items=[{"product": str(deal.seat.pk), "seats": "30", "unit_price": "100"}],
    )
    body = api(revops).get(f"/api/v1/amendments/{amendment.pk}/").json()
    assert body["line_items"] == [{"product": deal.seat.pk, "seats": 30, "unit_price": "100.00"}]
