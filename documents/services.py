"""Every write of the documents app: attach, remove, evidence requirements.

Checks happen before anything is written, so a refused upload leaves no row and no file.
The file is written to storage first and the row second; if the row cannot be written
the file is deleted again.
"""

from __future__ import annotations

import logging
from decimal import Decimal, InvalidOperation
from typing import IO, Any

from django.core.files import File
from django.db import transaction
from django.utils import timezone

from core import errors
from opportunities import policies
from opportunities.models import Opportunity
from opportunities.stages import LOCKED_STAGES

from .models import Document, DocumentKind, DocumentSource, EnvelopeStatus, EvidenceRequirement
from .validation import check_upload

logger = logging.getLogger(__name__)


def _kind(value: Any) -> str:
    kind = str(value or "").strip()
    if kind not in DocumentKind.values:
        raise errors.InvalidInput(
            "Unknown document kind.",
            errors=[
                errors.FieldError(
                    "invalid_choice",
                    "kind",
                    "Choose one of: " + ", ".join(DocumentKind.values) + ".",
                )
            ],
        )
    return kind


def can_read(user: Any) -> bool:
    """Anyone who may read deals may read their documents (reps read every deal)."""
    return bool(
        user
        and user.is_authenticated
        and user.is_active
        and user.has_perm("opportunities.view_opportunity")
    )


def can_manage(user: Any, opportunity: Opportunity) -> bool:
    """Upload to or remove from this deal: its owner, or RevOps."""
    return policies.can_change(user, opportunity)


def document_attach(
    *,
    opportunity: Opportunity,
    actor: Any,
    kind: str,
    file: IO[bytes],
    name: str,
    size: int | None = None,
    source: str = DocumentSource.UPLOAD,
    envelope_id: str = "",
    envelope_status: str = "",
) -> Document:
    """Attach a file to an opportunity, in any stage (adding evidence is never locked).

    Uploads (``source="upload"``) need the owner or RevOps; e-signature attachments are
    made by the system (``actor`` may be None). Raises ``permission_denied`` (403),
    ``invalid`` (400, unknown kind), ``file_too_large`` (413), ``file_type_not_allowed``
    (415); on any of them nothing is stored.
    """
    if source == DocumentSource.UPLOAD and not can_manage(actor, opportunity):
        raise errors.PermissionDenied("Only the deal's owner or RevOps can attach documents.")
    kind = _kind(kind)
    checked = check_upload(file, name=name, size=size)
    document = Document(
        opportunity=opportunity,
        kind=kind,
        name=checked.name,
        size=checked.size,
        content_type=checked.content_type,
        sha256=checked.sha256,
        source=source,
        esign_envelope_id=envelope_id,
        esign_status=envelope_status,
        uploaded_by=actor if getattr(actor, "is_authenticated", False) else None,
        uploaded_at=timezone.now(),
    )
    document.file.save(checked.name, File(file, name=checked.name), save=False)
    try:
        with transaction.atomic():
            document.save()
    except BaseException:
        if document.file.name:
            document.file.storage.delete(document.file.name)
        raise
    return document


def document_remove(*, document: Document, actor: Any) -> Document:
    """Remove a document from its deal: the owner or RevOps, and never while the deal is
    pending approval or won (``record_locked``, 409) — the approval and billing rely on
    it. The row is kept (``removed_at``) and so is the file, so links frozen into
    earlier approvals keep working."""
    with transaction.atomic():
        opportunity = Opportunity.objects.select_for_update().get(pk=document.opportunity_id)
        if not can_manage(actor, opportunity):
            raise errors.PermissionDenied("Only the deal's owner or RevOps can remove documents.")
        if opportunity.stage in LOCKED_STAGES:
            raise errors.RecordLocked(
                "Documents cannot be removed while the deal is pending approval or won.",
                errors=[
                    errors.FieldError(
                        "record_locked",
                        "documents",
                        "The approval relies on this document; it stays.",
                    )
                ],
            )
        locked = Document.objects.select_for_update().get(pk=document.pk)
        if locked.removed_at is None:
            locked.removed_at = timezone.now()
            locked.removed_by = actor
            locked.save(update_fields=["removed_at", "removed_by"])
    return locked


def envelope_mark(*, envelope_id: str, status: str) -> int:
    """Record an envelope's final status on the documents it produced; returns how many."""
    if status not in EnvelopeStatus.values:
        raise ValueError(status)
    return Document.objects.filter(esign_envelope_id=envelope_id).update(esign_status=status)


def evidence_requirement_create(
    *, actor: Any, kind: str, min_amount: Any = None
) -> EvidenceRequirement:
    """RevOps only: require documents of ``kind`` on every Closed-Won request, or only
    from ``min_amount`` (reporting currency, >= 0) up. Raises ``permission_denied``,
    ``invalid``."""
    if not policies.is_revops(actor):
        raise errors.PermissionDenied("Only RevOps can configure evidence requirements.")
    kind = _kind(kind)
    amount: Decimal | None = None
    if min_amount not in (None, ""):
        try:
            amount = Decimal(str(min_amount))
        except (InvalidOperation, ValueError):
            amount = None
        if amount is None or not amount.is_finite() or amount < 0 or amount >= Decimal("1e16"):
            raise errors.InvalidInput(
                "The minimum amount must be a number of at least 0.",
                errors=[
                    errors.FieldError(
                        "invalid", "min_amount", "Enter an amount of at least 0, or leave it empty."
                    )
                ],
            )
        amount = amount.quantize(Decimal("0.01"))
    return EvidenceRequirement.objects.create(kind=kind, min_amount=amount, created_by=actor)


def evidence_requirement_delete(*, actor: Any, requirement: EvidenceRequirement) -> None:
    if not policies.is_revops(actor):
        raise errors.PermissionDenied("Only RevOps can configure evidence requirements.")
    requirement.delete()
