"""Money has its currency's ISO 4217 minor units."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from core.money import (
    UnknownCurrency,
    currency_codes,
    currency_exponent,
    currency_quantum,
    format_money,
    has_valid_minor_units,
    quantize_for,
    validate_amount_for_currency,
    validate_currency_code,
)


@pytest.mark.parametrize(
    ("code", "exponent"),
    [
        ("JPY", 0),
        ("KRW", 0),
        ("CLP", 0),
        ("ISK", 0),
        ("VND", 0),
        ("USD", 2),
        ("EUR", 2),
        ("GBP", 2),
        ("LAK", 2),  # CLDR displays 0 decimals; ISO 4217 says 2
        ("KWD", 3),
        ("BHD", 3),
        ("JOD", 3),
        ("OMR", 3),
        ("TND", 3),
        ("IQD", 3),  # CLDR displays 0 decimals; ISO 4217 says 3
        ("CLF", 4),
        ("UYW", 4),
    ],
)
def test_exponents_are_the_iso_4217_minor_units(code, exponent):
    assert currency_exponent(code) == exponent
    assert currency_quantum(code) == Decimal(1).scaleb(-exponent)
    assert currency_quantum(code).as_tuple().exponent == -exponent


@pytest.mark.parametrize("code", ["usd", "US", "USDX", "", "XAU", "XDR", "XXX", "XTS", "ZZZ", None])
def test_codes_that_are_not_money_are_unknown(code):
    with pytest.raises(UnknownCurrency):
        currency_exponent(code)
    with pytest.raises(UnknownCurrency):
        currency_quantum(code)
    with pytest.raises(ValidationError) as caught:
        validate_currency_code(code)
    assert caught.value.code == "invalid_currency"


def test_every_known_code_is_three_upper_case_letters():
    codes = currency_codes()
    assert {"USD", "EUR", "JPY", "KWD"} <= codes
    assert all(len(c) == 3 and c.isupper() for c in codes)


@pytest.mark.parametrize(
    ("amount", "currency"),
    [
        ("99.99", "JPY"),
        ("0.5", "KRW"),
        ("1000.001", "USD"),
        ("1000.0001", "KWD"),
        ("1.00001", "CLF"),
        ("NaN", "USD"),
        ("Infinity", "USD"),
    ],
)
def test_more_decimals_than_the_currency_has_are_invalid(amount, currency):
    with pytest.raises(ValidationError) as caught:
        validate_amount_for_currency(Decimal(amount), currency)
    assert caught.value.code == "invalid"


def test_the_message_says_what_to_enter():
    with pytest.raises(ValidationError) as caught:
        validate_amount_for_currency(Decimal("99.99"), "JPY")
    assert caught.value.messages == ["JPY has no minor units: enter a whole number."]
    with pytest.raises(ValidationError) as caught:
        validate_amount_for_currency(Decimal("1.0001"), "KWD")
    assert caught.value.messages == ["KWD amounts have at most 3 decimal places."]


@pytest.mark.parametrize(
    ("amount", "currency"),
    [
        ("1000000", "JPY"),
        ("100.00", "JPY"),  # trailing zeros are not decimals: a 2-place column reads this way
        ("1000.50", "USD"),
        ("0", "USD"),
        ("1000.125", "KWD"),
        ("1.2345", "CLF"),
        ("1E+3", "JPY"),
    ],
)
def test_amounts_within_the_minor_units_pass(amount, currency):
    validate_amount_for_currency(Decimal(amount), currency)
    assert has_valid_minor_units(Decimal(amount), currency)


def test_missing_amounts_and_unknown_currencies_are_left_to_their_own_rules():
    validate_amount_for_currency(None, "JPY")
    validate_amount_for_currency(Decimal("1.234"), "")
    validate_amount_for_currency(Decimal("1.234"), "ZZZ")


@pytest.mark.parametrize(
    ("currency", "amount", "expected"),
    [
        ("JPY", "99.5", "100"),
        ("JPY", "99.49", "99"),
        ("USD", "0.005", "0.01"),
        ("USD", "-0.005", "-0.01"),
        ("KWD", "1.2345", "1.235"),
        ("CLF", "1.23456", "1.2346"),
        ("USD", 7, "7.00"),
    ],
)
def test_quantize_rounds_half_up_to_the_minor_units(currency, amount, expected):
    result = quantize_for(currency, amount)
    assert result == Decimal(expected) and str(result) == expected


def test_quantize_refuses_floats():
    with pytest.raises(TypeError):
        quantize_for("USD", 0.1)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        (Decimal("1000"), "USD", "1,000.00 USD"),
        (Decimal("1000000"), "JPY", "1,000,000 JPY"),
        (Decimal("1000"), "KWD", "1,000.000 KWD"),
        (Decimal("1.5"), "CLF", "1.5000 CLF"),
        (Decimal("100.00"), "JPY", "100 JPY"),
        (None, "USD", "—"),
    ],
)
def test_format_money_shows_the_currencys_decimals(amount, currency, text):
    assert format_money(amount, currency) == text


@given(
    st.sampled_from(sorted(currency_codes())),
    st.decimals(min_value=-(10**12), max_value=10**12, allow_nan=False, allow_infinity=False),
)
def test_a_quantized_amount_always_has_valid_minor_units(currency, amount):
    quantized = quantize_for(currency, amount)
    assert has_valid_minor_units(quantized, currency)
    assert abs(quantized - amount) <= Decimal(1).scaleb(-currency_exponent(currency)) / 2
