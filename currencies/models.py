"""Dated exchange rates into the reporting currency."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from core.money import validate_currency_code

# Rates are reporting-currency units per 1 unit: 12 decimals keep six significant digits
# for the weakest currencies against the strongest (1 IRR ≈ 0.0000238 USD), 12 integer
# digits cover the reverse (1 KWD ≈ 137,000 IRR with IRR reporting).
RATE_MAX_DIGITS = 24
RATE_DECIMAL_PLACES = 12


def validate_positive_rate(value: Decimal) -> None:
    if value is not None and not value > 0:
        raise ValidationError("A rate is greater than zero.", code="invalid")


class ExchangeRate(models.Model):
    """How many units of ``settings.REPORTING_CURRENCY`` one unit of ``currency`` is worth
    from ``valid_from`` on (until the next rate of that currency).

    One rate per currency and day. The reporting currency itself has no row: its rate is
    1 by definition."""

    currency = models.CharField(
        max_length=3,
        validators=[validate_currency_code],
        help_text="ISO 4217 code of the currency converted (e.g. EUR).",
    )
    rate = models.DecimalField(
        max_digits=RATE_MAX_DIGITS,
        decimal_places=RATE_DECIMAL_PLACES,
        validators=[validate_positive_rate],
        help_text="Reporting-currency units per 1 unit of the currency.",
    )
    valid_from = models.DateField(help_text="First day the rate applies (inclusive).")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        editable=False,
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ("currency", "-valid_from")
        constraints = [
            models.UniqueConstraint(
                fields=("currency", "valid_from"),
                name="currencies_rate_one_per_currency_and_day",
                violation_error_code="unique",
                violation_error_message="This currency already has a rate from that day.",
            ),
            models.CheckConstraint(
                condition=Q(rate__gt=0),
                name="currencies_rate_positive",
                violation_error_code="invalid",
                violation_error_message="A rate is greater than zero.",
            ),
        ]

    def __str__(self) -> str:
        return (
            f"1 {self.currency} = {self.rate} {settings.REPORTING_CURRENCY} from {self.valid_from}"
        )

    def clean(self) -> None:
        if self.currency and self.currency == settings.REPORTING_CURRENCY:
            raise ValidationError(
                {
                    "currency": ValidationError(
                        f"{self.currency} is the reporting currency: its rate is always 1.",
                        code="invalid",
                    )
                }
            )
