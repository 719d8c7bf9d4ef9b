"""The gate's rules without a database: GateFacts in, unmet requirements out."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal

from opportunities.gate import Code, GateFacts, LineFacts, checklist, evaluate
from opportunities.stages import Stage

TODAY = dt.date(2026, 11, 30)


def facts(**overrides):
    """Facts of a deal that meets every Closed-Won requirement."""
    base = GateFacts(
        account_id=1,
        amount=Decimal("2400.00"),
        currency="USD",
        close_date=TODAY,
        contract_id="K-100",
        po_number="",
        primary_contact_id=7,
        contact_account_id=1,
        contact_email="pat@example.com",
        contract_start_date=None,
        term_months=12,
        line_items=(LineFacts(2, Decimal("1200.00")),),
        contract_id_in_use=False,
        po_number_in_use=False,
        configured=(),
        today=TODAY,
    )
    return replace(base, **overrides)


def codes(unmet):
    return sorted(u.code for u in unmet)


def test_it_passes_a_complete_deal():
    assert evaluate(facts(), Stage.CLOSED_WON) == []
    assert evaluate(facts(), Stage.PENDING_APPROVAL) == []


def test_it_reports_every_closed_won_requirement_at_once():
    empty = facts(
        account_id=None,
        amount=None,
        close_date=None,
        contract_id=" ",
        primary_contact_id=None,
        line_items=(),
    )
    assert codes(evaluate(empty, Stage.PENDING_APPROVAL)) == sorted(
        [
            Code.ACCOUNT_REQUIRED,
            Code.AMOUNT_REQUIRED,
            Code.CLOSE_DATE_REQUIRED,
            Code.CONTRACT_OR_PO_REQUIRED,
            Code.PRIMARY_CONTACT_REQUIRED,
            Code.SEATS_REQUIRED,
        ]
    )


def test_it_refuses_a_close_date_after_today():
    assert codes(evaluate(facts(close_date=TODAY + dt.timedelta(days=1)), Stage.CLOSED_WON)) == [
        Code.CLOSE_DATE_IN_FUTURE
    ]


def test_it_refuses_keys_claimed_elsewhere():
    assert codes(evaluate(facts(contract_id_in_use=True), Stage.CLOSED_WON)) == [
        Code.CONTRACT_ID_IN_USE
    ]
    assert codes(evaluate(facts(po_number="PO-1", po_number_in_use=True), Stage.CLOSED_WON)) == [
        Code.PO_NUMBER_IN_USE
    ]


def test_it_checks_the_primary_contact():
    assert codes(evaluate(facts(contact_account_id=2), Stage.CLOSED_WON)) == [
        Code.PRIMARY_CONTACT_NOT_ON_ACCOUNT
    ]
    assert codes(evaluate(facts(contact_email=""), Stage.CLOSED_WON)) == [
        Code.PRIMARY_CONTACT_EMAIL_REQUIRED
    ]


def test_it_needs_seats_on_every_line():
    assert codes(evaluate(facts(line_items=(LineFacts(0, None),)), Stage.CLOSED_WON)) == [
        Code.SEATS_REQUIRED
    ]


def test_it_compares_the_amount_with_priced_lines_only_when_all_are_priced():
    assert codes(evaluate(facts(amount=Decimal("2000.00")), Stage.CLOSED_WON)) == [
        Code.AMOUNT_MISMATCH
    ]
    unpriced = (LineFacts(2, Decimal("1200.00")), LineFacts(1, None))
    assert evaluate(facts(amount=Decimal("2000.00"), line_items=unpriced), Stage.CLOSED_WON) == []


def test_entry_requirements_are_cumulative():
    bare = facts(account_id=None, amount=None, close_date=None, primary_contact_id=None)
    assert evaluate(bare, Stage.PROSPECTING) == []
    assert codes(evaluate(bare, Stage.QUALIFICATION)) == [Code.ACCOUNT_REQUIRED]
    assert codes(evaluate(bare, Stage.NEGOTIATION)) == sorted(
        [
            Code.ACCOUNT_REQUIRED,
            Code.AMOUNT_REQUIRED,
            Code.CLOSE_DATE_REQUIRED,
            Code.PRIMARY_CONTACT_REQUIRED,
        ]
    )


def test_revops_requirements_only_add_and_apply_to_later_stages():
    configured = (("proposal", "contract_start_date"),)
    assert codes(evaluate(facts(configured=configured), Stage.NEGOTIATION)) == [
        Code.STAGE_REQUIREMENT
    ]
    assert evaluate(facts(configured=configured), Stage.QUALIFICATION) == []
    # A field the built-in rules already report keeps its own code.
    amount_too = (("proposal", "amount"),)
    assert codes(evaluate(facts(amount=None, configured=amount_too), Stage.PROPOSAL)) == [
        Code.AMOUNT_REQUIRED
    ]


def test_closed_and_lost_targets_have_no_requirements():
    assert evaluate(facts(account_id=None), Stage.CLOSED_LOST) == []


def test_the_checklist_lists_met_and_unmet_requirements():
    rows = checklist(evaluate(facts(contract_id=""), Stage.CLOSED_WON))
    by_label = {row["label"]: row for row in rows}
    assert by_label["Contract ID or PO number"]["met"] is False
    assert by_label["Amount"]["met"] is True


def test_evidence_the_deal_lacks_is_required_per_kind():
    from documents.rules import RequirementFacts

    contract = RequirementFacts(
        id=1, kind="signed_contract", min_amount=Decimal("50000"), label="Signed contract"
    )
    po = RequirementFacts(id=2, kind="purchase_order", min_amount=None, label="Purchase order")
    big = facts(evidence_requirements=(contract, po), amount_reporting=Decimal("60000"))
    unmet = evidence_only(evaluate(big, Stage.CLOSED_WON))
    assert [(u.code, u.field) for u in unmet] == [
        (Code.EVIDENCE_REQUIRED, "documents.purchase_order"),
        (Code.EVIDENCE_REQUIRED, "documents.signed_contract"),
    ]
    small = replace(
        big, amount_reporting=Decimal("1000"), evidence_present=frozenset({"purchase_order"})
    )
    assert evidence_only(evaluate(small, Stage.CLOSED_WON)) == []
    # An unknown amount in the reporting currency (no rate) is taken as large enough.
    unknown = replace(small, amount_reporting=None)
    assert [u.field for u in evaluate(unknown, Stage.CLOSED_WON)] == ["documents.signed_contract"]
    # Open stages never ask for evidence.
    assert evaluate(big, Stage.NEGOTIATION) == []


def evidence_only(unmet):
    return [u for u in unmet if u.code == Code.EVIDENCE_REQUIRED]


def test_the_snapshot_is_asdict_with_json_values():
    """The stage change stores the facts as JSON: every field of every nested facts object,
    in declaration order, decimals as strings, dates ISO 8601, sets as sorted lists."""
    from dataclasses import asdict

    from documents.rules import RequirementFacts
    from opportunities.gate.rules import _jsonable

    full = facts(
        line_items=(LineFacts(2, Decimal("1200.00")), LineFacts(1, None)),
        evidence_requirements=(
            RequirementFacts(
                id=3, kind="signed_order_form", min_amount=Decimal("1000"), label="SOF"
            ),
        ),
        evidence_present=frozenset({"signed_order_form", "msa"}),
        amount_reporting=Decimal("2400.00"),
        contract_start_date=dt.date(2027, 1, 1),
    )
    snapshot = full.snapshot()
    assert snapshot == _jsonable(asdict(full))
    assert list(snapshot) == [f for f in asdict(full)]
    assert snapshot["line_items"] == [
        {"seats": 2, "unit_price": "1200.00"},
        {"seats": 1, "unit_price": None},
    ]
    assert snapshot["evidence_present"] == ["msa", "signed_order_form"]
    assert snapshot["evidence_requirements"] == [
        {"id": 3, "kind": "signed_order_form", "min_amount": "1000", "label": "SOF"}
    ]
    assert snapshot["today"] == "2026-11-30"
    assert snapshot["contract_start_date"] == "2027-01-01"
