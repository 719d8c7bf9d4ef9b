"""Amend and cancel a won deal: request, decide, apply (every path and code)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.utils import timezone

from amendments.models import Amendment, AmendmentDecision, Booking
from amendments.services import amendment_decide, amendment_dry_run, amendment_request
from core import errors
from handoffs.models import CommissionCredit, Handoff
from opportunities.models import Opportunity
from tests.amendments.conftest import won_opportunity
from tests.factories import ProductFactory, ready_opportunity

pytestmark = pytest.mark.django_db


def seats(opportunity, n, price="100.00", product=None):
    return [{"product": (product or opportunity.seat).pk, "seats": n, "unit_price": price}]


def change(opportunity, actor, n, *, amount=None, **kw):
    amount = amount if amount is not None else f"{n * 100}.00"
    return amendment_request(
        opportunity=opportunity,
        actor=actor,
        kind="change",
        reason="Seat count was wrong",
        changes={"amount": amount},
        line_items=seats(opportunity, n),
        **kw,
    )


def test_seats_25_to_30_are_amended_booked_credited_and_handed_off(
    rep, revops, revops2, subscriber
):
    opportunity = won_opportunity(rep, revops)
    version = opportunity.version

    amendment = change(opportunity, revops, 30)
    assert amendment.status == "pending"
    assert amendment.delta["amount"] == "500.00"
    decided = amendment_decide(amendment=amendment, actor=revops2, decision="approve")

    opportunity.refresh_from_db()
    assert decided.status == "approved"
    assert opportunity.stage == "closed_won" and opportunity.amount == Decimal("3000.00")
    assert opportunity.version == version + 1 == decided.applied_version
    assert list(opportunity.line_items.values_list("seats", flat=True)) == [30]
    assert decided.delta["seats_by_sku"] == [
        {"sku": opportunity.seat.sku, "name": "Seat", "before": 25, "after": 30, "change": 5}
    ]
    # The ledger: won 2500 + amendment 500 = the deal's amount.
    bookings = Booking.objects.filter(opportunity=opportunity)
    assert [b.kind for b in bookings] == ["won", "amendment"]
    assert bookings.aggregate(s=Sum("amount_delta"))["s"] == opportunity.amount
    # Commission: 10 % of 2500, then 10 % of +500.
    credits = CommissionCredit.objects.filter(opportunity=opportunity).order_by("created_at", "id")
    assert [c.credit_amount for c in credits] == [Decimal("250.00"), Decimal("50.00")]
    assert credits[1].kind == "amendment" and credits[1].amendment_id == amendment.pk
    # The deliveries: one per kind and the deal event, with before/after/delta.
    # (the subscriber's; the HANDOFF_<KIND>_URL endpoints get their kind's too)
    rows = Handoff.outbox.filter(
        opportunity=opportunity, event_type__endswith=".amended", endpoint__environment_kind=""
    )
    assert sorted(r.event_type for r in rows) == sorted(
        [
            f"handoff.{k}.amended"
            for k in ("billing", "provisioning", "customer_success", "commission")
        ]
        + ["deal.amended"]
    )
    billing = rows.get(event_type="handoff.billing.amended").payload["data"]
    assert billing["before"]["amount"] == "2500.00" and billing["after"]["amount"] == "3000.00"
    assert billing["delta"]["amount"] == "500.00"
    assert "commission" not in billing
    commission = rows.get(event_type="handoff.commission.amended").payload["data"]["commission"]
    assert commission["credit_amount"] == "50.00"
    assert AmendmentDecision.objects.get(amendment=amendment).to_version == opportunity.version


def test_seats_removed_give_a_negative_delta_and_credit(rep, revops, revops2):
    opportunity = won_opportunity(rep, revops)
    amendment = change(opportunity, rep, 20)
    amendment_decide(amendment=amendment, actor=revops, decision="approve")
    amendment.refresh_from_db()
    assert amendment.delta["amount"] == "-500.00"
    assert amendment.delta["seats_by_sku"][0]["change"] == -5
    credit = CommissionCredit.objects.get(opportunity=opportunity, kind="amendment")
    assert credit.credit_amount == Decimal("-50.00")


def test_sku_swapped_lists_both_skus(rep, revops, revops2):
    opportunity = won_opportunity(rep, revops)
    other = ProductFactory(sku="SEAT-PLUS", name="Seat plus")
    amendment = amendment_request(
        opportunity=opportunity,
        actor=rep,
        kind="change",
        reason="Wrong SKU",
        line_items=seats(opportunity, 25, product=other),
    )
    by_sku = {row["sku"]: row["change"] for row in amendment.delta["seats_by_sku"]}
    assert by_sku == {opportunity.seat.sku: -25, "SEAT-PLUS": 25}
    assert amendment.delta["amount"] == "0.00"
    amendment_decide(amendment=amendment, actor=revops, decision="approve")
    assert not CommissionCredit.objects.filter(opportunity=opportunity, kind="amendment").exists()


def test_price_changed_moves_amount_only(rep, revops):
    opportunity = won_opportunity(rep, revops)
    amendment = amendment_request(
        opportunity=opportunity,
        actor=rep,
        kind="change",
        reason="Discount",
        changes={"amount": "2000.00"},
        line_items=seats(opportunity, 25, price="80.00"),
    )
    assert amendment.delta["amount"] == "-500.00"
    assert amendment.delta["seats_by_sku"] == []


def test_term_change_is_in_the_delta(rep, revops):
    opportunity = won_opportunity(rep, revops)
    amendment = amendment_request(
        opportunity=opportunity,
        actor=rep,
        kind="change",
        reason="Longer",
        changes={"term_months": 24},
    )
    assert amendment.delta["term_months"] == {"before": 12, "after": 24, "change": 12}


def test_billing_terms_are_applied(rep, revops, revops2):
    opportunity = won_opportunity(rep, revops)
    start = opportunity.contract_start_date + dt.timedelta(days=31)
    amendment = amendment_request(
        opportunity=opportunity,
        actor=rep,
        kind="change",
        reason="Start moved",
        changes={"contract_start_date": start.isoformat(), "term_months": 24, "po_number": "PO-9"},
    )
    amendment_decide(amendment=amendment, actor=revops2, decision="approve")
    opportunity.refresh_from_db()
    assert (opportunity.contract_start_date, opportunity.term_months, opportunity.po_number) == (
        start,
        24,
        "PO-9",
    )
    assert amendment.delta["fields"] == ["po_number", "contract_start_date"]
    assert (
        not Booking.objects.filter(opportunity=opportunity, kind="amendment")
        .exclude(amount_delta=0)
        .exists()
    )
    history = opportunity.history.order_by("-history_id").first()
    assert history.history_change_reason == "ui" and history.history_user == revops2


def test_currency_change_is_refused_and_same_currency_allowed(rep, revops):
    opportunity = won_opportunity(rep, revops)
    with pytest.raises(errors.InvalidInput) as exc:
        amendment_request(
            opportunity=opportunity,
            actor=rep,
            kind="change",
            reason="x",
            changes={"currency": "EUR"},
        )
    assert exc.value.errors[0].code == "currency_change_refused"
    ok = amendment_request(
        opportunity=opportunity,
        actor=rep,
        kind="change",
        reason="x",
        changes={"currency": "USD", "term_months": 6},
    )
    assert ok.delta["currency"] == "USD"


def test_proposed_values_go_through_the_gate(rep, revops):
    opportunity = won_opportunity(rep, revops)
    with pytest.raises(errors.GateFailed) as exc:
        change(opportunity, rep, 30, amount="9999.00")
    assert [e.code for e in exc.value.errors] == ["amount_mismatch"]
    with pytest.raises(errors.GateFailed) as exc:
        amendment_request(
            opportunity=opportunity,
            actor=rep,
            kind="change",
            reason="x",
            changes={"contract_id": "", "po_number": ""},
        )
    assert "contract_or_po_required" in [e.code for e in exc.value.errors]
    assert not Amendment.objects.exists()


def test_dry_run_shows_gate_route_and_delta_without_writing(rep, revops):
    opportunity = won_opportunity(rep, revops)
    result = amendment_dry_run(
        opportunity=opportunity, actor=rep, kind="change", changes={"amount": "1.00"}
    )
    assert result["passes"] is False and result["unmet"][0]["code"] == "amount_mismatch"
    assert result["route"][0]["group"] == "RevOps"
    assert result["delta"]["amount"] == "-2499.00"
    assert not Amendment.objects.exists()


def test_request_codes(rep, rep2, revops):
    opportunity = won_opportunity(rep, revops)
    with pytest.raises(errors.ReasonRequired):
        amendment_request(
            opportunity=opportunity,
            actor=rep,
            kind="change",
            reason=" ",
            changes={"term_months": 6},
        )
    with pytest.raises(errors.PermissionDenied):
        amendment_request(
            opportunity=opportunity,
            actor=rep2,
            kind="change",
            reason="x",
            changes={"term_months": 6},
        )
    with pytest.raises(errors.PermissionDenied):
        amendment_request(opportunity=opportunity, actor=rep, kind="cancellation", reason="x")
    with pytest.raises(errors.InvalidInput) as exc:
        amendment_request(
            opportunity=opportunity, actor=rep, kind="change", reason="x", changes={"name": "y"}
        )
    assert exc.value.errors[0].code == "unknown_field"
    with pytest.raises(errors.InvalidInput) as exc:
        amendment_request(
            opportunity=opportunity,
            actor=rep,
            kind="change",
            reason="x",
            changes={"term_months": 12},
        )
    assert exc.value.errors[0].code == "no_change"
    with pytest.raises(errors.InvalidInput) as exc:
        amendment_request(opportunity=opportunity, actor=rep, kind="bogus", reason="x")
    assert exc.value.errors[0].code == "invalid_choice"
    with pytest.raises(errors.NotFound):
        amendment_request(opportunity=10**9, actor=rep, kind="change", reason="x")
    open_opportunity = ready_opportunity(rep)
    with pytest.raises(errors.TransitionNotAllowed):
        amendment_request(
            opportunity=open_opportunity,
            actor=rep,
            kind="change",
            reason="x",
            changes={"term_months": 6},
        )


def test_one_pending_amendment_per_deal(rep, revops):
    opportunity = won_opportunity(rep, revops)
    change(opportunity, rep, 30)
    with pytest.raises(errors.AmendmentPending):
        amendment_request(
            opportunity=opportunity, actor=revops, kind="cancellation", reason="Churned"
        )


def test_decision_codes(rep, revops, revops2):
    opportunity = won_opportunity(rep, revops)
    amendment = change(opportunity, revops, 30)
    with pytest.raises(errors.SelfApprovalForbidden):
        amendment_decide(amendment=amendment, actor=revops, decision="approve")
    with pytest.raises(errors.PermissionDenied):
        amendment_decide(amendment=amendment, actor=rep, decision="approve")
    with pytest.raises(errors.ReasonRequired):
        amendment_decide(amendment=amendment, actor=revops2, decision="reject")
    with pytest.raises(errors.NotFound):
        amendment_decide(amendment=amendment, actor=revops2, decision="explode")
    with pytest.raises(errors.NotFound):
        amendment_decide(amendment=10**9, actor=revops2, decision="approve")
    rejected = amendment_decide(
        amendment=amendment, actor=revops2, decision="reject", reason="No PO"
    )
    assert rejected.status == "rejected" and rejected.decision_reason == "No PO"
    with pytest.raises(errors.AlreadyDecided):
        amendment_decide(amendment=amendment, actor=revops2, decision="approve")
    opportunity.refresh_from_db()
    assert opportunity.amount == Decimal("2500.00")


def test_owner_may_not_approve_and_requester_may_withdraw(rep, revops, revops2):
    opportunity = won_opportunity(rep, revops)
    amendment = change(opportunity, rep, 30)
    with pytest.raises(errors.PermissionDenied):
        amendment_decide(amendment=amendment, actor=rep, decision="approve")
    withdrawn = amendment_decide(amendment=amendment, actor=rep, decision="withdraw")
    assert withdrawn.status == "withdrawn"
    # The deal is free for a new amendment.
    change(opportunity, rep, 31)


def test_gate_is_checked_again_when_approving(rep, revops, revops2):
    opportunity = won_opportunity(rep, revops)
    amendment = amendment_request(
        opportunity=opportunity,
        actor=rep,
        kind="change",
        reason="PO",
        changes={"po_number": "PO-1"},
    )
    # Meanwhile another won deal of the account claims that PO.
    other = won_opportunity(
        rep,
        revops,
        account=opportunity.account,
        primary_contact=opportunity.primary_contact,
        po_number="PO-1",
    )
    assert other.stage == "closed_won"
    with pytest.raises(errors.GateFailed) as exc:
        amendment_decide(amendment=amendment, actor=revops2, decision="approve")
    assert [e.code for e in exc.value.errors] == ["po_number_in_use"]
    amendment.refresh_from_db()
    assert amendment.status == "pending"


def test_cancellation_inside_clawback_window(rep, revops, revops2, subscriber):
    opportunity = won_opportunity(rep, revops)
    amendment = amendment_request(
        opportunity=opportunity, actor=revops, kind="cancellation", reason="Churned"
    )
    with pytest.raises(errors.SelfApprovalForbidden):
        amendment_decide(amendment=amendment, actor=revops, decision="approve")
    amendment_decide(amendment=amendment, actor=revops2, decision="approve")
    opportunity.refresh_from_db()
    assert (
        opportunity.stage == "cancelled"
        and opportunity.probability == 0
        and opportunity.forecast_category == "omitted"
    )
    assert (
        Booking.objects.filter(opportunity=opportunity).aggregate(s=Sum("amount_delta"))["s"] == 0
    )
    assert (
        CommissionCredit.objects.filter(opportunity=opportunity).aggregate(s=Sum("credit_amount"))[
            "s"
        ]
        == 0
    )
    events = set(
        Handoff.outbox.filter(
            opportunity=opportunity, event_type__endswith="cancelled"
        ).values_list("event_type", flat=True)
    )
    assert events == {
        f"handoff.{k}.cancelled"
        for k in ("billing", "provisioning", "customer_success", "commission")
    } | {"deal.cancelled"}
    with pytest.raises(errors.TransitionNotAllowed):
        amendment_request(
            opportunity=opportunity,
            actor=rep,
            kind="change",
            reason="x",
            changes={"term_months": 6},
        )
    row = opportunity.stage_changes.get(transition="cancel")
    assert (row.from_stage, row.to_stage, row.actor) == ("closed_won", "cancelled", revops2)


def test_cancellation_after_clawback_window_keeps_the_credit(rep, revops, revops2, settings):
    settings.COMMISSION_CLAWBACK_DAYS = 180
    opportunity = won_opportunity(
        rep, revops, contract_start_date=timezone.localdate() - dt.timedelta(days=181)
    )
    amendment = amendment_request(
        opportunity=opportunity, actor=revops, kind="cancellation", reason="Churned"
    )
    amendment_decide(amendment=amendment, actor=revops2, decision="approve")
    assert not CommissionCredit.objects.filter(opportunity=opportunity, kind="clawback").exists()
    assert Booking.objects.get(
        opportunity=opportunity, kind="cancellation"
    ).amount_delta == Decimal("-2500.00")


def test_cancel_is_refused_outside_the_service(rep, revops):
    opportunity = won_opportunity(rep, revops)
    import django_fsm

    with pytest.raises(django_fsm.TransitionNotAllowed):
        opportunity.cancel()
    assert Opportunity.objects.get(pk=opportunity.pk).stage == "closed_won"
