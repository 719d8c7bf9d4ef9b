"""Typed domain errors carrying the SPEC §4 codes.

Services raise these; the API turns them into problem details, the UI and admin into
messages. Nothing matches on the English text.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class DomainError(Exception):
    code = "invalid"
    status = 400
    title = "Invalid request"

    def __init__(self, detail: str = "", *, errors: Iterable[dict[str, Any]] | None = None) -> None:
        self.detail = detail or self.title
        self.errors = list(errors or [])
        super().__init__(self.detail)


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


class StageReadOnly(DomainError):
    code = "stage_read_only"
    status = 400
    title = "The stage changes only through transitions"
