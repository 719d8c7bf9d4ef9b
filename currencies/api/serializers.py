"""Exchange rates in the API."""

from __future__ import annotations

from django.conf import settings
from rest_framework import serializers

from api.fields import PositiveDecimalStringField
from api.strict import StrictInputMixin
from core.money import currency_codes
from currencies.models import RATE_DECIMAL_PLACES, RATE_MAX_DIGITS, ExchangeRate


class ExchangeRateSerializer(serializers.ModelSerializer):
    class Meta:
        model = ExchangeRate
        fields = ("id", "currency", "rate", "valid_from", "created_by", "created_at")
        read_only_fields = fields


# Every ISO 4217 money code but the reporting currency, which needs no rate.
RATE_CURRENCIES = sorted(currency_codes() - {settings.REPORTING_CURRENCY})


class ExchangeRateWriteSerializer(StrictInputMixin, serializers.Serializer):
    currency = serializers.ChoiceField(
        choices=RATE_CURRENCIES,
        help_text="ISO 4217 code (upper case), not the reporting currency.",
    )
    rate = PositiveDecimalStringField(
        max_digits=RATE_MAX_DIGITS,
        decimal_places=RATE_DECIMAL_PLACES,
        help_text="Reporting-currency units per 1 unit of `currency` (decimal string, > 0).",
    )
    valid_from = serializers.DateField(help_text="First day the rate applies (YYYY-MM-DD).")
