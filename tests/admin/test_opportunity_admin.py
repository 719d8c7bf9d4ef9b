"""The Opportunity admin: stage read-only, transitions as buttons through the service,
saves through the services, and constant-query changelists."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from opportunities.models import Account, Contact, LineItem, Opportunity, StageChange
from opportunities.stages import Source
from tests.admin.conftest import client_for, pending_opportunity, stage_of
from tests.factories import (
    AccountFactory,
    ContactFactory,
    ProductFactory,
    make_user,
    ready_opportunity,
)

pytestmark = pytest.mark.django_db


def change_url(opportunity) -> str:
    return reverse("admin:opportunities_opportunity_change", args=[opportunity.pk])


def transition_url(opportunity, name) -> str:
    return reverse("admin:opportunities_opportunity_transition", args=[opportunity.pk, name])


def form_data(opportunity: Opportunity, **changes) -> dict:
    """The change form as the browser would post it, with ``changes``."""
    items = list(opportunity.line_items.order_by("id"))
    data = {
        "name": opportunity.name,
        "account": opportunity.account_id or "",
        "owner": opportunity.owner_id,
        "type": opportunity.type,
        "amount": opportunity.amount if opportunity.amount is not None else "",
        "currency": opportunity.currency,
        "close_date": opportunity.close_date.isoformat() if opportunity.close_date else "",
        "contract_id": opportunity.contract_id,
        "po_number": opportunity.po_number,
        "primary_contact": opportunity.primary_contact_id or "",
        "contract_start_date": opportunity.contract_start_date.isoformat()
        if opportunity.contract_start_date
        else "",
        "term_months": opportunity.term_months or "",
        "loaded_version": opportunity.version,
        "line_items-TOTAL_FORMS": len(items),
        "line_items-INITIAL_FORMS": len(items),
        "line_items-MIN_NUM_FORMS": 0,
        "line_items-MAX_NUM_FORMS": 1000,
        "stage": "closed_won",  # a forged field: the stage is not in the form
    }
    for n, li in enumerate(items):
        data |= {
            f"line_items-{n}-id": li.pk,
            f"line_items-{n}-opportunity": opportunity.pk,
            f"line_items-{n}-product": li.product_id,
            f"line_items-{n}-seats": li.seats,
            f"line_items-{n}-unit_price": li.unit_price if li.unit_price is not None else "",
        }
    data.update(changes)
    return data


def test_the_stage_is_read_only_and_saving_goes_through_the_service(rep, revops):
    opportunity = ready_opportunity(rep, stage="proposal")
    client = client_for(revops)

    page = client.get(change_url(opportunity))
    response = client.post(
        change_url(opportunity), form_data(opportunity, name="Renamed deal", amount="1000.00")
    )

    assert 'name="stage"' not in page.content.decode()
    assert response.status_code == 302
    opportunity.refresh_from_db()
    assert (opportunity.name, opportunity.stage, opportunity.version) == (
        "Renamed deal",
        "proposal",
        2,
    )
    assert opportunity.history.first().history_user == revops


def test_a_deal_added_in_the_admin_is_created_by_the_service(rep, revops):
    product = ProductFactory()
    data = {
        "name": "Added in the admin",
        "owner": rep.pk,
        "type": "new_business",
        "currency": "EUR",
        "amount": "300.00",
        "stage": "closed_won",  # ignored: a new deal starts in Prospecting
        "line_items-TOTAL_FORMS": 1,
        "line_items-INITIAL_FORMS": 0,
        "line_items-MIN_NUM_FORMS": 0,
        "line_items-MAX_NUM_FORMS": 1000,
        "line_items-0-product": product.pk,
        "line_items-0-seats": 3,
        "line_items-0-unit_price": "100.00",
    }

    response = client_for(revops).post(reverse("admin:opportunities_opportunity_add"), data)

    assert response.status_code == 302
    opportunity = Opportunity.objects.get(name="Added in the admin")
    assert (opportunity.stage, opportunity.owner, opportunity.currency, opportunity.version) == (
        "prospecting",
        rep,
        "EUR",
        1,
    )
    assert list(opportunity.line_items.values_list("seats", "unit_price")) == [
        (3, Decimal("100.00"))
    ]
    assert opportunity.history.earliest().history_user == revops


def test_history_is_view_only(rep, revops):
    opportunity = ready_opportunity(rep, stage="proposal")
    version = opportunity.history.earliest()
    url = reverse(
        "admin:opportunities_opportunity_simple_history", args=[opportunity.pk, version.history_id]
    )
    client = client_for(revops)

    assert client.get(url).status_code == 200
    assert client.post(url, form_data(opportunity, name="Reverted")).status_code == 403
    opportunity.refresh_from_db()
    assert opportunity.name != "Reverted"


def test_line_items_edited_inline_are_saved_by_the_service(rep, revops):
    opportunity = ready_opportunity(rep, stage="proposal", seats=10, unit_price=Decimal("100.00"))
    extra = ProductFactory()
    data = form_data(opportunity)
    data |= {
        "line_items-TOTAL_FORMS": 2,
        "line_items-1-product": extra.pk,
        "line_items-1-seats": 5,
        "line_items-1-unit_price": "20.00",
        "line_items-1-opportunity": opportunity.pk,
    }

    response = client_for(revops).post(change_url(opportunity), data)

    assert response.status_code == 302
    assert sorted(opportunity.line_items.values_list("seats", flat=True)) == [5, 10]
    opportunity.refresh_from_db()
    assert opportunity.version == 2  # deal and line items: one service call, one version


def test_gated_fields_of_a_pending_deal_cannot_be_changed_here(rep, revops):
    approval = pending_opportunity(rep)
    opportunity = Opportunity.objects.get(pk=approval.opportunity_id)
    client = client_for(revops)

    page = client.get(change_url(opportunity))
    client.post(
        change_url(opportunity), form_data(opportunity, amount="5.00", name="Still editable")
    )

    assert 'name="amount"' not in page.content.decode()
    opportunity.refresh_from_db()
    assert opportunity.amount == Decimal("1000.00") and opportunity.name == "Still editable"
    assert not LineItem.objects.filter(opportunity=opportunity, seats=0).exists()


def test_a_save_over_someone_elses_change_is_refused(rep, revops):
    opportunity = ready_opportunity(rep, stage="proposal")
    stale = form_data(opportunity, name="Mine")
    Opportunity.objects.filter(pk=opportunity.pk).update(version=5)

    response = client_for(revops).post(change_url(opportunity), stale, follow=True)

    opportunity.refresh_from_db()
    assert opportunity.name != "Mine"
    assert "Not saved" in str(list(response.context["messages"])[0])


def test_transitions_are_buttons_that_run_the_service(rep, revops):
    opportunity = ready_opportunity(rep, stage="qualification")
    client = client_for(revops)

    page = client.get(change_url(opportunity))
    response = client.post(
        transition_url(opportunity, "move_to_proposal"), {"version": opportunity.version}
    )

    html = page.content.decode()
    assert 'data-transition="move_to_proposal"' in html
    assert 'data-transition="submit_for_approval"' not in html  # only the owner requests it
    assert response.status_code == 302
    assert stage_of(opportunity) == "proposal"
    change = StageChange.objects.get(opportunity=opportunity)
    assert (change.transition, change.source, change.actor) == (
        "move_to_proposal",
        Source.ADMIN,
        revops,
    )


def test_a_transition_the_gate_refuses_changes_nothing(rep, revops):
    opportunity = Opportunity.objects.create(name="Bare", owner=rep, account=AccountFactory())
    client = client_for(revops)

    page = client.get(change_url(opportunity))
    response = client.post(transition_url(opportunity, "move_to_negotiation"), follow=True)

    assert 'disabled data-transition="move_to_negotiation"' in page.content.decode()
    assert stage_of(opportunity) == "prospecting"
    assert "Enter the deal amount" in str(list(response.context["messages"])[0])


def test_mark_lost_asks_for_the_loss_reason(rep, revops):
    opportunity = ready_opportunity(rep, stage="negotiation")
    client = client_for(revops)

    blank = client.post(transition_url(opportunity, "mark_lost"), {"loss_reason": ""})
    done = client.post(transition_url(opportunity, "mark_lost"), {"loss_reason": "competitor"})

    assert (
        blank.status_code == 422 and 'data-error-code="reason_required"' in blank.content.decode()
    )
    assert done.status_code == 302
    opportunity.refresh_from_db()
    assert (opportunity.stage, opportunity.loss_reason) == ("closed_lost", "competitor")


def test_a_forged_transition_by_a_rep_gets_403(rep, rep2):
    opportunity = ready_opportunity(rep2, stage="qualification")

    response = client_for(rep).post(transition_url(opportunity, "move_to_proposal"))

    assert response.status_code == 403
    assert stage_of(opportunity) == "qualification"


def test_the_owner_cannot_approve_from_the_record_either(revops):
    approval = pending_opportunity(revops)
    opportunity = approval.opportunity

    response = client_for(revops).post(transition_url(opportunity, "approve"))

    assert response.status_code == 403
    assert stage_of(opportunity) == "pending_approval"


def test_a_contact_of_a_pending_deal_cannot_move_account_from_the_admin(rep, revops):
    approval = pending_opportunity(rep)
    contact = approval.opportunity.primary_contact
    elsewhere = AccountFactory()

    response = client_for(revops).post(
        reverse("admin:opportunities_contact_change", args=[contact.pk]),
        {
            "account": elsewhere.pk,
            "first_name": "Pat",
            "last_name": contact.last_name,
            "email": contact.email,
        },
        follow=True,
    )

    assert Contact.objects.get(pk=contact.pk).account_id == contact.account_id
    assert "Not saved" in str(list(response.context["messages"])[0])


def test_accounts_can_be_added_in_the_admin(revops):
    response = client_for(revops).post(
        reverse("admin:opportunities_account_add"),
        {"name": "Umbrella", "billing_country": "DE", "owner": revops.pk, "external_id": ""},
    )

    assert response.status_code == 302
    # the service stores a blank external id as NULL (unique, nullable: for CRM sync)
    assert Account.objects.get(name="Umbrella").external_id is None


CHANGELISTS = [
    "opportunities_opportunity",
    "opportunities_account",
    "opportunities_contact",
    "opportunities_stagechange",
    "opportunities_approval",
    "handoffs_outgoingmessage",
    "opportunities_product",
    "opportunities_stagerequirement",
]


def _count_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_every_changelist_costs_the_same_queries_for_5_or_50_deals(revops):
    client = client_for(revops)
    owners = [make_user("rep") for _ in range(3)]

    def add_opportunities(n):
        for i in range(n):
            approval = pending_opportunity(owners[i % 3])
            ContactFactory(account=approval.opportunity.account)

    add_opportunities(5)
    urls = [reverse(f"admin:{name}_changelist") for name in CHANGELISTS]
    client.get(urls[0])
    small = {url: _count_queries(client, url) for url in urls}
    add_opportunities(45)
    large = {url: _count_queries(client, url) for url in urls}

    assert small == large
    assert max(large.values()) <= 10
