"""The Closed-Won gate and stage entry requirements (SPEC §3): every code, all at once."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from opportunities import gate, selectors
from opportunities.gate import Code
from opportunities.models import Opportunity, StageRequirement
from opportunities.stages import Stage
from tests.factories import (
    AccountFactory,
    ContactFactory,
    LineItemFactory,
    OpportunityFactory,
    ready_opportunity,
)

pytestmark = pytest.mark.django_db


def codes(unmet):
    return sorted(u.code for u in unmet)


def test_a_complete_deal_passes(rep):
    opportunity = ready_opportunity(rep)
    assert gate.unmet_requirements(opportunity, Stage.CLOSED_WON) == []


def test_an_empty_deal_reports_every_requirement_at_once(rep):
    opportunity = OpportunityFactory(owner=rep, account=None)
    assert codes(gate.unmet_requirements(opportunity, Stage.PENDING_APPROVAL)) == sorted(
        [
            Code.ACCOUNT_REQUIRED,
            Code.CONTRACT_OR_PO_REQUIRED,
            Code.AMOUNT_REQUIRED,
            Code.CLOSE_DATE_REQUIRED,
            Code.PRIMARY_CONTACT_REQUIRED,
            Code.SEATS_REQUIRED,
        ]
    )


def test_each_unmet_requirement_names_its_field_and_a_message_for_a_rep(rep):
    opportunity = OpportunityFactory(owner=rep)
    unmet = {u.code: u for u in gate.unmet_requirements(opportunity)}
    assert unmet[Code.CONTRACT_OR_PO_REQUIRED].field == "contract_id"
    assert unmet[Code.CONTRACT_OR_PO_REQUIRED].message == "Add a contract ID or a PO number."
    assert unmet[Code.SEATS_REQUIRED].field == "line_items"
    assert all(u.message and not u.message.startswith(u.code) for u in unmet.values())


def test_a_po_number_alone_satisfies_contract_or_po(rep):
    opportunity = ready_opportunity(rep, contract_id="", po_number="PO-1")
    assert gate.unmet_requirements(opportunity) == []


@pytest.mark.parametrize("claiming_stage", [Stage.PENDING_APPROVAL, Stage.CLOSED_WON])
def test_contract_id_in_use_compares_trimmed_and_case_insensitive(rep, claiming_stage):
    ready_opportunity(rep, stage=claiming_stage, contract_id="ABC-42")
    opportunity = ready_opportunity(rep, contract_id="  abc-42 ")
    assert codes(gate.unmet_requirements(opportunity)) == [Code.CONTRACT_ID_IN_USE]


def test_contract_id_on_an_open_or_lost_deal_does_not_count(rep):
    ready_opportunity(rep, stage=Stage.NEGOTIATION, contract_id="X-1")
    ready_opportunity(rep, stage=Stage.CLOSED_LOST, contract_id="X-1")
    opportunity = ready_opportunity(rep, contract_id="X-1")
    assert gate.unmet_requirements(opportunity) == []


def test_po_number_in_use_only_within_the_same_account(rep):
    account = AccountFactory()
    ready_opportunity(
        rep, stage=Stage.CLOSED_WON, account=account, contract_id="", po_number="PO-7"
    )
    same_account = ready_opportunity(rep, account=account, contract_id="", po_number=" po-7")
    other_account = ready_opportunity(rep, contract_id="", po_number="PO-7")
    assert codes(gate.unmet_requirements(same_account)) == [Code.PO_NUMBER_IN_USE]
    assert gate.unmet_requirements(other_account) == []


@pytest.mark.parametrize("amount", [None, Decimal("0"), Decimal("0.00")])
def test_amount_required(rep, amount):
    opportunity = ready_opportunity(rep, amount=Decimal("1"))
    Opportunity.objects.filter(pk=opportunity.pk).update(amount=amount)
    opportunity.refresh_from_db()
    assert Code.AMOUNT_REQUIRED in codes(gate.unmet_requirements(opportunity))


def test_close_date_required_and_not_in_the_future(rep):
    no_date = ready_opportunity(rep, close_date=None)
    tomorrow = ready_opportunity(rep, close_date=timezone.localdate() + dt.timedelta(days=1))
    today = ready_opportunity(rep, close_date=timezone.localdate())
    assert codes(gate.unmet_requirements(no_date)) == [Code.CLOSE_DATE_REQUIRED]
    assert codes(gate.unmet_requirements(tomorrow)) == [Code.CLOSE_DATE_IN_FUTURE]
    assert gate.unmet_requirements(today) == []


def test_today_is_taken_in_the_configured_time_zone(rep, settings):
    settings.TIME_ZONE = "Pacific/Kiritimati"  # UTC+14
    # 2026-03-10 12:00 UTC is already 2026-03-11 in Kiritimati.
    with time_machine.travel(dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC), tick=False):
        opportunity = ready_opportunity(rep, close_date=dt.date(2026, 3, 11))
        assert gate.unmet_requirements(opportunity) == []
        settings.TIME_ZONE = "UTC"
        assert codes(gate.unmet_requirements(opportunity)) == [Code.CLOSE_DATE_IN_FUTURE]


def test_primary_contact_rules(rep):
    missing = ready_opportunity(rep)
    Opportunity.objects.filter(pk=missing.pk).update(primary_contact=None)
    missing.refresh_from_db()
    elsewhere = ready_opportunity(rep, primary_contact=ContactFactory())
    account = AccountFactory()
    no_email = ready_opportunity(
        rep, account=account, primary_contact=ContactFactory(account=account, email="")
    )
    assert codes(gate.unmet_requirements(missing)) == [Code.PRIMARY_CONTACT_REQUIRED]
    assert codes(gate.unmet_requirements(elsewhere)) == [Code.PRIMARY_CONTACT_NOT_ON_ACCOUNT]
    assert codes(gate.unmet_requirements(no_email)) == [Code.PRIMARY_CONTACT_EMAIL_REQUIRED]


def test_seats_required_without_line_items_or_with_a_zero_seat_row(rep):
    opportunity = ready_opportunity(rep, lines=0)
    assert codes(gate.unmet_requirements(opportunity)) == [Code.SEATS_REQUIRED]
    # A zero-seat row cannot be stored (constraint), but a form can submit one.
    assert codes(gate.unmet_requirements(opportunity, line_items=[(0, Decimal("10"))])) == [
        Code.SEATS_REQUIRED
    ]


def test_amount_mismatch_only_when_every_line_item_is_priced(rep):
    opportunity = ready_opportunity(
        rep, seats=10, unit_price=Decimal("100.00"), amount=Decimal("999.00")
    )
    assert codes(gate.unmet_requirements(opportunity)) == [Code.AMOUNT_MISMATCH]
    LineItemFactory(opportunity=opportunity, unit_price=None)
    assert gate.unmet_requirements(opportunity) == []


def test_entry_requirements_are_cumulative(rep):
    opportunity = OpportunityFactory(owner=rep, account=None)
    assert codes(gate.unmet_requirements(opportunity, Stage.PROSPECTING)) == []
    assert codes(gate.unmet_requirements(opportunity, Stage.QUALIFICATION)) == [
        Code.ACCOUNT_REQUIRED
    ]
    assert codes(gate.unmet_requirements(opportunity, Stage.PROPOSAL)) == sorted(
        [Code.ACCOUNT_REQUIRED, Code.AMOUNT_REQUIRED, Code.CLOSE_DATE_REQUIRED]
    )
    assert codes(gate.unmet_requirements(opportunity, Stage.NEGOTIATION)) == sorted(
        [
            Code.ACCOUNT_REQUIRED,
            Code.AMOUNT_REQUIRED,
            Code.CLOSE_DATE_REQUIRED,
            Code.PRIMARY_CONTACT_REQUIRED,
        ]
    )


def test_a_stage_requirement_adds_to_its_stage_and_every_later_one(rep):
    StageRequirement.objects.create(stage=Stage.PROPOSAL, field="term_months")
    opportunity = ready_opportunity(rep, term_months=None)
    assert codes(gate.unmet_requirements(opportunity, Stage.QUALIFICATION)) == []
    for target in (Stage.PROPOSAL, Stage.NEGOTIATION, Stage.PENDING_APPROVAL, Stage.CLOSED_WON):
        unmet = gate.unmet_requirements(opportunity, target)
        assert [(u.code, u.field) for u in unmet] == [(Code.STAGE_REQUIREMENT, "term_months")], (
            target
        )


def test_a_stage_requirement_never_removes_a_built_in_rule(rep):
    # Requiring contract_id explicitly does not replace "contract or PO"; it is reported once.
    StageRequirement.objects.create(stage=Stage.PENDING_APPROVAL, field="contract_id")
    opportunity = ready_opportunity(rep, contract_id="", po_number="")
    unmet = gate.unmet_requirements(opportunity)
    assert [(u.code, u.field) for u in unmet] == [(Code.CONTRACT_OR_PO_REQUIRED, "contract_id")]
    with_po = ready_opportunity(rep, contract_id="", po_number="PO-9")
    assert [(u.code, u.field) for u in gate.unmet_requirements(with_po)] == [
        (Code.STAGE_REQUIREMENT, "contract_id")
    ]


@pytest.mark.parametrize("lines", [1, 50])
def test_the_gate_costs_at_most_three_queries_whatever_the_line_items(rep, lines):
    ready_opportunity(rep, stage=Stage.CLOSED_WON, contract_id="OTHER")
    StageRequirement.objects.create(stage=Stage.NEGOTIATION, field="term_months")
    opportunity_id = ready_opportunity(rep, lines=lines, po_number="PO-1").pk
    opportunity = (
        selectors.opportunity_list()
        .select_related(None)
        .select_related("primary_contact", "owner")
        .get(pk=opportunity_id)
    )
    opportunity._prefetched_objects_cache = {}  # make the gate load line items itself
    with CaptureQueriesContext(connection) as ctx:
        unmet = gate.unmet_requirements(opportunity, Stage.CLOSED_WON)
    assert unmet == []
    assert len(ctx.captured_queries) <= 3, [q["sql"] for q in ctx.captured_queries]


def test_the_checklist_lists_every_requirement_met_or_not(rep):
    opportunity = ready_opportunity(rep, contract_id="", po_number="")
    checklist = selectors.opportunity_checklist(opportunity)
    assert checklist["passes"] is False
    rows = {row["label"]: row for row in checklist["items"]}
    assert rows["Contract ID or PO number"]["met"] is False
    assert rows["Contract ID or PO number"]["messages"] == ["Add a contract ID or a PO number."]
    assert rows["Amount"]["met"] is True
    assert len(rows) == len(gate.CHECKLIST)
