"""The admin: pending amendments beside the Closed-Won queue, the amendment page with the
before / after / delta, Approve and Reject through the service; the handoff console lists
the .amended deliveries."""

from __future__ import annotations

import pytest
from django.test import Client

from amendments.models import Amendment
from amendments.services import amendment_request
from tests.amendments.conftest import won_opportunity

pytestmark = pytest.mark.django_db


def _client(user):
    client = Client()
    client.force_login(user)
    return client


def _request(opportunity, actor):
    return amendment_request(
        opportunity=opportunity,
        actor=actor,
        kind="change",
        reason="Order form says 30",
        changes={"amount": "3000.00"},
        line_items=[{"product": opportunity.seat.pk, "seats": 30, "unit_price": "100.00"}],
    )


def test_queue_shows_pending_amendments_beside_closed_won_requests(rep, revops):
    opportunity = won_opportunity(rep, revops)
    amendment = _request(opportunity, rep)
    html = _client(revops).get("/admin/opportunities/closedwonapproval/").content.decode()
    assert 'data-testid="amendments-pending-count">1<' in html
    assert f'data-amendment="{amendment.pk}"' in html and "500.00 USD" in html
    listing = _client(revops).get("/admin/amendments/amendment/").content.decode()
    assert "data-delta-amount='500.00'" in listing


def test_revops_approve_from_the_page_and_the_console_shows_the_deliveries(
    rep, revops, revops2, subscriber
):
    opportunity = won_opportunity(rep, revops)
    amendment = _request(opportunity, rep)
    page = _client(revops2).get(f"/admin/amendments/amendment/{amendment.pk}/change/")
    html = page.content.decode()
    assert 'data-changed="Amount"' in html and 'data-testid="amendment-approve"' in html
    response = _client(revops2).post(f"/admin/amendments/amendment/{amendment.pk}/decide/approve/")
    assert response.status_code == 302
    amendment.refresh_from_db()
    assert amendment.status == "approved"
    console = _client(revops).get(
        "/admin/handoffs/webhookdelivery/?event_type=handoff.billing.amended"
    )
    assert console.status_code == 200 and "handoff.billing.amended" in console.content.decode()


def test_the_requester_cannot_approve_in_the_admin(rep, revops):
    opportunity = won_opportunity(rep, revops)
    amendment = _request(opportunity, revops)
    _client(revops).post(f"/admin/amendments/amendment/{amendment.pk}/decide/approve/")
    assert Amendment.objects.get().status == "pending"


def test_reps_do_not_see_the_queue(rep, revops):
    opportunity = won_opportunity(rep, revops)
    amendment = _request(opportunity, rep)
    response = _client(rep).post(f"/admin/amendments/amendment/{amendment.pk}/decide/approve/")
    assert response.status_code in (302, 403)
    assert Amendment.objects.get().status == "pending"
