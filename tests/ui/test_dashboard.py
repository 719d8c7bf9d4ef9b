"""The dashboard: weighted pipeline by stage, bookings by month, win rate, pending approvals."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from amendments.ledger import booking_create
from opportunities import services
from opportunities.models import Opportunity
from opportunities.stages import Stage
from opportunities.templatetags.closedwon_ui import money, money_compact, nice_ceiling
from tests.factories import OpportunityFactory, ready_opportunity

pytestmark = pytest.mark.django_db


def won(owner, amount, close_date):
    opportunity = ready_opportunity(
        owner,
        stage=Stage.CLOSED_WON,
        amount=Decimal(amount),
        unit_price=None,
        close_date=close_date,
    )
    Opportunity.objects.filter(pk=opportunity.pk).update(closed_at=timezone.now())
    # The dashboard reads the bookings ledger, which the approval writes.
    booking_create(
        opportunity=opportunity, kind="won", amount_delta=opportunity.amount, booked_on=close_date
    )
    return opportunity


def test_weighted_pipeline_by_stage(rep, rep_client):
    OpportunityFactory(owner=rep, amount=Decimal("10000"))  # prospecting 10 %
    ready_opportunity(rep, stage=Stage.PROPOSAL, amount=Decimal("4000"), unit_price=None)  # 50 %
    response = rep_client.get("/dashboard/")
    rows = {row.stage: row for row in response.context["pipeline_rows"]}
    assert rows[Stage.PROSPECTING].weighted == Decimal("1000.00")
    assert rows[Stage.PROPOSAL].weighted == Decimal("2000.00")
    assert response.context["pipeline_weighted"] == Decimal("3000.00")
    assert 'data-kpi="weighted">$3K<' in response.content.decode()


def test_bookings_by_month_of_close_date_for_the_last_twelve_months(rep, rep_client):
    today = timezone.localdate()
    this_month = today.replace(day=1)
    last_month = (this_month - dt.timedelta(days=1)).replace(day=1)
    won(rep, "1000", this_month)
    won(rep, "2500", this_month)
    won(rep, "700", last_month)
    won(rep, "9999", this_month.replace(year=this_month.year - 2))  # too old

    response = rep_client.get("/dashboard/")
    bookings = response.context["bookings"]
    assert len(bookings) == 12
    assert bookings[-1].month == this_month and bookings[-1].amount == Decimal("3500")
    assert bookings[-1].count == 2
    assert bookings[-2].month == last_month and bookings[-2].amount == Decimal("700")
    assert response.context["bookings_total"] == Decimal("4200")
    html = response.content.decode()
    assert "<svg" in html and f"{this_month:%B %Y}: $3,500 (2 deals)" in html


def test_win_rate_counts_won_against_lost(rep, rep_client):
    today = timezone.localdate()
    won(rep, "100", today)
    won(rep, "100", today)
    won(rep, "100", today)
    OpportunityFactory(owner=rep, stage=Stage.CLOSED_LOST, closed_at=timezone.now())
    response = rep_client.get("/dashboard/")
    win = response.context["win"]
    assert (win.won, win.lost, win.rate) == (3, 1, 75)
    assert 'data-kpi="win-rate">75%<' in response.content.decode()


def test_pending_approvals_are_listed_oldest_first(rep, rep_client):
    first = ready_opportunity(rep, stage=Stage.NEGOTIATION, name="First in")
    second = ready_opportunity(rep, stage=Stage.NEGOTIATION, name="Second in")
    services.opportunity_transition(opportunity=first, name="submit_for_approval", actor=rep)
    services.opportunity_transition(opportunity=second, name="submit_for_approval", actor=rep)
    response = rep_client.get("/dashboard/")
    assert response.context["pending_count"] == 2
    assert [a.opportunity.name for a in response.context["pending"]] == ["First in", "Second in"]


def test_mine_and_everyone(rep, rep2, rep_client):
    OpportunityFactory(owner=rep, amount=Decimal("100"))
    OpportunityFactory(owner=rep2, amount=Decimal("900"))
    assert rep_client.get("/dashboard/").context["pipeline_total"] == Decimal("100")
    assert rep_client.get("/dashboard/?scope=all").context["pipeline_total"] == Decimal("1000")


def test_the_dashboard_costs_the_same_queries_for_10_and_60_deals(rep, rep_client):
    def count():
        with CaptureQueriesContext(connection) as ctx:
            rep_client.get("/dashboard/?scope=all")
        return len(ctx.captured_queries)

    for _ in range(10):
        OpportunityFactory(owner=rep, amount=Decimal("5"))
    at_10 = count()
    Opportunity.objects.bulk_create(
        [Opportunity(name=f"x{i}", owner=rep, currency="USD", amount=Decimal(i)) for i in range(50)]
    )
    assert count() == at_10


@pytest.mark.parametrize(
    ("value", "plain", "compact"),
    [
        (Decimal("120000"), "$120,000", "$120K"),
        (Decimal("1234.5"), "$1,234.50", "$1.2K"),
        (Decimal("2500000"), "$2,500,000", "$2.5M"),
        (None, "—", "—"),
    ],
)
def test_money_formats(value, plain, compact):
    assert money(value) == plain
    assert money_compact(value) == compact


def test_money_without_a_known_symbol_shows_the_code():
    assert money(Decimal("10"), "SEK") == "10 SEK"


@pytest.mark.parametrize(
    ("value", "top"), [(0, 1), (528000, 600000), (3500, 4000), (100, 100), (101, 200)]
)
def test_chart_axes_end_on_round_numbers(value, top):
    assert nice_ceiling(value) == top


def _axis_labels(amounts):
    from types import SimpleNamespace

    from opportunities.templatetags.closedwon_ui import bookings_chart

    rows = [
        SimpleNamespace(month=dt.date(2026, m, 1), amount=Decimal(a), count=1 if a else 0)
        for m, a in enumerate(amounts, start=1)
    ]
    return [line["label"] for line in bookings_chart(rows, "USD")["grid"]]


def test_an_empty_bookings_chart_shows_only_the_zero_line():
    assert _axis_labels(["0", "0", "0"]) == ["$0"]


def test_the_bookings_axis_shows_each_label_once_from_zero_up():
    assert _axis_labels(["0", "528000", "100"]) == ["$0", "$150K", "$300K", "$450K", "$600K"]
    # A tiny maximum: the quarters of 2 would read $0, $1, $1, $2, $2.
    assert _axis_labels(["2", "0"]) == ["$0", "$1", "$2"]


def test_bookings_never_add_a_currency_without_a_rate_to_the_reporting_one(
    rep, rep_client, settings
):
    settings.REPORTING_CURRENCY = "USD"
    from currencies.models import ExchangeRate

    this_month = timezone.localdate().replace(day=1)
    won(rep, "1000", this_month)  # USD
    eur = ready_opportunity(rep, stage=Stage.CLOSED_WON, currency="EUR", unit_price=None)
    booking_create(opportunity=eur, kind="won", amount_delta=Decimal("20000"), booked_on=this_month)
    ExchangeRate.objects.create(currency="GBP", rate=Decimal("1.25"), valid_from=this_month)
    gbp = ready_opportunity(rep, stage=Stage.CLOSED_WON, currency="GBP", unit_price=None)
    booking_create(opportunity=gbp, kind="won", amount_delta=Decimal("400"), booked_on=this_month)

    response = rep_client.get("/dashboard/")
    month = response.context["bookings"][-1]
    # USD as booked, GBP at the booking day's rate; the EUR booked with no rate apart
    assert month.amount == Decimal("1500") and month.count == 3
    assert month.unconverted == {"EUR": Decimal("20000")}
    assert response.context["bookings_total"] == Decimal("1500")
    win = response.context["win"]
    assert (win.won, win.won_amount, win.won_unconverted) == (
        3,
        Decimal("1500"),
        {"EUR": Decimal("20000")},
    )
    html = response.content.decode()
    assert 'data-kpi="bookings">$1.5K<' in html
    assert "20,000.00 EUR" in html and "(no exchange rate)" in html
