"""The dashboard's bookings and win rate come from the ledger, net of amendments and
cancellations; a past month's figure does not move when a deal is amended later."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from amendments.services import amendment_decide, amendment_request
from opportunities.selectors.pipeline import PipelineFilter, bookings_by_month, win_rate
from tests.amendments.conftest import won_opportunity

pytestmark = pytest.mark.django_db


def test_bookings_are_net_of_an_amendment_and_a_cancellation(rep, revops, revops2, rep_client):
    opportunity = won_opportunity(rep, revops)  # 2500, booked on its close date (yesterday)
    other = won_opportunity(rep, revops, seats=10)  # 1000
    more = amendment_request(
        opportunity=opportunity,
        actor=rep,
        kind="change",
        reason="More seats",
        changes={"amount": "3000.00"},
        line_items=[{"product": opportunity.seat.pk, "seats": 30, "unit_price": "100.00"}],
    )
    amendment_decide(amendment=more, actor=revops2, decision="approve")
    cancel = amendment_request(opportunity=other, actor=revops, kind="cancellation", reason="Churn")
    amendment_decide(amendment=cancel, actor=revops2, decision="approve")

    flt = PipelineFilter()
    total = sum((m.amount for m in bookings_by_month(flt)), Decimal(0))
    assert total == Decimal("3000.00")
    win = win_rate(flt)
    assert (win.won, win.won_amount) == (1, Decimal("3000.00"))
    response = rep_client.get("/dashboard/")
    assert response.context["bookings_total"] == Decimal("3000.00")


def test_a_past_month_is_not_rewritten_by_a_later_amendment(rep, revops, revops2):
    first_of_month = timezone.localdate().replace(day=1)
    last_month = (first_of_month - dt.timedelta(days=1)).replace(day=15)
    opportunity = won_opportunity(rep, revops, close_date=last_month)
    amendment = amendment_request(
        opportunity=opportunity,
        actor=rep,
        kind="change",
        reason="Fewer seats",
        changes={"amount": "2000.00"},
        line_items=[{"product": opportunity.seat.pk, "seats": 20, "unit_price": "100.00"}],
    )
    amendment_decide(amendment=amendment, actor=revops2, decision="approve")
    months = {m.month: m for m in bookings_by_month(PipelineFilter())}
    assert months[last_month.replace(day=1)].amount == Decimal("2500.00")
    assert months[first_of_month].amount == Decimal("-500.00")
