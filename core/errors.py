"""Typed domain errors with stable codes.

Services raise these; the API turns them into RFC 9457 problem details (``api.problem``),
the UI and the admin into messages. Nothing matches on the English text: clients and
tests match on ``code`` (the error) and on each :class:`FieldError`'s ``code``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

NON_FIELD = "non_field_errors"


@dataclass(frozen=True)
class FieldError:
    """One problem with one field: ``code`` (stable, e.g. ``amount_required``), ``field``
    (``line_items[0].seats`` for nested ones, ``non_field_errors`` for the whole request)
    and ``message`` (for people: what to do about it)."""

    code: str
    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "field": self.field, "message": self.message}

    def __getitem__(self, key: str) -> str:
        # Mapping-style access keeps templates and callers that read e["code"] working.
        return str(getattr(self, key))

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key, default)


def field_error(code: str, field: str, message: str) -> FieldError:
    return FieldError(code=code, field=field, message=message)


def _as_field_error(item: FieldError | Mapping[str, Any]) -> FieldError:
    if isinstance(item, FieldError):
        return item
    return FieldError(
        code=str(item.get("code") or "invalid"),
        field=str(item.get("field") or NON_FIELD),
        message=str(item.get("message") or ""),
    )


class DomainError(Exception):
    """Base of every domain error: ``code`` and ``status`` (the HTTP status the API
    answers with) per class, ``detail`` for this occurrence, ``errors`` every
    :class:`FieldError` at once (a failed gate lists each unmet requirement)."""

    code = "invalid"
    status = 400
    title = "Invalid request"

    def __init__(
        self, detail: str = "", *, errors: Iterable[FieldError | Mapping[str, Any]] | None = None
    ) -> None:
        self.detail = detail or self.title
        self.errors: list[FieldError] = [_as_field_error(e) for e in errors or ()]
        super().__init__(self.detail)

    @classmethod
    def on(cls, field: str, message: str, *, detail: str = "", code: str = "") -> DomainError:
        """The error with one :class:`FieldError` on ``field`` (its code: the error's)."""
        return cls(detail or message, errors=[FieldError(code or cls.code, field, message)])


class InvalidInput(DomainError):
    code = "invalid"
    status = 400
    title = "Some fields are invalid"


class NotFound(DomainError):
    code = "not_found"
    status = 404
    title = "Not found"


class PermissionDenied(DomainError):
    code = "permission_denied"
    status = 403
    title = "You may not do this"


class SelfApprovalForbidden(PermissionDenied):
    code = "self_approval_forbidden"
    title = "You cannot approve a deal you own or submitted"


class TransitionNotAllowed(DomainError):
    code = "transition_not_allowed"
    status = 409
    title = "This transition is not available from the deal's current stage"


class AlreadyDecided(DomainError):
    code = "already_decided"
    status = 409
    title = "You already decided a step of this request, or it was decided already"


class RecordLocked(DomainError):
    code = "record_locked"
    status = 409
    title = "These fields are locked while the deal is pending approval or won"


class ConcurrentUpdate(DomainError):
    code = "concurrent_update"
    status = 409
    title = "Someone else changed this deal at the same moment; reload and try again"


class StaleVersion(DomainError):
    code = "stale_version"
    status = 412
    title = "The deal changed since you loaded it"


class GateFailed(DomainError):
    code = "gate_failed"
    status = 422
    title = "The deal does not meet the requirements yet"


class ReasonRequired(DomainError):
    code = "reason_required"
    status = 422
    title = "A reason is required"


class ProductInactive(DomainError):
    code = "product_inactive"
    status = 422
    title = "A retired product cannot be sold"


class StageReadOnly(DomainError):
    code = "stage_read_only"
    status = 400
    title = "The stage changes only through transitions"


class AmendmentInvalid(InvalidInput):
    """Well-formed input that is not a valid amendment of this deal (a currency change, no
    change at all, an unknown product or contact): each FieldError names the reason."""

    code = "amendment_invalid"
    status = 422
    title = "The proposed values are not a valid amendment"


class AmendmentPending(DomainError):
    code = "amendment_pending"
    status = 409
    title = "The deal already has a pending amendment"
