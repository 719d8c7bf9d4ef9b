"""Approve → four outbox rows with frozen payloads and one commission credit, in the
approval's transaction (SPEC §5)."""

from __future__ import annotations

import time
import uuid
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from handoffs.models import CommissionCredit, CommissionPlan, Handoff
from handoffs.services import commission_credit_amount, handoffs_create_for_approval
from opportunities.models import Approval, Opportunity
from opportunities.services import opportunity_transition
from tests.celery_worker import purge_queues, queued_messages, queued_task_args
from tests.factories import LineItemFactory, ProductFactory, ready_opportunity
from tests.handoffs.conftest import approve, broker_unreachable

DELIVER = "handoffs.deliver_many"
KINDS = {"billing", "provisioning", "customer_success", "commission"}


def mixed_opportunity(rep):
    """Two line items of one SKU and one of another, no unit prices (so any amount)."""
    opportunity = ready_opportunity(rep, lines=0, amount=Decimal("12345.67"), po_number="PO-77")
    seat, addon = ProductFactory(sku="SEAT-PRO", name="Pro seat"), ProductFactory(sku="ADDON-SSO")
    LineItemFactory(opportunity=opportunity, product=seat, seats=3, unit_price=None)
    LineItemFactory(opportunity=opportunity, product=seat, seats=4, unit_price=None)
    LineItemFactory(opportunity=opportunity, product=addon, seats=5, unit_price=None)
    return opportunity


def approved_mixed(rep, revops):
    opportunity = mixed_opportunity(rep)
    opportunity_transition(opportunity=opportunity, name="submit_for_approval", actor=rep)
    opportunity_transition(opportunity=opportunity, name="approve", actor=revops)
    return opportunity, {h.kind: h for h in Handoff.objects.filter(opportunity=opportunity)}


@pytest.mark.django_db
def test_approve_creates_four_pending_handoffs_with_envelopes(rep, revops):
    opportunity, handoffs = approve(rep, revops)

    assert set(handoffs) == KINDS
    approval = Approval.objects.get(opportunity=opportunity, decision="approved")
    for kind, handoff in handoffs.items():
        assert handoff.status == "pending" and handoff.attempts == 0
        assert handoff.approval_id == approval.pk and handoff.next_attempt_at is not None
        assert handoff.payload["id"] == str(handoff.pk)
        assert handoff.payload["type"] == f"handoff.{kind}"
        assert handoff.payload["created_at"]
        data = handoff.payload["data"]
        assert data["opportunity"]["id"] == opportunity.pk
        assert data["opportunity"]["stage"] == "closed_won"
        assert data["account"]["id"] == opportunity.account_id
        assert data["primary_contact"]["email"] == opportunity.primary_contact.email
        assert data["owner"]["username"] == rep.username
        assert data["approval"]["approved_by"]["username"] == revops.username
        assert data["approval"]["submitted_by"]["username"] == rep.username
        assert kind in data
    assert len({h.pk for h in handoffs.values()}) == 4


@pytest.mark.django_db
def test_each_kind_carries_what_its_team_needs(rep, revops):
    opportunity, handoffs = approved_mixed(rep, revops)

    billing = handoffs["billing"].payload["data"]["billing"]
    assert billing["amount"] == "12345.67" and billing["currency"] == "USD"
    assert billing["contract_id"] == opportunity.contract_id and billing["po_number"] == "PO-77"
    assert billing["contract_start_date"] == opportunity.contract_start_date.isoformat()
    assert billing["term_months"] == 12
    assert billing["bill_to"]["email"] == opportunity.primary_contact.email

    provisioning = handoffs["provisioning"].payload["data"]["provisioning"]
    assert provisioning["seats_by_sku"] == [
        {"sku": "ADDON-SSO", "name": provisioning["seats_by_sku"][0]["name"], "seats": 5},
        {"sku": "SEAT-PRO", "name": "Pro seat", "seats": 7},
    ]
    assert provisioning["total_seats"] == 12
    line_items = handoffs["provisioning"].payload["data"]["line_items"]
    assert [(li["sku"], li["seats"]) for li in line_items] == [
        ("SEAT-PRO", 3),
        ("SEAT-PRO", 4),
        ("ADDON-SSO", 5),
    ]

    cs = handoffs["customer_success"].payload["data"]["customer_success"]
    assert cs["account"]["name"] == opportunity.account.name
    assert cs["primary_contact"]["id"] == opportunity.primary_contact_id
    assert [p["sku"] for p in cs["products"]] == ["ADDON-SSO", "SEAT-PRO"]
    assert cs["owner"]["username"] == rep.username

    commission = handoffs["commission"].payload["data"]["commission"]
    assert commission["rep"]["username"] == rep.username
    assert commission["booking_amount"] == "12345.67"
    assert commission["rate"] == "0.1000"  # settings.COMMISSION_DEFAULT_RATE
    assert commission["credit_amount"] == "1234.57"  # 1234.567 rounded half up


