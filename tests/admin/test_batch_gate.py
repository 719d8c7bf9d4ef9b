"""The queue's page-at-once gate facts agree with ``gates.gather_facts`` deal by deal."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from opportunities import approval_queue, gates
from opportunities.models import LineItem, Opportunity, StageRequirement
from tests.factories import AccountFactory, ContactFactory, ready_deal

pytestmark = pytest.mark.django_db


def given_deals_with_every_kind_of_problem(rep):
    acme = AccountFactory()
    deals = [
        ready_deal(rep, stage="pending_approval"),
        # contract ID claimed by a won deal (trimmed, case-insensitive); the database lets
        # only one deal claim it, so the one asking is still open
        ready_deal(rep, stage="closed_won", contract_id="CT-SHARED"),
        ready_deal(rep, stage="negotiation", contract_id=" ct-shared "),
        # PO claimed on the same account, and the same PO on another account (fine)
        ready_deal(rep, stage="closed_won", account=acme, contract_id="", po_number="PO-1"),
        ready_deal(rep, stage="negotiation", account=acme, contract_id="", po_number="po-1 "),
        ready_deal(rep, stage="pending_approval", contract_id="", po_number="PO-1"),
        ready_deal(rep, stage="negotiation", contract_id="", po_number=""),
        ready_deal(rep, stage="negotiation", amount=Decimal("999.00")),
        ready_deal(
            rep, stage="negotiation", close_date=timezone.localdate() + dt.timedelta(days=3)
        ),
        ready_deal(rep, stage="negotiation", primary_contact=ContactFactory(email="")),
        ready_deal(rep, stage="negotiation", term_months=None),
    ]
    other_account_contact = ContactFactory()
    deals.append(ready_deal(rep, stage="negotiation", primary_contact=other_account_contact))
    no_items = ready_deal(rep, stage="negotiation")
    LineItem.objects.filter(opportunity=no_items).delete()
    deals.append(no_items)
    deals.append(Opportunity.objects.create(name="Bare", owner=rep))
    StageRequirement.objects.create(stage="pending_approval", field="term_months")
    return deals


def test_it_finds_the_same_unmet_requirements_as_the_gate(rep):
    deals = given_deals_with_every_kind_of_problem(rep)
    page = list(
        Opportunity.objects.filter(pk__in=[d.pk for d in deals])
        .select_related("primary_contact")
        .prefetch_related("line_items")
    )

    batch = approval_queue.gate_unmet_for_page(page)

    for deal in page:
        assert batch[deal.pk] == gates.unmet_requirements(deal), deal.name
    codes = {u.code for unmet in batch.values() for u in unmet}
    assert codes >= {
        gates.Code.CONTRACT_ID_IN_USE,
        gates.Code.PO_NUMBER_IN_USE,
        gates.Code.CONTRACT_OR_PO_REQUIRED,
        gates.Code.AMOUNT_MISMATCH,
        gates.Code.CLOSE_DATE_IN_FUTURE,
        gates.Code.PRIMARY_CONTACT_EMAIL_REQUIRED,
        gates.Code.PRIMARY_CONTACT_NOT_ON_ACCOUNT,
        gates.Code.SEATS_REQUIRED,
        gates.Code.STAGE_REQUIREMENT,
        gates.Code.ACCOUNT_REQUIRED,
    }


def test_it_needs_at_most_four_queries_without_joins_whatever_the_page(
    rep, django_assert_max_num_queries
):
    deals = given_deals_with_every_kind_of_problem(rep)
    page = list(Opportunity.objects.filter(pk__in=[d.pk for d in deals]))

    with django_assert_max_num_queries(4):
        batch = approval_queue.gate_unmet_for_page(page)

    for deal in page:
        assert batch[deal.pk] == gates.unmet_requirements(deal), deal.name


def test_waiting_time_reads_like_a_person_says_it():
    label = approval_queue.waiting_label
    assert label(dt.timedelta(minutes=12, seconds=40)) == "12 min"
    assert label(dt.timedelta(hours=3, minutes=12)) == "3 h 12 min"
    assert label(dt.timedelta(hours=5)) == "5 h"
    assert label(dt.timedelta(days=2, hours=4, minutes=59)) == "2 d 4 h"
    assert label(dt.timedelta(days=3)) == "3 d"
    assert label(dt.timedelta(seconds=-5)) == "0 min"
