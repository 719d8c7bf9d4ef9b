"""Query filters of GET /exchange-rates/."""

from __future__ import annotations

import django_filters

from api.filters import StrictFilterSet
from core.money import currency_codes
from currencies.models import ExchangeRate


class ExchangeRateFilter(StrictFilterSet):
    currency = django_filters.ChoiceFilter(
        choices=[(code, code) for code in sorted(currency_codes())],
        help_text="ISO 4217 code, e.g. EUR.",
    )
    valid_from = django_filters.DateFromToRangeFilter(
        help_text="`valid_from_after` / `valid_from_before` (YYYY-MM-DD, inclusive)."
    )

    class Meta:
        model = ExchangeRate
        fields = ("currency", "valid_from")
