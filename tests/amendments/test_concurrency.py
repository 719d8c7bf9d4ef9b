"""Racing amendments on PostgreSQL: one wins, the other gets a clean domain error, and
the ledger and the outbox hold exactly one entry per applied amendment."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db.models import Sum

from amendments.models import Amendment, Booking
from amendments.services import amendment_decide, amendment_request
from core import errors
from handoffs.models import Handoff
from tests.amendments.conftest import won_opportunity
from tests.opportunities.test_concurrency import race

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_amendments_requested_at_once_yield_one(rep, revops):
    opportunity = won_opportunity(rep, revops)
    actors = [rep, revops]
    results = race(
        2,
        lambda i: amendment_request(
            opportunity=opportunity.pk,
            actor=actors[i],
            kind="change",
            reason=f"Term {i}",
            changes={"term_months": 24 + i},
        ),
    )
    wins = [r for r in results if isinstance(r, Amendment)]
    losses = [r for r in results if isinstance(r, errors.DomainError)]
    assert len(wins) == 1 and len(losses) == 1, results
    assert losses[0].code == "amendment_pending"
    assert Amendment.objects.filter(opportunity=opportunity).count() == 1


def test_approving_while_a_cancellation_is_requested_gives_a_clean_error(
    rep, revops, revops2, subscriber
):
    opportunity = won_opportunity(rep, revops)
    amendment = amendment_request(
        opportunity=opportunity,
        actor=rep,
        kind="change",
        reason="More seats",
        changes={"amount": "3000.00"},
        line_items=[{"product": opportunity.seat.pk, "seats": 30, "unit_price": "100.00"}],
    )

    def act(i):
        if i == 0:
            return amendment_decide(amendment=amendment.pk, actor=revops2, decision="approve")
        return amendment_request(
            opportunity=opportunity.pk, actor=revops, kind="cancellation", reason="Churned"
        )

    approved, cancelled = race(2, act)
    assert isinstance(approved, Amendment) and approved.status == "approved", approved
    assert isinstance(cancelled, errors.DomainError | Amendment)
    if isinstance(cancelled, errors.DomainError):
        assert cancelled.code == "amendment_pending"
    opportunity.refresh_from_db()
    assert opportunity.amount == Decimal("3000.00")
    assert Booking.objects.filter(opportunity=opportunity).aggregate(s=Sum("amount_delta"))[
        "s"
    ] == Decimal("3000.00")
    assert (
        Handoff.outbox.filter(
            event_type="handoff.billing.amended",
            opportunity=opportunity,
            endpoint__environment_kind="",
        ).count()
        == 1
    )


def test_two_approvals_of_one_amendment_apply_it_once(rep, revops, revops2, subscriber):
    opportunity = won_opportunity(rep, revops)
    amendment = amendment_request(
        opportunity=opportunity,
        actor=rep,
        kind="change",
        reason="Term",
        changes={"term_months": 24},
    )
    actors = [revops, revops2]
    results = race(
        2, lambda i: amendment_decide(amendment=amendment.pk, actor=actors[i], decision="approve")
    )
    wins = [r for r in results if isinstance(r, Amendment)]
    losses = [r for r in results if isinstance(r, errors.DomainError)]
    assert len(wins) == 1 and len(losses) == 1, results
    assert losses[0].code == "already_decided"
    assert Booking.objects.filter(opportunity=opportunity, kind="amendment").count() == 1
    assert Handoff.outbox.filter(event_type="deal.amended", opportunity=opportunity).count() == 1
