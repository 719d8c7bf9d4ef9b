"""Exchange rates in the API."""

from __future__ import annotations

from rest_framework import serializers

from currencies.models import RATE_DECIMAL_PLACES, RATE_MAX_DIGITS, ExchangeRate


class ExchangeRateSerializer(serializers.ModelSerializer):
    class Meta:
        model = ExchangeRate
        fields = ("id", "currency", "rate", "valid_from", "created_by", "created_at")
        read_only_fields = fields


class ExchangeRateWriteSerializer(serializers.Serializer):
    currency = serializers.CharField(
        max_length=3, help_text="ISO 4217 code (upper case), not the reporting currency."
    )
    rate = serializers.DecimalField(
        max_digits=RATE_MAX_DIGITS,
        decimal_places=RATE_DECIMAL_PLACES,
        help_text="Reporting-currency units per 1 unit of `currency` (decimal string, > 0).",
    )
    valid_from = serializers.DateField(help_text="First day the rate applies (YYYY-MM-DD).")