@pytest.mark.django_db
def test_commission_credit_uses_the_reps_plan(rep, revops):
    CommissionPlan.objects.create(rep=rep, rate=Decimal("0.0725"))

    opportunity, handoffs = approved_mixed(rep, revops)

    credit = CommissionCredit.objects.get(opportunity=opportunity)
    assert credit.rep == rep and credit.approval.decision == "approved"
    assert credit.booking_amount == Decimal("12345.67") and credit.rate == Decimal("0.0725")
    assert credit.credit_amount == Decimal("895.06")  # 895.061075
    assert handoffs["commission"].payload["data"]["commission"]["credit_id"] == credit.pk
    assert handoffs["commission"].payload["data"]["commission"]["credit_amount"] == "895.06"


@pytest.mark.django_db
def test_commission_credit_falls_back_to_the_default_rate(rep, revops, settings):
    settings.COMMISSION_DEFAULT_RATE = "0.08"

    opportunity, _ = approve(rep, revops, amount=Decimal("1000.00"))

    credit = CommissionCredit.objects.get(opportunity=opportunity)
    assert credit.rate == Decimal("0.08") and credit.credit_amount == Decimal("80.00")


@pytest.mark.parametrize(
    ("amount", "rate", "credit"),
    [
        ("100.00", "0.1", "10.00"),
        ("0.05", "0.1", "0.01"),  # 0.005 → half up
        ("999999999999.99", "1", "999999999999.99"),
        ("333.33", "0.0333", "11.10"),
    ],
)
def test_credit_amount_is_amount_times_rate_to_the_cent(amount, rate, credit):
    assert commission_credit_amount(Decimal(amount), Decimal(rate)) == Decimal(credit)


@pytest.mark.django_db
def test_a_second_set_for_the_same_approval_is_refused(rep, revops):
    opportunity, _ = approve(rep, revops)
    approval = Approval.objects.select_related("opportunity").get(opportunity=opportunity)

    with pytest.raises(IntegrityError), transaction.atomic():
        handoffs_create_for_approval(approval=approval)
    assert Handoff.objects.filter(opportunity=opportunity).count() == 4


@pytest.mark.django_db(transaction=True)
def test_rolled_back_approval_leaves_no_row_and_publishes_nothing(rep, revops, receiver):
    """Given no worker (messages would stay queued), when the approval's transaction rolls
    back, then no handoff, no credit and no message exist; a committed one publishes one
    message carrying its four handoffs."""
    purge_queues()
    opportunity = ready_opportunity(rep)
    opportunity_transition(opportunity=opportunity, name="submit_for_approval", actor=rep)

    with pytest.raises(RuntimeError), transaction.atomic():
        opportunity_transition(opportunity=opportunity, name="approve", actor=revops)
        assert Handoff.objects.filter(opportunity=opportunity).count() == 4  # written, not sent
        raise RuntimeError("something later in the same request failed")

    assert not Handoff.objects.exists() and not CommissionCredit.objects.exists()
    assert Opportunity.objects.get(pk=opportunity.pk).stage == "pending_approval"
    assert queued_messages(DELIVER) == 0

    opportunity_transition(opportunity=opportunity, name="approve", actor=revops)
    # one message for everything the approval wrote: the four handoffs and the rep's
    # decision e-mail (an outbox row too)
    assert queued_messages(DELIVER) == 1
    assert sorted(pk for args in queued_task_args(DELIVER) for pk in args[0]) == sorted(
        str(pk)
        for pk in Handoff.outbox.filter(opportunity=opportunity).values_list("pk", flat=True)
    )
    purge_queues()


