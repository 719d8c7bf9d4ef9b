"""The one set of formats: money, people, waiting times."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from core import formatting


def test_waiting_time_reads_like_a_person_says_it():
    label = formatting.waiting_time
    assert label(dt.timedelta(minutes=12, seconds=40)) == "12 min"
    assert label(dt.timedelta(hours=3, minutes=12)) == "3 h 12 min"
    assert label(dt.timedelta(hours=5)) == "5 h"
    assert label(dt.timedelta(days=2, hours=4, minutes=59)) == "2 d 4 h"
    assert label(dt.timedelta(days=3)) == "3 d"
    assert label(dt.timedelta(seconds=-5)) == "0 min"


def test_money_shows_the_code_and_two_decimals():
    assert formatting.money(Decimal("1234.5"), "usd") == "1,234.50 USD"
    assert formatting.money(None, "USD") == "—"


def test_money_short_drops_zero_cents_and_uses_the_symbol():
    assert formatting.money_short(Decimal("120000.00"), "USD") == "$120,000"
    assert formatting.money_short(Decimal("-5.25"), "EUR") == "-€5.25"
    assert formatting.money_short(Decimal("10"), "CHF") == "10 CHF"


def test_money_compact_scales():
    assert formatting.money_compact(Decimal("1200000"), "USD") == "$1.2M"
    assert formatting.money_compact(Decimal("860000"), "USD") == "$860K"
    assert formatting.money_compact(Decimal("950"), "USD") == "$950"


def test_money_shows_each_currencys_minor_units():
    assert formatting.money(Decimal("1000000"), "JPY") == "1,000,000 JPY"
    assert formatting.money(Decimal("1000.125"), "KWD") == "1,000.125 KWD"
    assert formatting.money_short(Decimal("1000.1250"), "KWD") == "1,000.125 KWD"
    assert formatting.money_short(Decimal("1000.0000"), "KWD") == "1,000 KWD"
    assert formatting.money_short(Decimal("99"), "JPY") == "¥99"
