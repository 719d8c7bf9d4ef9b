"""The live checklist (htmx): the gate evaluated on unsaved form values."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone

from opportunities.models import Opportunity
from tests.factories import AccountFactory, ContactFactory, ProductFactory, ready_opportunity

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def unmet_labels(response) -> list[str]:
    return [item["label"] for item in response.context["checklist"]["items"] if not item["met"]]


def complete_values(account, contact, product, **overrides):
    values = {
        "name": "Live",
        "account": account.pk,
        "primary_contact": contact.pk,
        "amount": "2400",
        "currency": "USD",
        "close_date": timezone.localdate().isoformat(),
        "contract_id": "CT-LIVE-1",
        "po_number": "",
        "lines-TOTAL_FORMS": "1",
        "lines-0-product": product.pk,
        "lines-0-seats": "2",
        "lines-0-unit_price": "1200",
    }
    values.update(overrides)
    return values


def test_an_empty_new_deal_lists_what_is_missing(rep_client):
    response = rep_client.post(
        "/opportunities/new/checklist/", {"lines-TOTAL_FORMS": "1"}, headers=HTMX
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html  # a fragment for htmx to swap in
    assert "Choose the account this deal is with." in html
    assert "Add the products sold, each with at least one seat." in html
    assert 'data-checklist-status="incomplete"' in html


def test_complete_values_turn_the_checklist_complete_without_saving(rep_client):
    account = AccountFactory()
    contact = ContactFactory(account=account)
    product = ProductFactory()
    response = rep_client.post(
        "/opportunities/new/checklist/", complete_values(account, contact, product), headers=HTMX
    )
    assert unmet_labels(response) == []
    assert 'data-checklist-status="complete"' in response.content.decode()
    assert not Opportunity.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "label", "message"),
    [
        (
            {"lines-0-unit_price": "1000"},
            "Amount matches the line items",
            "The amount (2,400.00) does not match the line items (seats × unit price = 2,000.00).",
        ),
        (
            {"close_date": (timezone.localdate() + dt.timedelta(days=3)).isoformat()},
            "Close date, today or earlier",
            "The close date is in the future: a deal closes on or before today.",
        ),
        ({"contract_id": ""}, "Contract ID or PO number", "Add a contract ID or a PO number."),
        ({"lines-0-DELETE": "on"}, "Products with seats", None),
        ({"amount": "12abc"}, "Amount", "Enter the deal amount (total contract value)."),
    ],
)
def test_each_unsaved_change_shows_up_in_the_checklist(rep_client, overrides, label, message):
    account = AccountFactory()
    contact = ContactFactory(account=account)
    product = ProductFactory()
    response = rep_client.post(
        "/opportunities/new/checklist/",
        complete_values(account, contact, product, **overrides),
        headers=HTMX,
    )
    assert label in unmet_labels(response)
    if message:
        assert message in response.content.decode()


def test_a_contact_of_another_account_is_flagged(rep_client):
    account = AccountFactory()
    stranger = ContactFactory()  # another account
    response = rep_client.post(
        "/opportunities/new/checklist/",
        complete_values(account, stranger, ProductFactory()),
        headers=HTMX,
    )
    assert "The primary contact works for another account" in response.content.decode()


def test_an_existing_deal_is_evaluated_with_the_edits_not_the_saved_values(rep, rep_client):
    opportunity = ready_opportunity(rep, contract_id="")  # saved: missing the contract ID
    product = opportunity.line_items.get().product
    values = complete_values(
        opportunity.account,
        opportunity.primary_contact,
        product,
        amount="1000",
        **{"lines-0-seats": "10", "lines-0-unit_price": "100"},
    )
    response = rep_client.post(f"/opportunities/{opportunity.pk}/checklist/", values, headers=HTMX)
    assert unmet_labels(response) == []
    opportunity.refresh_from_db()
    assert opportunity.contract_id == ""  # nothing saved


def test_a_contract_id_booked_on_another_deal_is_flagged_live(rep, rep_client):
    ready_opportunity(rep, stage="closed_won", contract_id="CT-TAKEN")
    account = AccountFactory()
    response = rep_client.post(
        "/opportunities/new/checklist/",
        complete_values(
            account, ContactFactory(account=account), ProductFactory(), contract_id=" ct-taken "
        ),
        headers=HTMX,
    )
    assert (
        "Contract ID ct-taken is already on another won or pending deal."
        in response.content.decode()
    )


def test_the_checklist_costs_a_constant_number_of_queries(
    rep_client, django_assert_max_num_queries
):
    account = AccountFactory()
    contact = ContactFactory(account=account)
    product = ProductFactory()
    many = {"lines-TOTAL_FORMS": "40"}
    for i in range(40):
        many |= {
            f"lines-{i}-product": product.pk,
            f"lines-{i}-seats": "1",
            f"lines-{i}-unit_price": "60",
        }
    with django_assert_max_num_queries(8):
        response = rep_client.post(
            "/opportunities/new/checklist/",
            complete_values(account, contact, product, **many),
            headers=HTMX,
        )
    assert re.search(r'data-checklist-status="complete"', response.content.decode())


def test_garbage_in_the_form_never_breaks_the_checklist(rep_client):
    response = rep_client.post(
        "/opportunities/new/checklist/",
        {
            "account": "x",
            "primary_contact": "9" * 40,
            "amount": "NaN",
            "close_date": "2026-02-30",
            "contract_id": "CT\x00-1",
            "lines-TOTAL_FORMS": "10000000",
            "lines-0-seats": "1e9",
            "lines-0-unit_price": "Infinity",
        },
        headers=HTMX,
    )
    assert response.status_code == 200
    assert "Choose the account this deal is with." in response.content.decode()