@pytest.mark.django_db(transaction=True)
def test_with_a_task_batch_of_one_each_handoff_is_its_own_message(rep, revops, settings):
    settings.HANDOFF_TASK_BATCH = 1
    purge_queues()
    opportunity = ready_opportunity(rep)
    opportunity_transition(opportunity=opportunity, name="submit_for_approval", actor=rep)
    opportunity_transition(opportunity=opportunity, name="approve", actor=revops)
    assert queued_messages(DELIVER) == 5  # the four handoffs and the decision e-mail
    assert sorted(args[0][0] for args in queued_task_args(DELIVER)) == sorted(
        str(pk)
        for pk in Handoff.outbox.filter(opportunity=opportunity).values_list("pk", flat=True)
    )
    purge_queues()


@pytest.mark.django_db(transaction=True)
def test_broker_down_at_commit_neither_raises_nor_hangs_the_approval(rep, revops, caplog):
    purge_queues()
    opportunity = ready_opportunity(rep)
    opportunity_transition(opportunity=opportunity, name="submit_for_approval", actor=rep)

    with broker_unreachable():
        started = time.monotonic()
        opportunity_transition(opportunity=opportunity, name="approve", actor=revops)
        took = time.monotonic() - started

    assert took < 3, took
    assert Opportunity.objects.get(pk=opportunity.pk).stage == "closed_won"
    assert Handoff.objects.filter(opportunity=opportunity, status="pending").count() == 4
    assert "the outbox relay will send them" in caplog.text
    assert queued_messages(DELIVER) == 0


@pytest.mark.django_db
def test_handoff_ids_are_uuids_and_stable(rep, revops):
    _, handoffs = approve(rep, revops)
    for handoff in handoffs.values():
        assert isinstance(handoff.pk, uuid.UUID)
        assert Handoff.objects.get(pk=handoff.pk).payload["id"] == str(handoff.pk)


@pytest.mark.django_db(transaction=True)
def test_outbox_rows_of_one_transaction_share_one_message_but_not_a_rolled_back_savepoint(
    rep,
):
    """Given one transaction that queues an e-mail, then another inside a savepoint that
    rolls back, then a third, when it commits, then one message carries the first and the
    third, and the rolled-back row is in no message."""
    from handoffs.services import email_enqueue

    purge_queues()

    def mail(key: str) -> Handoff:
        return email_enqueue(to=["rep@example.com"], subject="s", body="b", dedupe_key=key)

    with transaction.atomic():
        first = mail("one")
        with pytest.raises(RuntimeError), transaction.atomic():
            mail("two")
            raise RuntimeError("the inner step failed")
        third = mail("three")

    assert queued_messages(DELIVER) == 1
    (args,) = queued_task_args(DELIVER)
    assert args[0] == [str(first.pk), str(third.pk)]
    assert not Handoff.outbox.filter(dedupe_key="two").exists()
    purge_queues()


@pytest.mark.django_db
def test_a_repeated_email_enqueue_returns_the_first_row(rep):
    """The idempotency key holds without a savepoint: the second call gets the first row
    back, unchanged, and the table still has one row for the key."""
    from handoffs.services import email_enqueue

    first = email_enqueue(to=["a@example.com"], subject="first", body="b", dedupe_key="k")
    again = email_enqueue(to=["b@example.com"], subject="second", body="b", dedupe_key="k")

    assert again.pk == first.pk and again.payload["subject"] == "first"
    assert Handoff.outbox.filter(dedupe_key="k").count() == 1
