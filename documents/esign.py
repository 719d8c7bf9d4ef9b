"""Inbound e-signature events: verify, parse, record, act — each call once.

Two signature schemes are accepted:

* **Standard Webhooks** (``webhook-id``, ``webhook-timestamp``, ``webhook-signature``
  headers; HMAC-SHA256 over ``id.timestamp.body`` with ``ESIGN_WEBHOOK_SECRET``, at most
  5 minutes of clock skew). The event id is the ``webhook-id``.
* **DocuSign Connect HMAC** (``X-DocuSign-Signature-1`` = base64 of HMAC-SHA256 of the
  raw body with ``ESIGN_DOCUSIGN_HMAC_KEY``). DocuSign sends no event id, so the id is
  ``<envelope id>:<status>``: an envelope completes (or is declined) once.

Two body shapes are understood, whichever scheme signed them:

* the simple shape::

    {"envelope_id": "…", "status": "completed" | "declined" | "voided",
     "opportunity_id": 12, "reason": "…",
     "document": {"name": "contract.pdf", "content_base64": "JVBERi0…"}}

* DocuSign Connect JSON (SIM, ``data.envelopeSummary``): ``data.envelopeId``,
  ``data.envelopeSummary.status``, the opportunity id in a text custom field named
  ``opportunity_id``, and the first ``envelopeDocuments[].PDFBytes`` (Connect's "include
  documents" option) — or the combined PDF when ``documentId`` is ``combined``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import io
import json
import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from core import errors
from opportunities.models import Approval, Decision, Opportunity
from opportunities.stages import Source, Stage

from . import services
from .errors import InvalidSignature
from .models import (
    Document,
    DocumentKind,
    DocumentSource,
    EnvelopeStatus,
    InboundEvent,
    InboundScheme,
    InboundStatus,
)
from .selectors import ACTIVE

logger = logging.getLogger(__name__)

DOCUSIGN_HEADER = "X-DocuSign-Signature-1"


@dataclass(frozen=True)
class Verified:
    scheme: str
    event_id: str


@dataclass(frozen=True)
class EnvelopeEvent:
    envelope_id: str
    status: str
    opportunity_id: int | None
    reason: str = ""
    document_name: str = ""
    document_bytes: bytes | None = None


def verify(body: bytes, headers: Any) -> Verified:
    """Which scheme signed ``body`` and its event id; raises :class:`InvalidSignature`."""
    if headers.get("webhook-signature") is not None:
        secret = settings.ESIGN_WEBHOOK_SECRET
        if not secret:
            raise InvalidSignature("Standard Webhooks signatures are not configured.")
        wanted = {
            name: headers.get(name, "")
            for name in ("webhook-id", "webhook-timestamp", "webhook-signature")
        }
        try:
            Webhook(secret).verify(body, wanted, json_parse=False)
        except (WebhookVerificationError, ValueError, TypeError, binascii.Error) as exc:
            raise InvalidSignature(f"Standard Webhooks: {exc}") from None
        return Verified(InboundScheme.STANDARD_WEBHOOKS, wanted["webhook-id"][:200])
    given = headers.get(DOCUSIGN_HEADER)
    if given is not None:
        key = settings.ESIGN_DOCUSIGN_HMAC_KEY
        if not key:
            raise InvalidSignature("DocuSign Connect HMAC is not configured.")
        expected = base64.b64encode(
            hmac.new(key.encode("utf-8"), body, hashlib.sha256).digest()
        ).decode("ascii")
        if not hmac.compare_digest(expected.encode("ascii"), given.strip().encode("utf-8")):
            raise InvalidSignature("DocuSign Connect: the HMAC does not match the body.")
        return Verified(InboundScheme.DOCUSIGN, "")
    raise InvalidSignature("No webhook-signature or X-DocuSign-Signature-1 header.")


def _invalid(message: str, field: str = "non_field_errors") -> errors.InvalidInput:
    return errors.InvalidInput(message, errors=[errors.FieldError("invalid", field, message)])


def _opportunity_id(value: Any) -> int | None:
    if value in (None, ""):
        return None
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        raise _invalid("opportunity_id must be a whole number.", "opportunity_id") from None
    if not 0 < number < 2**63:
        raise _invalid("opportunity_id is out of range.", "opportunity_id")
    return number


def _b64(value: Any, field: str) -> bytes:
    if not isinstance(value, str):
        raise _invalid("The document must be base64 text.", field)
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise _invalid("The document is not valid base64.", field) from None


def _status(value: Any) -> str:
    status = str(value or "").strip().lower()
    if status not in EnvelopeStatus.values:
        raise _invalid("status must be completed, declined or voided.", "status")
    return status


def parse(body: bytes) -> EnvelopeEvent:
    """The event in either shape (see the module docstring); raises ``invalid``."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise _invalid("The body is not JSON.") from None
    if not isinstance(data, dict):
        raise _invalid("The body must be a JSON object.")
    inner = data.get("data")
    if isinstance(inner, dict) and ("envelopeId" in inner or "envelopeSummary" in inner):
        return _parse_docusign(inner)
    envelope_id = str(data.get("envelope_id") or "").strip()
    if not envelope_id or len(envelope_id) > 100:
        raise _invalid("envelope_id is required (at most 100 characters).", "envelope_id")
    status = _status(data.get("status"))
    document_name, document_bytes = "", None
    document = data.get("document")
    if status == EnvelopeStatus.COMPLETED:
        if not isinstance(document, dict):
            raise _invalid("A completed envelope carries its signed PDF in document.", "document")
        document_name = str(document.get("name") or "signed-contract.pdf")
        document_bytes = _b64(document.get("content_base64"), "document.content_base64")
    return EnvelopeEvent(
        envelope_id=envelope_id,
        status=status,
        opportunity_id=_opportunity_id(data.get("opportunity_id")),
        reason=str(data.get("reason") or "")[:500],
        document_name=document_name,
        document_bytes=document_bytes,
    )


