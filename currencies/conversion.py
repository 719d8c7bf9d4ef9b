"""Amounts in the reporting currency, and totals that never mix currencies.

A sum of amounts in different currencies means nothing (1,000 USD + 1,000,000 JPY is not
1,001,000 of anything). :class:`Totals` keeps one exact total per currency and converts
each amount with the rate of its own date; when a currency has no rate yet, the
converted total is ``None`` and the currency is listed in ``missing_rates``: a total
never drops an amount it cannot convert, nor adds it unconverted.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils import timezone

from core.money import quantize_for

from . import selectors
from .selectors import Pair


@dataclass(frozen=True)
class Converted:
    """An amount in the reporting currency: ``amount`` (rounded to the reporting
    currency's minor units, half up) and the ``rate`` used, or both ``None`` with
    ``missing=True`` when there is no rate for that currency on that day. A ``None``
    amount converts to ``Converted(None, None, False)``: nothing is missing."""

    amount: Decimal | None
    rate: Decimal | None
    missing: bool


def to_reporting(
    amount: Decimal | None,
    currency: str,
    on_date: dt.date,
    rates: dict[Pair, Decimal | None] | None = None,
) -> Converted:
    """``amount`` of ``currency`` in the reporting currency at the rate in force on
    ``on_date``. ``rates`` is a :func:`currencies.selectors.rates_for` result: a pair it
    holds is answered without a query; a pair it lacks is read (one query)."""
    if amount is None:
        return Converted(None, None, False)
    key = (currency, on_date)
    rate = rates[key] if rates is not None and key in rates else selectors.rate_on(*key)
    if rate is None:
        return Converted(None, None, True)
    reporting = selectors.reporting_currency()
    return Converted(quantize_for(reporting, Decimal(amount) * rate), rate, False)


@dataclass
class Totals:
    """Totals of amounts in any currencies, per currency and in the reporting currency.

    ``add(amount, currency, on_date)`` each item (``None`` amounts add nothing; a ``None``
    date means today), then read:

    * ``per_currency`` — ``{currency: exact sum}``, sorted by code;
    * ``converted_total`` — the sum in the reporting currency, each item converted at its
      own date's rate, or ``None`` when any rate is missing;
    * ``converted_subtotal`` — the sum of the items that could be converted;
    * ``unconverted`` — ``{currency: sum}`` of the items without a rate;
    * ``missing_rates`` — the sorted currencies lacking a rate for some item;
    * ``is_complete`` — every item converted.

    The rates are read once, in one query, when a converted value is first asked for
    (or taken from ``rates``, a :func:`currencies.selectors.rates_for` result)."""

    rates: dict[Pair, Decimal | None] | None = None
    _items: list[tuple[Decimal, str, dt.date]] = field(default_factory=list)
    _converted: tuple[Decimal, dict[str, Decimal]] | None = None

    def add(self, amount: Decimal | None, currency: str, on_date: dt.date | None = None) -> None:
        if amount is None:
            return
        self._items.append((Decimal(amount), currency, on_date or timezone.localdate()))
        self._converted = None

    @property
    def reporting_currency(self) -> str:
        return selectors.reporting_currency()

    @property
    def per_currency(self) -> dict[str, Decimal]:
        sums: dict[str, Decimal] = {}
        for amount, currency, _ in self._items:
            sums[currency] = sums.get(currency, Decimal(0)) + amount
        return dict(sorted(sums.items()))

    def _convert(self) -> tuple[Decimal, dict[str, Decimal]]:
        if self._converted is None:
            pairs = {(currency, on_date) for _, currency, on_date in self._items}
            rates = dict(self.rates or {})
            unknown = pairs - set(rates)
            if unknown:
                rates |= selectors.rates_for(unknown)
            subtotal = Decimal(0)
            unconverted: dict[str, Decimal] = {}
            for amount, currency, on_date in self._items:
                converted = to_reporting(amount, currency, on_date, rates)
                if converted.missing or converted.amount is None:
                    unconverted[currency] = unconverted.get(currency, Decimal(0)) + amount
                else:
                    subtotal += converted.amount
            self._converted = (subtotal, dict(sorted(unconverted.items())))
        return self._converted

    @property
    def converted_subtotal(self) -> Decimal:
        return self._convert()[0]

    @property
    def unconverted(self) -> dict[str, Decimal]:
        return self._convert()[1]

    @property
    def missing_rates(self) -> list[str]:
        return list(self.unconverted)

    @property
    def is_complete(self) -> bool:
        return not self.unconverted

    @property
    def converted_total(self) -> Decimal | None:
        subtotal, unconverted = self._convert()
        return None if unconverted else subtotal
