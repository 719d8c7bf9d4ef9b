"""Helpers every service shares: assigning input, validating, mapping lock errors."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import DatabaseError
from django.db.models import Field, Model

from core import errors


def _validation_errors(exc: ValidationError) -> list[errors.FieldError]:
    out: list[errors.FieldError] = []
    if hasattr(exc, "error_dict"):
        for field_name, errs in exc.error_dict.items():
            for err in errs:
                message = err.message % err.params if err.params else err.message
                out.append(errors.FieldError(err.code or "invalid", field_name, str(message)))
    else:
        for err in exc.error_list:
            message = err.message % err.params if err.params else err.message
            out.append(errors.FieldError(err.code or "invalid", "non_field_errors", str(message)))
    return out


def _full_clean(
    instance: Model,
    *,
    exclude: Iterable[str] = (),
    validate_constraints: bool = True,
    validate_unique: bool = True,
) -> None:
    try:
        instance.full_clean(
            exclude=list(exclude),
            validate_constraints=validate_constraints,
            validate_unique=validate_unique,
        )
    except ValidationError as exc:
        raise errors.InvalidInput(errors=_validation_errors(exc)) from exc


def _assign(instance: Model, data: Mapping[str, Any], allowed: Iterable[str]) -> list[str]:
    """Set ``data`` on ``instance``; FKs may be given as instances or ids. Returns changed names."""
    allowed = set(allowed)
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise errors.InvalidInput(
            errors=[
                errors.FieldError("unknown_field", name, "This field cannot be set.")
                for name in unknown
            ]
        )
    changed = []
    for name, value in data.items():
        field = instance._meta.get_field(name)
        if field.is_relation and isinstance(field, Field):
            new_id = value.pk if isinstance(value, Model) else value
            if new_id in ("", None):
                new_id = None
            elif not isinstance(new_id, int):
                try:
                    new_id = int(new_id)
                except (TypeError, ValueError):
                    raise errors.InvalidInput(
                        errors=[errors.FieldError("invalid", name, "Enter a valid id.")]
                    ) from None
            if getattr(instance, field.attname) != new_id:
                changed.append(name)
                setattr(instance, field.attname, new_id)
                if isinstance(value, Model):
                    setattr(instance, name, value)
        else:
            if isinstance(value, str) and name not in ("loss_detail",):
                value = value.strip()
            if getattr(instance, name) != value:
                changed.append(name)
                setattr(instance, name, value)
    return changed


def _map_lock_error(exc: DatabaseError) -> errors.DomainError:
    return errors.ConcurrentUpdate(
        f"The deal is being changed by someone else ({type(exc).__name__})."
    )


def _require_authenticated(actor: Any) -> None:
    if not (actor and actor.is_authenticated and actor.is_active):
        raise errors.PermissionDenied("Sign in first.")
