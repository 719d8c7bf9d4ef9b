"""Writes of exchange rates. RevOps keep them (``currencies.add_exchangerate``)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, transaction

from core import errors

from .models import ExchangeRate

ADD_PERM = "currencies.add_exchangerate"


def can_manage_rates(user: Any) -> bool:
    return bool(user and user.is_authenticated and user.is_active and user.has_perm(ADD_PERM))


def _errors_of(exc: ValidationError) -> list[errors.FieldError]:
    by_field = exc.error_dict if hasattr(exc, "error_dict") else {NON_FIELD_ERRORS: exc.error_list}
    return [
        errors.FieldError(
            err.code or "invalid",
            "non_field_errors" if name == NON_FIELD_ERRORS else name,
            " ".join(err.messages),
        )
        for name, errs in by_field.items()
        for err in errs
    ]


def exchange_rate_create(
    *, actor: Any, currency: str, rate: Decimal, valid_from: dt.date
) -> ExchangeRate:
    """Record that 1 ``currency`` is worth ``rate`` reporting-currency units from
    ``valid_from`` on.

    Raises ``PermissionDenied`` unless ``actor`` may add rates (RevOps), ``InvalidInput``
    (``invalid_currency`` for a code that is not ISO 4217 money, ``invalid`` for the
    reporting currency itself or a rate not above zero, ``unique`` when the currency has
    a rate from that day already)."""
    if not can_manage_rates(actor):
        raise errors.PermissionDenied("Only RevOps manage exchange rates.")
    row = ExchangeRate(currency=currency, rate=rate, valid_from=valid_from, created_by=actor)
    try:
        row.full_clean()
    except ValidationError as exc:
        raise errors.InvalidInput(errors=_errors_of(exc)) from exc
    try:
        with transaction.atomic():
            row.save()
    except IntegrityError as exc:
        # Another request saved the same currency and day between the check and the insert.
        raise errors.InvalidInput(
            errors=[
                errors.FieldError(
                    "unique", "non_field_errors", "This currency already has a rate from that day."
                )
            ]
        ) from exc
    return row
