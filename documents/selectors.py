"""Reads of documents and evidence facts, batched for lists and queues."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.db.models import Q, QuerySet

from .models import Document, DocumentKind, EnvelopeStatus, EvidenceRequirement
from .rules import RequirementFacts
from .signing import signed_download_url

# Documents that count as evidence: not removed, not from a declined or voided envelope.
ACTIVE = Q(removed_at__isnull=True) & ~Q(
    esign_status__in=[EnvelopeStatus.DECLINED, EnvelopeStatus.VOIDED]
)


def documents_for_opportunity(opportunity_id: int) -> QuerySet[Document]:
    """The deal's documents that are not removed, newest first, uploader joined."""
    return (
        Document.objects.filter(opportunity_id=opportunity_id, removed_at__isnull=True)
        .select_related("uploaded_by")
        .order_by("-uploaded_at", "-id")
    )


def document_get(document_id: Any) -> Document | None:
    """One document (removed ones too: old approval links must keep working)."""
    try:
        pk = int(document_id)
    except (TypeError, ValueError):
        return None
    return Document.objects.select_related("opportunity", "uploaded_by").filter(pk=pk).first()


def evidence_requirements() -> list[RequirementFacts]:
    return [
        RequirementFacts(
            id=r.pk, kind=r.kind, min_amount=r.min_amount, label=str(DocumentKind(r.kind).label)
        )
        for r in EvidenceRequirement.objects.order_by("kind", "min_amount", "id")
    ]


def evidence_facts(
    opportunity_ids: Iterable[int],
) -> tuple[list[RequirementFacts], dict[int, frozenset[str]]]:
    """What :func:`documents.rules.evidence_unmet` needs for these opportunities, in two
    queries whatever their number: the configured requirements, and the kinds of each
    opportunity's active documents (every id is a key, with an empty set when it has
    none)."""
    requirements = evidence_requirements()
    return requirements, document_kinds(opportunity_ids) if requirements else {
        int(i): frozenset() for i in opportunity_ids
    }


def document_kinds(opportunity_ids: Iterable[int]) -> dict[int, frozenset[str]]:
    """The kinds of each opportunity's active documents (not removed, not from a declined
    or voided envelope), one query; every id is a key."""
    ids = list(dict.fromkeys(int(i) for i in opportunity_ids))
    present: dict[int, set[str]] = defaultdict(set)
    if ids:
        rows = (
            Document.objects.filter(ACTIVE, opportunity_id__in=ids)
            .values_list("opportunity_id", "kind")
            .distinct()
        )
        for opportunity_id, kind in rows:
            present[opportunity_id].add(kind)
    return {i: frozenset(present.get(i, ())) for i in ids}


def documents_snapshot(
    opportunity_id: int, *, with_links: bool = False, expires_in: dt.timedelta | None = None
) -> list[dict[str, Any]]:
    """The active documents as frozen into an approval snapshot or a billing payload:
    ``[{"id", "kind", "name", "sha256", "size", "content_type"}]``, oldest first, in one
    query. ``with_links`` adds ``"url"``, an expiring signed download link (see
    :func:`documents.signing.signed_download_url`); an approval snapshot stored in the
    database leaves it out (a link would expire inside the row), a payload sent now
    includes it."""
    rows = Document.objects.filter(ACTIVE, opportunity_id=opportunity_id).order_by(
        "uploaded_at", "id"
    )
    out = []
    for d in rows:
        item: dict[str, Any] = {
            "id": d.pk,
            "kind": d.kind,
            "name": d.name,
            "sha256": d.sha256,
            "size": d.size,
            "content_type": d.content_type,
        }
        if with_links:
            item["url"] = signed_download_url(d.pk, expires_in=expires_in)
        out.append(item)
    return out
