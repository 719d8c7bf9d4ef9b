"""Amendments decided through the approval-policy route: routed on the proposed values,
one decision per step by the step engine of Closed-Won requests, applied only after the
last step; segregation of duties and the codes at every step; notifications; the
cancellation's RevOps-only route and its null ``after``."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from amendments.models import Amendment, Booking
from amendments.services import amendment_decide, amendment_dry_run, amendment_request
from approvals import services as approval_services
from approvals.models import ApprovalDecision, Notification
from core import errors
from handoffs.models import Handoff
from opportunities.stages import Stage
from tests.amendments.conftest import big_change, publish_policy, won_opportunity

pytestmark = pytest.mark.django_db

ROUTE = "RevOps → Finance (amount ≥ 100,000)"


def codes_of(exc_info) -> str:
    return exc_info.value.code


def test_dry_run_shows_the_route_of_the_proposed_values(rep, revops, finance_group):
    opportunity = won_opportunity(rep, revops)
    policy = publish_policy()
    line = [{"product": opportunity.seat.pk, "seats": 1000, "unit_price": "100.00"}]

    big = amendment_dry_run(
        opportunity=opportunity,
        actor=rep,
        kind="change",
        changes={"amount": "100000.00"},
        line_items=line,
    )
    small = amendment_dry_run(
        opportunity=opportunity, actor=rep, kind="change", changes={"term_months": 24}
    )

    assert big["route_label"] == ROUTE and big["policy_version"] == policy.version
    assert [s["group"] for s in big["route"]] == ["RevOps", "Finance"]
    assert big["route"][1]["why"] == "amount ≥ 100,000"
    assert small["route_label"] == "RevOps" and len(small["route"]) == 1
    assert not Amendment.objects.exists()  # a dry run writes nothing


def test_a_big_amendment_waits_for_finance_and_applies_only_after_the_last_step(
    rep, revops, revops2, fiona, subscriber
):
    opportunity = won_opportunity(rep, revops)
    policy = publish_policy()
    amendment = big_change(opportunity, rep)
    assert [s["group"] for s in amendment.route] == ["RevOps", "Finance"]
    assert amendment.policy_version == policy.version and amendment.step_index == 0
    # The RevOps step is the first; Finance hears of it when its step comes.
    assert not Handoff.outbox.filter(
        topic="approval", payload__subject__contains="Finance"
    ).exists()

    after_revops = amendment_decide(amendment=amendment, actor=revops2, decision="approve")

    opportunity.refresh_from_db()
    assert after_revops.status == "pending" and after_revops.step_index == 1
    assert opportunity.amount == Decimal("2500.00")  # nothing applied yet
    assert not Booking.objects.filter(amendment=amendment).exists()
    finance_mail = Handoff.outbox.filter(topic="approval", payload__to__contains=[fiona.email])
    assert finance_mail.count() == 1
    assert "Amendment of" in finance_mail.get().payload["subject"]

    applied = amendment_decide(
        amendment=amendment, actor=fiona, decision="approve", reason="Budget confirmed"
    )

    opportunity.refresh_from_db()
    assert applied.status == "approved" and opportunity.amount == Decimal("100000.00")
    steps = list(ApprovalDecision.objects.filter(amendment=amendment).order_by("step_index"))
    assert [(d.step_index, d.group, d.decided_by_id) for d in steps] == [
        (0, "RevOps", revops2.pk),
        (1, "Finance", fiona.pk),
    ]
    assert steps[1].comment == "Budget confirmed" and steps[1].policy_version == policy.version
    assert Booking.objects.filter(amendment=amendment, kind="amendment").count() == 1
    # The requester heard of each decision, in the app and by e-mail.
    notes = list(Notification.objects.filter(user=rep, text__startswith="Amendment").order_by("id"))
    assert len(notes) == 2 and "waiting for Finance" in notes[0].text
    assert "applied" in notes[1].text
    assert Handoff.outbox.filter(topic="decision", dedupe_key__startswith="amendment-").count() == 2


def test_a_published_policy_does_not_reroute_a_pending_amendment(rep, revops, revops2, fiona):
    opportunity = won_opportunity(rep, revops)
    amendment = big_change(opportunity, rep)  # no policy yet: the RevOps step only
    publish_policy()

    applied = amendment_decide(amendment=amendment, actor=revops2, decision="approve")

    assert len(applied.route) == 1 and applied.policy_version is None
    assert applied.status == "approved"


@pytest.mark.parametrize("who", ["owner", "requester"])
def test_the_requester_and_the_owner_never_decide_a_step(
    who, rep, revops, revops2, fiona, finance_group
):
    opportunity = won_opportunity(rep, revops)
    publish_policy()
    # The owner (or the RevOps requester) is also a Finance member: still never decides.
    requester = rep if who == "owner" else revops
    requester.groups.add(finance_group)
    amendment = big_change(opportunity, requester)
    amendment_decide(amendment=amendment, actor=revops2, decision="approve")

    for actor in {rep, requester}:
        # A Finance member is refused as requester or owner; the owner outside Finance
        # is refused first for not being on the step at all.
        member = actor is requester or who == "owner"
        refused = errors.SelfApprovalForbidden if member else errors.PermissionDenied
        for decision in ("approve", "reject"):
            with pytest.raises(refused):
                amendment_decide(amendment=amendment, actor=actor, decision=decision, reason="mine")
    amendment.refresh_from_db()
    assert amendment.status == "pending" and amendment.step_index == 1


def test_one_person_never_approves_two_steps(rep, revops, revops2, fiona, finance_group):
    opportunity = won_opportunity(rep, revops)
    publish_policy()
    revops2.groups.add(finance_group)
    amendment = big_change(opportunity, rep)
    amendment_decide(amendment=amendment, actor=revops2, decision="approve")

    with pytest.raises(errors.DomainError) as exc:
        amendment_decide(amendment=amendment, actor=revops2, decision="approve")

    assert codes_of(exc) == "already_decided"
    assert ApprovalDecision.objects.filter(amendment=amendment).count() == 1


def test_a_step_that_is_not_theirs_is_permission_denied(rep, revops, revops2, fiona):
    opportunity = won_opportunity(rep, revops)
    publish_policy()
    amendment = big_change(opportunity, rep)

    with pytest.raises(errors.DomainError) as finance_first:
        amendment_decide(amendment=amendment, actor=fiona, decision="approve")
    amendment_decide(amendment=amendment, actor=revops2, decision="approve")
    with pytest.raises(errors.DomainError) as revops_on_finance:
        amendment_decide(amendment=amendment, actor=revops, decision="approve")

    assert codes_of(finance_first) == "permission_denied"
    assert codes_of(revops_on_finance) == "permission_denied"
    amendment.refresh_from_db()
    assert amendment.status == "pending" and amendment.step_index == 1


def test_finance_rejects_at_its_step_with_a_reason(rep, revops, revops2, fiona, subscriber):
    opportunity = won_opportunity(rep, revops)
    publish_policy()
    amendment = big_change(opportunity, rep)
    amendment_decide(amendment=amendment, actor=revops2, decision="approve")

    with pytest.raises(errors.ReasonRequired):
        amendment_decide(amendment=amendment, actor=fiona, decision="reject", reason="  ")
    rejected = amendment_decide(
        amendment=amendment, actor=fiona, decision="reject", reason="No budget"
    )

    opportunity.refresh_from_db()
    assert rejected.status == "rejected" and rejected.decision_reason == "No budget"
    assert opportunity.amount == Decimal("2500.00")
    last = ApprovalDecision.objects.filter(amendment=amendment).latest("id")
    assert (last.step_index, last.decision, last.comment) == (1, "rejected", "No budget")
    assert not Handoff.outbox.filter(event_type="deal.amended").exists()
    assert "rejected by" in Notification.objects.filter(user=rep).latest("id").text


def test_an_all_two_step_needs_two_distinct_members(rep, revops, revops2, fiona, fred):
    opportunity = won_opportunity(rep, revops)
    publish_policy(mode="all", count=2)
    amendment = big_change(opportunity, rep)
    amendment_decide(amendment=amendment, actor=revops2, decision="approve")

    first = amendment_decide(amendment=amendment, actor=fiona, decision="approve")
    assert first.status == "pending" and first.step_index == 1
    with pytest.raises(errors.DomainError) as twice:
        amendment_decide(amendment=amendment, actor=fiona, decision="approve")
    second = amendment_decide(amendment=amendment, actor=fred, decision="approve")

    assert codes_of(twice) == "already_decided"
    assert second.status == "approved"
    assert ApprovalDecision.objects.filter(amendment=amendment, step_index=1).count() == 2


def test_the_gate_holds_at_every_step(rep, revops, revops2, fiona):
    opportunity = won_opportunity(rep, revops)
    publish_policy()
    amendment = big_change(opportunity, rep)
    # The deal's contract ID disappears behind the amendment's back: no step passes.
    type(opportunity).objects.filter(pk=opportunity.pk).update(contract_id="")

    with pytest.raises(errors.GateFailed):
        amendment_decide(amendment=amendment, actor=revops2, decision="approve")
    assert not ApprovalDecision.objects.filter(amendment=amendment).exists()


def test_a_cancellation_keeps_the_revops_step_and_has_no_after(
    rep, revops, revops2, fiona, subscriber
):
    opportunity = won_opportunity(rep, revops)
    publish_policy(amount_gte="0")  # would route every change to Finance
    dry = amendment_dry_run(opportunity=opportunity, actor=revops, kind="cancellation")
    assert dry["route_label"] == "RevOps" and dry["after"] is None

    amendment = amendment_request(
        opportunity=opportunity, actor=revops, kind="cancellation", reason="Churned"
    )
    assert [s["rule"] for s in amendment.route] == ["Every cancellation"]
    assert amendment.policy_version is None and amendment.after is None
    with pytest.raises(errors.SelfApprovalForbidden):
        amendment_decide(amendment=amendment, actor=revops, decision="approve")
    done = amendment_decide(amendment=amendment, actor=revops2, decision="approve")

    opportunity.refresh_from_db()
    assert done.status == "approved" and opportunity.stage == Stage.CANCELLED
    Amendment.objects.filter(pk=done.pk, after__isnull=True).get()
    billing = Handoff.outbox.filter(event_type="handoff.billing.cancelled", opportunity=opportunity)
    assert billing.count() == 2  # the subscriber and HANDOFF_BILLING_URL's endpoint
    assert all(row.payload["data"]["after"] is None for row in billing)


def test_the_sla_sweep_reminds_the_finance_step_of_an_amendment(rep, revops, revops2, fiona):
    opportunity = won_opportunity(rep, revops)
    publish_policy()
    amendment = big_change(opportunity, rep)
    amendment_decide(amendment=amendment, actor=revops2, decision="approve")

    later = timezone.now() + dt.timedelta(days=7)
    first = approval_services.sla_sweep(now=later)
    again = approval_services.sla_sweep(now=later)

    assert first["reminders"] >= 1
    reminders = Handoff.outbox.filter(topic="reminder", payload__to__contains=[fiona.email])
    assert reminders.count() == 1  # idempotent
    assert again["reminders"] >= 0
