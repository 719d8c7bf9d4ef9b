"""Reads of exchange rates: the rate in force on a day, one at a time or batched."""

from __future__ import annotations

import bisect
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal

from django.conf import settings
from django.db.models import Max, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from .models import ExchangeRate

ONE = Decimal(1)
Pair = tuple[str, dt.date]


def reporting_currency() -> str:
    return str(settings.REPORTING_CURRENCY)


def exchange_rate_list() -> QuerySet[ExchangeRate]:
    """Every rate with its author, newest first within each currency."""
    return ExchangeRate.objects.select_related("created_by").order_by("currency", "-valid_from")


def rate_on(currency: str, on_date: dt.date) -> Decimal | None:
    """Reporting-currency units per 1 ``currency`` on ``on_date``: the rate with the latest
    ``valid_from`` on or before that day; ``Decimal(1)`` for the reporting currency itself
    (no query); ``None`` when RevOps have entered no rate that early. One query."""
    if currency == reporting_currency():
        return ONE
    return (
        ExchangeRate.objects.filter(currency=currency, valid_from__lte=on_date)
        .order_by("-valid_from")
        .values_list("rate", flat=True)
        .first()
    )


def rates_for(pairs: Iterable[Pair]) -> dict[Pair, Decimal | None]:
    """:func:`rate_on` for many ``(currency, date)`` pairs in one query (none when every
    pair is in the reporting currency). Every pair given is a key of the result; its value
    is the rate or ``None`` (no rate yet).

    Per currency the query reads only the rows that can answer: from the last rate on or
    before its earliest date up to its latest date."""
    wanted = set(pairs)
    result: dict[Pair, Decimal | None] = {}
    by_currency: dict[str, list[dt.date]] = defaultdict(list)
    reporting = reporting_currency()
    for currency, on_date in wanted:
        if currency == reporting:
            result[(currency, on_date)] = ONE
        else:
            by_currency[currency].append(on_date)
    if not by_currency:
        return result
    match = Q()
    for currency, dates in by_currency.items():
        first, last = min(dates), max(dates)
        floor = (
            ExchangeRate.objects.filter(currency=currency, valid_from__lte=first)
            .order_by()
            .values("currency")
            .annotate(latest=Max("valid_from"))
            .values("latest")
        )
        match |= Q(
            currency=currency,
            valid_from__lte=last,
            valid_from__gte=Coalesce(Subquery(floor), Value(first)),
        )
    rows: dict[str, list[tuple[dt.date, Decimal]]] = defaultdict(list)
    for currency, valid_from, rate in (
        ExchangeRate.objects.filter(match)
        .order_by("currency", "valid_from")
        .values_list("currency", "valid_from", "rate")
    ):
        rows[currency].append((valid_from, rate))
    for currency, dates in by_currency.items():
        found = rows.get(currency, [])
        starts = [valid_from for valid_from, _ in found]
        for on_date in dates:
            index = bisect.bisect_right(starts, on_date) - 1
            result[(currency, on_date)] = found[index][1] if index >= 0 else None
    return result
