"""Create and edit a deal (services opportunity_create / opportunity_update), line items as a
formset, domain errors as form errors."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from opportunities.models import Opportunity
from opportunities.stages import Stage
from tests.factories import (
    AccountFactory,
    ContactFactory,
    LineItemFactory,
    ProductFactory,
    ready_opportunity,
)

pytestmark = pytest.mark.django_db


def opportunity_form_data(**overrides):
    data = {
        "name": "Acme platform",
        "type": "new_business",
        "account": "",
        "primary_contact": "",
        "amount": "",
        "currency": "USD",
        "close_date": "",
        "contract_id": "",
        "po_number": "",
        "contract_start_date": "",
        "term_months": "",
        "version": "",
        "lines-TOTAL_FORMS": "1",
        "lines-INITIAL_FORMS": "0",
        "lines-MIN_NUM_FORMS": "0",
        "lines-MAX_NUM_FORMS": "200",
        "lines-0-id": "",
        "lines-0-product": "",
        "lines-0-seats": "",
        "lines-0-unit_price": "",
    }
    data.update(overrides)
    return data


def edit_data(opportunity, **overrides):
    items = list(opportunity.line_items.all())
    data = opportunity_form_data(
        name=opportunity.name,
        type=opportunity.type,
        account=opportunity.account_id or "",
        primary_contact=opportunity.primary_contact_id or "",
        amount=str(opportunity.amount or ""),
        currency=opportunity.currency,
        close_date=opportunity.close_date.isoformat() if opportunity.close_date else "",
        contract_id=opportunity.contract_id,
        po_number=opportunity.po_number,
        version=opportunity.version,
        **{
            "lines-TOTAL_FORMS": str(len(items)),
            "lines-INITIAL_FORMS": str(len(items)),
        },
    )
    del (
        data["lines-0-id"],
        data["lines-0-product"],
        data["lines-0-seats"],
        data["lines-0-unit_price"],
    )
    for i, li in enumerate(items):
        data[f"lines-{i}-id"] = li.pk
        data[f"lines-{i}-product"] = li.product_id
        data[f"lines-{i}-seats"] = li.seats
        data[f"lines-{i}-unit_price"] = str(li.unit_price or "")
    data.update(overrides)
    return data


# --- create -------------------------------------------------------------------------------------


def test_the_new_deal_form_renders_with_a_blank_product_row_and_the_checklist(rep_client, product):
    response = rep_client.get("/opportunities/new/")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'name="lines-0-product"' in html and "CW-CORE" in html
    assert 'id="checklist"' in html and "Choose the account this deal is with." in html
    assert 'hx-post="/opportunities/new/checklist/"' in html


def test_creating_a_deal_goes_through_the_service_with_its_line_items(rep, rep_client, product):
    account = AccountFactory()
    response = rep_client.post(
        "/opportunities/new/",
        opportunity_form_data(
            account=account.pk,
            amount="2400",
            close_date="2026-01-31",
            **{"lines-0-product": product.pk, "lines-0-seats": "2", "lines-0-unit_price": "1200"},
        ),
    )
    opportunity = Opportunity.objects.get(name="Acme platform")
    assert (
        response.status_code == 302 and response["Location"] == f"/opportunities/{opportunity.pk}/"
    )
    assert (opportunity.owner, opportunity.stage, opportunity.account, opportunity.amount) == (
        rep,
        Stage.PROSPECTING,
        account,
        Decimal("2400"),
    )
    assert list(opportunity.line_items.values_list("product_id", "seats", "unit_price")) == [
        (product.pk, 2, Decimal("1200.00"))
    ]
    assert opportunity.history.count() == 1  # recorded with the rep as author
    assert opportunity.history.first().history_user == rep


def test_field_errors_are_shown_on_their_fields_and_nothing_is_saved(rep_client, product):
    response = rep_client.post(
        "/opportunities/new/",
        opportunity_form_data(
            name="",
            amount="-5",
            currency="XXQ",
            **{"lines-0-seats": "3"},  # seats without a product
        ),
    )
    assert response.status_code == 422
    form, formset = response.context["form"], response.context["formset"]
    assert set(form.errors) == {"name", "amount", "currency"}
    assert formset.forms[0].errors["product"] == ["Choose a product."]
    assert not Opportunity.objects.exists()
    assert 'aria-invalid="true"' in response.content.decode()


def test_add_a_product_without_javascript_adds_a_row_and_saves_nothing(rep_client, product):
    response = rep_client.post(
        "/opportunities/new/",
        opportunity_form_data(add_line="1", **{"lines-0-product": product.pk}),
    )
    assert response.status_code == 200
    assert response.context["formset"].total_form_count() == 2
    assert 'name="lines-1-product"' in response.content.decode()
    assert not Opportunity.objects.exists()


def test_the_form_prefills_an_account_and_contact_handed_back_by_the_no_js_pages(rep_client):
    contact = ContactFactory()
    response = rep_client.get(
        f"/opportunities/new/?account={contact.account_id}&primary_contact={contact.pk}"
    )
    form = response.context["form"]
    assert form["account"].value() == contact.account_id
    assert form["primary_contact"].value() == contact.pk
    assert f'<option value="{contact.pk}" selected>' in response.content.decode()


# --- edit ----------------------------------------------------------------------------------------


def test_editing_saves_changed_fields_and_line_items(rep, rep_client):
    opportunity = ready_opportunity(rep, stage=Stage.PROPOSAL, seats=10, unit_price=Decimal("100"))
    other = ProductFactory()
    data = edit_data(
        opportunity,
        amount="1500.00",
        **{
            "lines-TOTAL_FORMS": "2",
            "lines-1-product": other.pk,
            "lines-1-seats": "5",
            "lines-1-unit_price": "100",
        },
    )
    response = rep_client.post(f"/opportunities/{opportunity.pk}/edit/", data)
    assert response.status_code == 302
    opportunity.refresh_from_db()
    assert opportunity.amount == Decimal("1500.00") and opportunity.version == 2
    assert sorted(opportunity.line_items.values_list("seats", flat=True)) == [5, 10]


def test_removing_a_line_item_deletes_it(rep, rep_client):
    opportunity = ready_opportunity(rep, stage=Stage.PROPOSAL, lines=2)
    response = rep_client.post(
        f"/opportunities/{opportunity.pk}/edit/", edit_data(opportunity, **{"lines-1-DELETE": "on"})
    )
    assert response.status_code == 302
    assert opportunity.line_items.count() == 1


def test_another_rep_cannot_edit_your_deal(rep, rep2_client):
    opportunity = ready_opportunity(rep, stage=Stage.PROPOSAL)
    before = opportunity.amount

    page = rep2_client.get(f"/opportunities/{opportunity.pk}/edit/", follow=True)
    assert page.redirect_chain[-1][0] == f"/opportunities/{opportunity.pk}/"
    assert "Only its owner or RevOps can change it." in page.content.decode()

    response = rep2_client.post(
        f"/opportunities/{opportunity.pk}/edit/", edit_data(opportunity, amount="1"), follow=True
    )
    opportunity.refresh_from_db()
    assert (opportunity.amount, opportunity.version) == (before, 1)
    assert "You can see this deal but not change it." in response.content.decode()


def test_revops_can_edit_any_deal(rep, revops_client):
    opportunity = ready_opportunity(rep, stage=Stage.PROPOSAL)
    response = revops_client.post(
        f"/opportunities/{opportunity.pk}/edit/", edit_data(opportunity, name="Renamed")
    )
    assert response.status_code == 302
    opportunity.refresh_from_db()
    assert opportunity.name == "Renamed"


def test_a_pending_deal_shows_its_gated_fields_locked(rep, rep_client):
    opportunity = ready_opportunity(rep, stage=Stage.PENDING_APPROVAL)
    response = rep_client.get(f"/opportunities/{opportunity.pk}/edit/")
    form = response.context["form"]
    assert form.fields["amount"].disabled and form.fields["primary_contact"].disabled
    assert not form.fields["name"].disabled
    assert 'name="lines-TOTAL_FORMS"' not in response.content.decode()


def test_a_pending_deal_still_takes_its_ungated_fields(rep, rep_client):
    """What a browser posts for a locked deal: no disabled fields (the gated ones,
    billing terms included), no formset."""
    opportunity = ready_opportunity(rep, stage=Stage.PENDING_APPROVAL)
    data = {
        "name": "Renamed while pending",
        "version": opportunity.version,
    }
    response = rep_client.post(f"/opportunities/{opportunity.pk}/edit/", data)
    assert response.status_code == 302, response.content[:3000]
    opportunity.refresh_from_db()
    assert (opportunity.name, opportunity.term_months, opportunity.type, opportunity.stage) == (
        "Renamed while pending",
        12,
        "new_business",
        Stage.PENDING_APPROVAL,
    )


def test_record_locked_is_shown_on_the_locked_fields(rep, rep_client):
    """A form opened before the deal was submitted still posts the gated fields."""
    opportunity = ready_opportunity(rep, stage=Stage.PENDING_APPROVAL)
    response = rep_client.post(
        f"/opportunities/{opportunity.pk}/edit/",
        edit_data(opportunity, amount="999", po_number="PO-9"),
    )
    assert response.status_code == 422
    form = response.context["form"]
    assert form.errors["amount"] == ["Locked while pending approval or won."]
    assert form.errors["po_number"] == ["Locked while pending approval or won."]
    opportunity.refresh_from_db()
    assert opportunity.amount != Decimal("999") and opportunity.version == 1


def test_a_stale_form_is_refused_with_a_reload_message(rep, rep_client):
    opportunity = ready_opportunity(rep, stage=Stage.PROPOSAL)
    data = edit_data(opportunity, name="My change")
    Opportunity.objects.filter(pk=opportunity.pk).update(version=2)  # someone saved meanwhile
    response = rep_client.post(f"/opportunities/{opportunity.pk}/edit/", data)
    assert response.status_code == 422
    assert "Someone changed this deal after you opened this form" in response.content.decode()
    opportunity.refresh_from_db()
    assert opportunity.name != "My change"


def test_the_edit_form_prefills_dates_for_the_date_inputs(rep, rep_client):
    opportunity = ready_opportunity(rep, stage=Stage.PROPOSAL, close_date=dt.date(2026, 3, 4))
    html = rep_client.get(f"/opportunities/{opportunity.pk}/edit/").content.decode()
    assert 'type="date" name="close_date" value="2026-03-04"' in html


def test_the_line_item_product_choices_cost_one_query_whatever_the_rows(
    rep, rep_client, django_assert_max_num_queries
):
    opportunity = ready_opportunity(rep, stage=Stage.PROPOSAL, lines=1)
    rep_client.get(f"/opportunities/{opportunity.pk}/edit/")
    with django_assert_max_num_queries(20) as few:
        rep_client.get(f"/opportunities/{opportunity.pk}/edit/")
    for _ in range(12):
        LineItemFactory(opportunity=opportunity)
    with django_assert_max_num_queries(len(few.captured_queries)):
        rep_client.get(f"/opportunities/{opportunity.pk}/edit/")
