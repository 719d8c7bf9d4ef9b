"""Money in its currency's minor units (ISO 4217).

Every currency has an exponent: the number of decimals its amounts carry (JPY 0, USD 2,
KWD 3, CLF 4). An amount with more decimals than its currency allows is not money in
that currency (``JPY 99.99``) and is refused. The exponents come from the ``iso4217``
package, which ships the ISO 4217 maintenance agency's list ("minor unit" column), not
CLDR's display digits: CLDR shows IQD and LAK with 0 decimals where ISO 4217 gives 3 and
2, and Babel's ``get_currency_precision`` follows CLDR.

Only current ISO 4217 currencies with a minor unit are money here: fund codes such as
CLF or UYW are; metals, SDR and the test codes (XAU, XDR, XTS, XXX; minor unit "N.A.")
are not.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import cache

from django.core.exceptions import ValidationError
from iso4217 import Currency


class UnknownCurrency(ValueError):
    """Not a current ISO 4217 currency code with a minor unit."""


@cache
def _exponents() -> dict[str, int]:
    return {
        currency.code: currency.exponent for currency in Currency if currency.exponent is not None
    }


@cache
def _quanta() -> dict[str, Decimal]:
    # Built once: every amount a response or payload shows is rounded to its quantum.
    return {code: Decimal(1).scaleb(-exponent) for code, exponent in _exponents().items()}


def currency_codes() -> frozenset[str]:
    """Every currency code :func:`currency_exponent` knows (upper case, 3 letters)."""
    return frozenset(_exponents())


def currency_exponent(code: str) -> int:
    """The ISO 4217 minor unit of ``code``: how many decimals its amounts may have.

    ``currency_exponent("JPY") == 0``, ``"USD"`` → 2, ``"KWD"`` → 3, ``"CLF"`` → 4.
    Codes are upper case (``"usd"`` is not a code). Raises :class:`UnknownCurrency`
    for anything else, including codes without a minor unit (XAU, XDR, XXX)."""
    try:
        return _exponents()[code]
    except (KeyError, TypeError):
        raise UnknownCurrency(f"{code!r} is not an ISO 4217 currency code.") from None


def currency_quantum(code: str) -> Decimal:
    """The smallest amount of ``code``: ``Decimal("1")`` for JPY, ``Decimal("0.01")`` for
    USD. Raises :class:`UnknownCurrency`."""
    try:
        return _quanta()[code]
    except (KeyError, TypeError):
        raise UnknownCurrency(f"{code!r} is not an ISO 4217 currency code.") from None


def validate_currency_code(value: str) -> None:
    """Django validator: ``value`` is a current ISO 4217 code with a minor unit, in upper
    case. Raises ``ValidationError`` with code ``invalid_currency``."""
    if not isinstance(value, str) or value not in _exponents():
        raise ValidationError(
            "Enter an ISO 4217 currency code such as USD or EUR.", code="invalid_currency"
        )


def has_valid_minor_units(amount: Decimal, currency: str) -> bool:
    """True when ``amount`` is a whole number of ``currency``'s minor units.

    Trailing zeros do not count: ``Decimal("100.00")`` is a valid JPY amount (a column
    with two decimal places reads every amount back that way), ``Decimal("99.99")`` is
    not. Raises :class:`UnknownCurrency`."""
    quantum = currency_quantum(currency)
    try:
        return amount.is_finite() and amount % quantum == 0
    except InvalidOperation:
        return False


def minor_units_message(currency: str) -> str:
    """What to tell a person whose amount has too many decimals for ``currency``."""
    exponent = currency_exponent(currency)
    if exponent == 0:
        return f"{currency} has no minor units: enter a whole number."
    plural = "" if exponent == 1 else "s"
    return f"{currency} amounts have at most {exponent} decimal place{plural}."


def validate_amount_for_currency(amount: Decimal | None, currency: str | None) -> None:
    """Refuse an amount with more decimals than its currency's ISO 4217 minor unit.

    ``None`` amounts pass (a missing amount is another rule's business), and so do unknown
    currencies (the currency field's own validator reports those, once). Raises
    ``ValidationError`` with code ``invalid``: ``"JPY has no minor units: enter a whole
    number."`` for ``(Decimal("99.99"), "JPY")``. Callers attach it to the amount field."""
    if amount is None or not currency:
        return
    try:
        valid = has_valid_minor_units(Decimal(amount), currency)
    except UnknownCurrency:
        return
    if not valid:
        raise ValidationError(minor_units_message(currency), code="invalid")


def quantize_for(currency: str, amount: Decimal | int | str) -> Decimal:
    """``amount`` rounded to ``currency``'s minor units, half up (half a minor unit goes
    away from zero, the rule of currency conversion): ``quantize_for("JPY", "99.5")`` →
    ``Decimal("100")``, ``quantize_for("KWD", "1.2345")`` → ``Decimal("1.235")``.
    Raises :class:`UnknownCurrency`; floats are refused (``TypeError``) because their
    binary value is not the decimal a person typed."""
    if isinstance(amount, float):
        raise TypeError("Pass money as Decimal, int or str, not float.")
    return Decimal(amount).quantize(currency_quantum(currency), rounding=ROUND_HALF_UP)


def format_money(amount: Decimal | int | str | None, currency: str) -> str:
    """``amount`` with thousands separators and exactly ``currency``'s decimals, then the
    code: ``"1,000.00 USD"``, ``"1,000,000 JPY"``, ``"1,000.000 KWD"``; ``"—"`` for None.
    Amounts are rounded to the currency's minor units first (half up). An unknown
    currency shows the amount as given, with two decimals."""
    if amount is None or amount == "":
        return "—"
    try:
        exponent = currency_exponent(currency)
    except UnknownCurrency:
        return f"{Decimal(amount):,.2f} {currency}".strip()
    value = quantize_for(currency, amount)
    return f"{value:,.{exponent}f} {currency}"


def money_amount(amount: Decimal | None, currency: str) -> Decimal | None:
    """``amount`` as stored (money columns keep 4 decimals) shown with exactly
    ``currency``'s minor units: ``Decimal("1000.0000")`` USD → ``Decimal("1000.00")``,
    JPY → ``Decimal("1000")``. Values already valid for the currency are not changed, only
    re-scaled; an unknown currency keeps 2 decimals. None stays None."""
    if amount is None:
        return None
    try:
        return quantize_for(currency, amount)
    except UnknownCurrency:
        return Decimal(amount).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def money_text(amount: Decimal | None, currency: str) -> str | None:
    """:func:`money_amount` as the decimal string of the API and the payloads
    (``"120000.00"``, ``"1000000"`` JPY, ``"1000.125"`` KWD); None stays None."""
    value = money_amount(amount, currency)
    return None if value is None else f"{value:f}"
