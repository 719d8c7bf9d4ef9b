"""The one set of formatting helpers for what people read: money, people, days, moments,
relative and waiting times. The same everywhere:

* money — ``$120,000``; cents only when there are some (``$1,234.50``); a currency
  without a symbol is written after the amount (``1,000 CHF``); ``—`` when unknown;
* a day — ``Mar 5, 2026``; a moment — ``Mar 5, 2026, 14:05`` (the site's time zone);
* relative time — one unit: ``3 days ago``, ``in 2 hours``, ``just now``.

Every surface (rep UI template tags, the admin, the approval page, e-mails) formats through
these, so one amount reads the same everywhere. Pure functions, no database.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.utils import dateformat, timezone
from django.utils.timesince import timesince, timeuntil

from .money import UnknownCurrency, currency_exponent

# Symbols shown in the rep UI for the common currencies; others show their ISO 4217 code.
SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "CAD": "CA$", "AUD": "A$"}
EMPTY = "—"


def to_decimal(value: Any) -> Decimal | None:
    """``value`` as a finite Decimal, or None when it is blank or not a number."""
    if value is None or value == "":
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _decimals(currency: str | None) -> int:
    """The ISO 4217 minor units of ``currency`` (2 when it is not a known code)."""
    try:
        return currency_exponent((currency or "").upper())
    except UnknownCurrency:
        return 2


def money(value: Any, currency: str | None = None, *, empty: str = EMPTY) -> str:
    """``1,234.50 USD``, ``1,000 JPY``, ``1,000.125 KWD``: the amount with exactly its
    currency's minor units (ISO 4217) and its code (admin, e-mails, audit)."""
    number = to_decimal(value)
    if number is None:
        return empty if value in (None, "") else str(value)
    places = _decimals(currency)
    return f"{number:,.{places}f} {(currency or '').upper()}".strip()


def _with_symbol(text: str, currency: str | None) -> str:
    code = (currency or settings.DEFAULT_CURRENCY or "").upper()
    if text.startswith("-"):
        return "-" + _with_symbol(text[1:], code)
    symbol = SYMBOLS.get(code)
    return f"{symbol}{text}" if symbol else f"{text} {code}".strip()


def money_short(value: Any, currency: str | None = None, *, empty: str = EMPTY) -> str:
    """``$120,000`` (minor units only when there are some, as many as the currency has:
    ``1,000.125 KWD``): the rep UI's cards and tables."""
    number = to_decimal(value)
    if number is None:
        return empty
    places = _decimals(currency or settings.DEFAULT_CURRENCY)
    text = f"{number:,.{places}f}"
    if places and text.endswith("." + "0" * places):
        text = text[: -places - 1]
    return _with_symbol(text, currency)


def money_compact(value: Any, currency: str | None = None, *, empty: str = EMPTY) -> str:
    """``$1.2M``, ``$860K``, ``$950``: totals in narrow places."""
    amount = to_decimal(value)
    if amount is None:
        return empty
    sign = "-" if amount < 0 else ""
    amount = abs(amount)
    for limit, suffix in ((Decimal(10**9), "B"), (Decimal(10**6), "M"), (Decimal(10**3), "K")):
        if amount >= limit:
            scaled = amount / limit
            digits = 0 if scaled >= 100 else 1
            text = f"{scaled:.{digits}f}".rstrip("0").rstrip(".") if digits else f"{scaled:.0f}"
            return _with_symbol(f"{sign}{text}{suffix}", currency)
    return _with_symbol(f"{sign}{amount:,.0f}", currency)


def discount_text(value: Any, *, empty: str = EMPTY) -> str:
    """A line discount in percent as people read it: ``25 %``, ``12.5 %``, ``0 %``; a
    negative one (sold above the list price) as ``−10 % (premium)``; ``empty`` when there
    is none (no list price to compare with)."""
    pct = to_decimal(value)
    if pct is None:
        return empty
    text = f"{abs(pct).normalize():f}"
    if pct < 0:
        return f"−{text} % (premium)"
    return f"{text} %"


def person(user: Any, *, empty: str = EMPTY) -> str:
    """A user as people name them: the full name, else the username."""
    if user is None:
        return empty
    return user.get_full_name() or user.get_username()


def waiting_time(delta: dt.timedelta) -> str:
    """A wait as a person says it: "12 min", "3 h 12 min", "2 d 4 h"."""
    minutes = max(0, int(delta.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {mins} min" if mins else f"{hours} h"
    return f"{mins} min"


DAY_FORMAT = "M j, Y"
MOMENT_FORMAT = "M j, Y, H:i"


def day(value: Any) -> str:
    """``Mar 5, 2026``; ``—`` when there is no date (a datetime shows its local day)."""
    if value in (None, ""):
        return "—"
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, dt.datetime):
        value = timezone.localtime(value) if timezone.is_aware(value) else value
    return dateformat.format(value, DAY_FORMAT)


def moment(value: Any) -> str:
    """``Mar 5, 2026, 14:05`` in the site's time zone; ``—`` when unknown."""
    if value in (None, ""):
        return "—"
    if isinstance(value, dt.datetime):
        if timezone.is_aware(value):
            value = timezone.localtime(value)
        return dateformat.format(value, MOMENT_FORMAT)
    return day(value)


def ago(value: Any, now: dt.datetime | None = None) -> str:
    """``3 days ago`` / ``in 2 hours`` / ``just now`` (one unit, the largest)."""
    if value in (None, ""):
        return "—"
    now = now or timezone.now()
    if not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value, dt.time(), tzinfo=timezone.get_current_timezone())
    delta = (now - value).total_seconds()
    if abs(delta) < 60:
        return "just now"
    if delta > 0:
        return f"{timesince(value, now, depth=1)} ago".replace("\xa0", " ")
    return f"in {timeuntil(value, now, depth=1)}".replace("\xa0", " ")
