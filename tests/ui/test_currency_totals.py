"""Amounts of different currencies are never added: board and dashboard totals are
converted to the reporting currency, and what has no exchange rate is shown beside the
total, not added to it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from currencies.models import ExchangeRate
from opportunities.selectors import pipeline
from opportunities.stages import Stage
from tests.factories import ready_opportunity

pytestmark = pytest.mark.django_db


def opportunities(rep):
    # One rep wins... 1,000 USD, 1,000 EUR, 1,000,000 JPY and 1,000 KWD in Proposal.
    for currency, amount in (
        ("USD", Decimal("1000")),
        ("EUR", Decimal("1000")),
        ("JPY", Decimal("1000000")),
        ("KWD", Decimal("1000")),
    ):
        ready_opportunity(
            rep, stage=Stage.PROPOSAL, currency=currency, amount=amount, unit_price=None
        )


def test_totals_convert_what_has_a_rate_and_keep_the_rest_apart(rep, settings):
    settings.REPORTING_CURRENCY = "USD"
    opportunities(rep)
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    ExchangeRate.objects.create(currency="EUR", rate=Decimal("1.10"), valid_from=yesterday)
    ExchangeRate.objects.create(currency="JPY", rate=Decimal("0.0065"), valid_from=yesterday)

    totals = pipeline.stage_totals(pipeline.PipelineFilter())[Stage.PROPOSAL]

    assert totals.count == 4
    assert totals.amount == Decimal("1000") + Decimal("1100") + Decimal("6500")
    assert totals.unconverted == {"KWD": Decimal("1000")}
    assert totals.by_currency["JPY"] == Decimal("1000000")


def test_the_board_says_what_has_no_rate(rep_client, rep, settings):
    settings.REPORTING_CURRENCY = "USD"
    opportunities(rep)
    html = rep_client.get("/pipeline/?scope=all").content.decode()
    # nothing converted but the USD deal: the others are named, never summed as dollars
    assert "$1,000" in html or "$1K" in html
    assert "1,000,000 JPY" in html and "1,000.000 KWD" in html and "1,000.00 EUR" in html
    assert "(no exchange rate)" in html
    assert "$1M" not in html


def test_the_dashboard_converts_and_names_the_reporting_currency(rep_client, rep, settings):
    settings.REPORTING_CURRENCY = "USD"
    opportunities(rep)
    ExchangeRate.objects.create(
        currency="KWD", rate=Decimal("3.25"), valid_from=timezone.localdate()
    )
    html = rep_client.get("/dashboard/?scope=all").content.decode()
    assert "amounts in USD" in html
    assert "1,000,000 JPY" in html  # no JPY rate: shown apart
    assert "$1M" not in html
