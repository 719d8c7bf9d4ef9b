"""Dated exchange rates and totals that never mix currencies."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from core import errors
from currencies import selectors
from currencies.conversion import Converted, Totals, to_reporting
from currencies.models import ExchangeRate
from currencies.services import exchange_rate_create

pytestmark = pytest.mark.django_db

JAN1, FEB1, MAR1 = dt.date(2030, 1, 1), dt.date(2030, 2, 1), dt.date(2030, 3, 1)


def rate(currency: str, value: str, valid_from: dt.date) -> ExchangeRate:
    return ExchangeRate.objects.create(
        currency=currency, rate=Decimal(value), valid_from=valid_from
    )


@pytest.fixture(autouse=True)
def _usd_reporting(settings):
    settings.REPORTING_CURRENCY = "USD"


def test_the_rate_on_a_day_is_the_latest_from_on_or_before_it(django_assert_num_queries):
    rate("EUR", "1.10", JAN1)
    rate("EUR", "1.20", FEB1)

    with django_assert_num_queries(1):
        assert selectors.rate_on("EUR", FEB1) == Decimal("1.20")
    assert selectors.rate_on("EUR", FEB1 - dt.timedelta(days=1)) == Decimal("1.10")
    assert selectors.rate_on("EUR", MAR1) == Decimal("1.20")
    assert selectors.rate_on("EUR", JAN1 - dt.timedelta(days=1)) is None
    assert selectors.rate_on("GBP", MAR1) is None


def test_the_reporting_currency_needs_no_rate(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert selectors.rate_on("USD", JAN1) == Decimal(1)
        assert selectors.rates_for({("USD", JAN1)}) == {("USD", JAN1): Decimal(1)}


def test_rates_for_answers_every_pair_in_one_query(django_assert_num_queries):
    rate("EUR", "1.10", JAN1)
    rate("EUR", "1.20", FEB1)
    rate("EUR", "1.30", MAR1)
    rate("JPY", "0.0067", JAN1)
    rate("KWD", "3.25", FEB1)
    pairs = {
        ("EUR", JAN1),
        ("EUR", dt.date(2030, 2, 15)),
        ("EUR", dt.date(2031, 1, 1)),
        ("JPY", dt.date(2030, 6, 1)),
        ("KWD", JAN1),  # before KWD's first rate
        ("GBP", FEB1),  # no rate at all
        ("USD", FEB1),
    }

    with django_assert_num_queries(1):
        rates = selectors.rates_for(pairs)

    assert rates == {
        ("EUR", JAN1): Decimal("1.10"),
        ("EUR", dt.date(2030, 2, 15)): Decimal("1.20"),
        ("EUR", dt.date(2031, 1, 1)): Decimal("1.30"),
        ("JPY", dt.date(2030, 6, 1)): Decimal("0.0067"),
        ("KWD", JAN1): None,
        ("GBP", FEB1): None,
        ("USD", FEB1): Decimal(1),
    }
    for pair in pairs:
        assert rates[pair] == selectors.rate_on(*pair)


def test_a_converted_amount_has_the_reporting_currencys_minor_units():
    rate("JPY", "0.006712", JAN1)
    rate("KWD", "3.2567", JAN1)

    assert to_reporting(Decimal("1000000"), "JPY", FEB1) == Converted(
        Decimal("6712.00"), Decimal("0.006712"), False
    )
    assert to_reporting(Decimal("1000.125"), "KWD", FEB1).amount == Decimal("3257.11")
    assert to_reporting(Decimal("5.5"), "USD", FEB1) == Converted(
        Decimal("5.50"), Decimal(1), False
    )
    assert to_reporting(Decimal("1"), "EUR", FEB1) == Converted(None, None, True)
    assert to_reporting(None, "EUR", FEB1) == Converted(None, None, False)


def test_to_reporting_uses_the_batched_rates_without_a_query(django_assert_num_queries):
    rate("EUR", "1.10", JAN1)
    rates = selectors.rates_for({("EUR", FEB1)})

    with django_assert_num_queries(0):
        assert to_reporting(Decimal("10"), "EUR", FEB1, rates).amount == Decimal("11.00")


def test_the_bug_report_totals_are_per_currency_and_say_what_is_missing(
    django_assert_num_queries,
):
    # One rep wins 1,000 USD, 1,000 EUR, 1,000,000 JPY and 1,000 KWD.
    rate("EUR", "1.10", JAN1)
    rate("JPY", "0.0067", JAN1)
    totals = Totals()
    for amount, currency in (("1000", "USD"), ("1000", "EUR"), ("1000000", "JPY"), ("1000", "KWD")):
        totals.add(Decimal(amount), currency, FEB1)

    with django_assert_num_queries(1):
        assert totals.per_currency == {
            "EUR": Decimal("1000"),
            "JPY": Decimal("1000000"),
            "KWD": Decimal("1000"),
            "USD": Decimal("1000"),
        }
        assert totals.converted_total is None  # never a sum that silently leaves KWD out
        assert totals.converted_subtotal == Decimal("1000") + Decimal("1100") + Decimal("6700")
        assert totals.unconverted == {"KWD": Decimal("1000")}
        assert totals.missing_rates == ["KWD"]
        assert not totals.is_complete

    rate("KWD", "3.25", JAN1)
    totals.add(None, "USD", FEB1)  # nothing to add; resets nothing it should not
    totals.add(Decimal("0"), "USD", FEB1)
    assert totals.converted_total == Decimal("12050.00")
    assert totals.missing_rates == [] and totals.is_complete


def test_each_item_is_converted_at_its_own_dates_rate():
    rate("EUR", "1.10", JAN1)
    rate("EUR", "1.20", FEB1)
    totals = Totals()
    totals.add(Decimal("100"), "EUR", JAN1)
    totals.add(Decimal("100"), "EUR", MAR1)

    assert totals.per_currency == {"EUR": Decimal("200")}
    assert totals.converted_total == Decimal("230.00")


def test_an_empty_total_is_zero_and_complete(django_assert_num_queries):
    totals = Totals()
    with django_assert_num_queries(0):
        assert totals.per_currency == {}
        assert totals.converted_total == Decimal(0)
        assert totals.is_complete


def test_totals_take_given_rates_without_a_query(django_assert_num_queries):
    totals = Totals(rates={("EUR", JAN1): Decimal("2")})
    totals.add(Decimal("3"), "EUR", JAN1)
    with django_assert_num_queries(0):
        assert totals.converted_total == Decimal("6.00")


# --- writing rates -----------------------------------------------------------------------------


def test_revops_add_a_rate(revops):
    row = exchange_rate_create(actor=revops, currency="EUR", rate=Decimal("1.1"), valid_from=JAN1)

    assert (row.currency, row.rate, row.valid_from, row.created_by) == (
        "EUR",
        Decimal("1.1"),
        JAN1,
        revops,
    )
    assert row.created_at is not None


def test_reps_may_not_add_rates(rep):
    with pytest.raises(errors.PermissionDenied):
        exchange_rate_create(actor=rep, currency="EUR", rate=Decimal("1.1"), valid_from=JAN1)
    assert not ExchangeRate.objects.exists()


@pytest.mark.parametrize(
    ("currency", "value", "code", "field"),
    [
        ("USD", "1", "invalid", "currency"),  # the reporting currency is always 1
        ("EURO", "1.1", "invalid_currency", "currency"),
        ("eur", "1.1", "invalid_currency", "currency"),
        ("XAU", "2000", "invalid_currency", "currency"),
        ("EUR", "0", "invalid", "rate"),
        ("EUR", "-1.1", "invalid", "rate"),
    ],
)
def test_invalid_rates_are_refused_with_their_code(revops, currency, value, code, field):
    with pytest.raises(errors.InvalidInput) as caught:
        exchange_rate_create(actor=revops, currency=currency, rate=Decimal(value), valid_from=JAN1)

    assert (code, field) in {(e["code"], e["field"]) for e in caught.value.errors}
    assert not ExchangeRate.objects.exists()


def test_one_rate_per_currency_and_day(revops):
    exchange_rate_create(actor=revops, currency="EUR", rate=Decimal("1.1"), valid_from=JAN1)

    with pytest.raises(errors.InvalidInput) as caught:
        exchange_rate_create(actor=revops, currency="EUR", rate=Decimal("1.2"), valid_from=JAN1)

    assert [e["code"] for e in caught.value.errors] == ["unique"]
    assert ExchangeRate.objects.get().rate == Decimal("1.1")


def test_the_database_refuses_a_duplicate_and_a_non_positive_rate():
    rate("EUR", "1.1", JAN1)
    with pytest.raises(IntegrityError), transaction.atomic():
        rate("EUR", "1.2", JAN1)
    with pytest.raises(IntegrityError), transaction.atomic():
        rate("GBP", "0", JAN1)


def test_the_roles_hold_the_rate_permissions(rep, revops):
    assert rep.has_perm("currencies.view_exchangerate")
    assert not rep.has_perm("currencies.add_exchangerate")
    assert {
        "currencies.view_exchangerate",
        "currencies.add_exchangerate",
        "currencies.change_exchangerate",
        "currencies.delete_exchangerate",
    } <= revops.get_all_permissions()


def test_recreated_groups_get_the_rate_permissions_too(db):
    from django.contrib.auth.models import Group

    from opportunities.policies import REP_GROUP, REVOPS_GROUP, ensure_groups

    Group.objects.filter(name__in=[REP_GROUP, REVOPS_GROUP]).delete()
    ensure_groups()

    revops_perms = set(
        Group.objects.get(name=REVOPS_GROUP)
        .permissions.filter(content_type__app_label="currencies")
        .values_list("codename", flat=True)
    )
    assert revops_perms == {
        "view_exchangerate",
        "add_exchangerate",
        "change_exchangerate",
        "delete_exchangerate",
    }
