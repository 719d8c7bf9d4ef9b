"""The rep UI: "Request a change" on a won deal with the diff and the delta; cancel;
withdraw."""

from __future__ import annotations

import pytest
from django.test import Client

from amendments.models import Amendment
from tests.amendments.conftest import won_opportunity

pytestmark = pytest.mark.django_db


def _client(user):
    client = Client()
    client.force_login(user)
    return client


def form(opportunity, seats, reason="Order form says 30", action="submit", amount=None):
    line = opportunity.line_items.get()
    return {
        "amount": amount or f"{seats * 100}.00",
        "term_months": "12",
        "contract_start_date": opportunity.contract_start_date.isoformat(),
        "contract_id": opportunity.contract_id,
        "po_number": opportunity.po_number,
        f"seats_{line.pk}": str(seats),
        f"unit_price_{line.pk}": "100.0000",
        "reason": reason,
        "action": action,
    }


def test_won_deal_offers_request_a_change_and_previews_the_delta(rep, revops):
    opportunity = won_opportunity(rep, revops)
    client = _client(rep)
    page = client.get(f"/opportunities/{opportunity.pk}/").content.decode()
    assert 'data-testid="request-change"' in page and 'data-testid="request-cancel"' not in page

    preview = client.post(
        f"/opportunities/{opportunity.pk}/amend/", form(opportunity, 30, action="preview")
    )
    html = preview.content.decode()
    assert preview.status_code == 200 and 'data-testid="amend-preview"' in html
    assert 'data-delta-amount="500.00"' in html and "25 → 30 seats (+5)" in html
    assert 'data-changed="Amount"' in html
    assert not Amendment.objects.exists()

    done = client.post(f"/opportunities/{opportunity.pk}/amend/", form(opportunity, 30))
    assert done.status_code == 302
    amendment = Amendment.objects.get()
    assert amendment.delta["amount"] == "500.00" and amendment.status == "pending"
    page = client.get(f"/opportunities/{opportunity.pk}/").content.decode()
    assert 'data-testid="pending-amendment"' in page and 'data-testid="request-change"' not in page

    client.post(f"/amendments/{amendment.pk}/withdraw/")
    amendment.refresh_from_db()
    assert amendment.status == "withdrawn"


def test_a_failing_gate_is_shown_and_nothing_is_written(rep, revops):
    opportunity = won_opportunity(rep, revops)
    response = _client(rep).post(
        f"/opportunities/{opportunity.pk}/amend/", form(opportunity, 30, amount="1.00"), follow=True
    )
    assert response.status_code == 200
    assert "does not match the line items" in response.content.decode()
    assert not Amendment.objects.exists()


def test_other_rep_cannot_open_the_form(rep, rep2, revops):
    opportunity = won_opportunity(rep, revops)
    assert _client(rep2).get(f"/opportunities/{opportunity.pk}/amend/").status_code == 403


def test_revops_requests_a_cancellation(rep, revops):
    opportunity = won_opportunity(rep, revops)
    client = _client(revops)
    assert (
        'data-testid="request-cancel"'
        in client.get(f"/opportunities/{opportunity.pk}/").content.decode()
    )
    assert (
        client.post(f"/opportunities/{opportunity.pk}/cancel/", {"reason": ""}).status_code == 200
    )
    assert not Amendment.objects.exists()
    assert (
        client.post(f"/opportunities/{opportunity.pk}/cancel/", {"reason": "Churned"}).status_code
        == 302
    )
    assert Amendment.objects.get().kind == "cancellation"
    # A rep cannot.
    rep_response = _client(rep).post(f"/opportunities/{opportunity.pk}/cancel/", {"reason": "x"})
    assert rep_response.status_code == 200