def _parse_docusign(inner: dict[str, Any]) -> EnvelopeEvent:
    raw_summary = inner.get("envelopeSummary")
    summary: dict[str, Any] = raw_summary if isinstance(raw_summary, dict) else {}
    envelope_id = str(inner.get("envelopeId") or summary.get("envelopeId") or "").strip()
    if not envelope_id or len(envelope_id) > 100:
        raise _invalid("data.envelopeId is required.", "data.envelopeId")
    status = _status(summary.get("status"))
    opportunity_id = None
    raw_custom = summary.get("customFields")
    custom: dict[str, Any] = raw_custom if isinstance(raw_custom, dict) else {}
    for field in custom.get("textCustomFields") or []:
        if isinstance(field, dict) and field.get("name") == "opportunity_id":
            opportunity_id = _opportunity_id(field.get("value"))
    document_name, document_bytes = "", None
    if status == EnvelopeStatus.COMPLETED:
        docs = [d for d in summary.get("envelopeDocuments") or [] if isinstance(d, dict)]
        docs = [d for d in docs if d.get("PDFBytes")]
        if not docs:
            raise _invalid(
                "A completed envelope must include its documents (PDFBytes).",
                "data.envelopeSummary.envelopeDocuments",
            )
        chosen = next((d for d in docs if d.get("documentId") == "combined"), docs[0])
        document_name = str(chosen.get("name") or "signed-contract.pdf")
        document_bytes = _b64(chosen.get("PDFBytes"), "data.envelopeSummary.envelopeDocuments")
    reason = summary.get("declinedReason") or summary.get("voidedReason") or ""
    return EnvelopeEvent(
        envelope_id=envelope_id,
        status=status,
        opportunity_id=opportunity_id,
        reason=str(reason)[:500],
        document_name=document_name,
        document_bytes=document_bytes,
    )


def record_rejected(
    *, scheme: str, event_id: str, body_size: int, remote_addr: str | None, detail: str
) -> InboundEvent:
    """A call whose signature failed: who and when only, never the body."""
    return InboundEvent.objects.create(
        scheme=scheme,
        event_id=event_id[:200],
        verified=False,
        status=InboundStatus.REJECTED,
        detail=detail[:1000],
        body_size=body_size,
        remote_addr=remote_addr,
    )


def receive(
    *, body: bytes, headers: Any, remote_addr: str | None = None
) -> tuple[InboundEvent, bool]:
    """Handle one inbound call; returns the InboundEvent recorded and whether it was a
    replay of an event already processed (then nothing was done again).

    Raises :class:`InvalidSignature` (401; the rejected call is recorded, nothing else),
    ``invalid`` (400; recorded as invalid), ``not_found`` (404, no such opportunity),
    ``file_too_large`` / ``file_type_not_allowed`` (the signed PDF fails the upload
    checks; recorded as invalid, no document stored).
    """
    try:
        verified = verify(body, headers)
    except InvalidSignature as exc:
        scheme = (
            InboundScheme.STANDARD_WEBHOOKS
            if headers.get("webhook-signature") is not None
            else InboundScheme.DOCUSIGN
            if headers.get(DOCUSIGN_HEADER) is not None
            else InboundScheme.NONE
        )
        record_rejected(
            scheme=scheme,
            event_id=str(headers.get("webhook-id") or "")[:200],
            body_size=len(body),
            remote_addr=remote_addr,
            detail=exc.detail,
        )
        raise
    try:
        event = parse(body)
        event_id = verified.event_id or f"{event.envelope_id}:{event.status}"
        existing = InboundEvent.objects.filter(
            scheme=verified.scheme, event_id=event_id, status=InboundStatus.PROCESSED
        ).first()
        if existing is not None:
            return _duplicate(verified.scheme, event_id, event, len(body), remote_addr), True
        return _process(verified.scheme, event_id, event, len(body), remote_addr)
    except errors.DomainError as exc:
        InboundEvent.objects.create(
            scheme=verified.scheme,
            event_id=verified.event_id,
            verified=True,
            status=InboundStatus.INVALID,
            detail=f"{exc.code}: {exc.detail}"[:1000],
            body_size=len(body),
            remote_addr=remote_addr,
        )
        raise


def _duplicate(
    scheme: str, event_id: str, event: EnvelopeEvent, size: int, remote_addr: str | None
) -> InboundEvent:
    return InboundEvent.objects.create(
        scheme=scheme,
        event_id=event_id,
        verified=True,
        status=InboundStatus.DUPLICATE,
        event_type=event.status,
        envelope_id=event.envelope_id,
        detail="Already processed; nothing done again.",
        body_size=size,
        remote_addr=remote_addr,
    )


def _find_opportunity(event: EnvelopeEvent) -> Opportunity:
    if event.opportunity_id is not None:
        opportunity = Opportunity.objects.filter(pk=event.opportunity_id).first()
    else:
        doc = (
            Document.objects.filter(esign_envelope_id=event.envelope_id)
            .select_related("opportunity")
            .first()
        )
        opportunity = doc.opportunity if doc is not None else None
    if opportunity is None:
        raise errors.NotFound(
            "No opportunity for this envelope: send opportunity_id (a custom field in DocuSign).",
            errors=[errors.FieldError("not_found", "opportunity_id", "No such opportunity.")],
        )
    return opportunity


def _process(
    scheme: str, event_id: str, event: EnvelopeEvent, size: int, remote_addr: str | None
) -> tuple[InboundEvent, bool]:
    opportunity = _find_opportunity(event)
    with transaction.atomic():
        try:
            with transaction.atomic():
                row = InboundEvent.objects.create(
                    scheme=scheme,
                    event_id=event_id,
                    verified=True,
                    status=InboundStatus.PROCESSED,
                    event_type=event.status,
                    envelope_id=event.envelope_id,
                    opportunity=opportunity,
                    body_size=size,
                    remote_addr=remote_addr,
                )
        except IntegrityError:
            # The same event at the same moment: the other call processes it.
            return _duplicate(scheme, event_id, event, size, remote_addr), True
        if event.status == EnvelopeStatus.COMPLETED:
            assert event.document_bytes is not None
            document = services.document_attach(
                opportunity=opportunity,
                actor=None,
                kind=DocumentKind.SIGNED_CONTRACT,
                file=io.BytesIO(event.document_bytes),
                name=event.document_name,
                size=len(event.document_bytes),
                source=DocumentSource.ESIGN,
                envelope_id=event.envelope_id,
                envelope_status=EnvelopeStatus.COMPLETED,
            )
            row.document = document
            row.detail = f"Attached {document.name} as the signed contract."
        else:
            services.envelope_mark(envelope_id=event.envelope_id, status=event.status)
            row.detail = _withdraw_if_relying(opportunity, event)
        row.save(update_fields=["document", "detail"])
    return row, False


def _withdraw_if_relying(opportunity: Opportunity, event: EnvelopeEvent) -> str:
    """A pending Closed-Won request relies on the envelope when no other active signed
    contract is attached: then it is withdrawn (stage back to negotiation) with the
    envelope's status as the reason, in the submitter's name with source ``system``
    (the withdraw transition belongs to the owner or the submitter)."""
    if opportunity.stage != Stage.PENDING_APPROVAL:
        return f"Envelope {event.status}; the deal is not pending approval."
    other = (
        Document.objects.filter(ACTIVE, opportunity=opportunity, kind=DocumentKind.SIGNED_CONTRACT)
        .exclude(esign_envelope_id=event.envelope_id)
        .exists()
    )
    if other:
        return f"Envelope {event.status}; another signed contract is attached, request kept."
    approval = (
        Approval.objects.filter(opportunity=opportunity, decision=Decision.PENDING)
        .select_related("submitted_by", "opportunity__owner")
        .first()
    )
    reason = f"E-signature envelope {event.envelope_id} was {event.status}"
    if event.reason:
        reason += f": {event.reason}"
    candidates = [approval.submitted_by if approval else None, opportunity.owner]
    from opportunities.services import opportunity_transition

    last_error = ""
    for actor in candidates:
        if actor is None:
            continue
        try:
            opportunity_transition(
                opportunity=opportunity.pk,
                name="withdraw",
                actor=actor,
                source=Source.SYSTEM,
                reason=reason[:1000],
            )
        except errors.DomainError as exc:
            last_error = f"{exc.code}: {exc.detail}"
            continue
        return f"Withdrew the pending Closed-Won request: {reason}."
    logger.warning("Could not withdraw deal %s after envelope %s", opportunity.pk, event.status)
    return f"Envelope {event.status}; the request could not be withdrawn ({last_error})."
