"""The rep's Closed-Won checklist: every requirement, met or not, labelled for people."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from documents.rules import applies

from ..stages import FIELD_LABELS
from .rules import Code, GateFacts, Unmet

CHECKLIST: list[tuple[str, tuple[str, ...]]] = [
    ("Account", (Code.ACCOUNT_REQUIRED,)),
    ("Contract ID or PO number", (Code.CONTRACT_OR_PO_REQUIRED,)),
    (
        "Contract ID and PO number not already booked",
        (Code.CONTRACT_ID_IN_USE, Code.PO_NUMBER_IN_USE),
    ),
    ("Amount", (Code.AMOUNT_REQUIRED,)),
    ("Close date, today or earlier", (Code.CLOSE_DATE_REQUIRED, Code.CLOSE_DATE_IN_FUTURE)),
    (
        "Primary contact at this account, with an email",
        (
            Code.PRIMARY_CONTACT_REQUIRED,
            Code.PRIMARY_CONTACT_NOT_ON_ACCOUNT,
            Code.PRIMARY_CONTACT_EMAIL_REQUIRED,
        ),
    ),
    ("Products with seats", (Code.SEATS_REQUIRED,)),
    ("Amount matches the line items", (Code.AMOUNT_MISMATCH,)),
]


def checklist(
    unmet: Iterable[Unmet],
    configured: Iterable[tuple[str, str]] = (),
    facts: GateFacts | None = None,
) -> list[dict[str, Any]]:
    """Every Closed-Won requirement, met or not, with the gate's own messages; with
    ``facts``, a row per evidence document RevOps require of this deal (``upload_kind``
    names the kind, so the page can offer the upload right there)."""
    unmet = list(unmet)
    rows: list[dict[str, Any]] = []
    for label, codes in CHECKLIST:
        hits = [u for u in unmet if u.code in codes]
        rows.append(
            {
                "label": label,
                "met": not hits,
                "codes": list(codes),
                "messages": [u.message for u in hits],
            }
        )
    seen: set[str] = set()
    for _stage, field_name in configured:
        if field_name in seen:
            continue
        seen.add(field_name)
        hits = [u for u in unmet if u.code == Code.STAGE_REQUIREMENT and u.field == field_name]
        rows.append(
            {
                "label": f"{FIELD_LABELS.get(field_name, field_name)} (required by RevOps)",
                "met": not hits,
                "codes": [Code.STAGE_REQUIREMENT],
                "messages": [u.message for u in hits],
            }
        )
    if facts is not None:
        kinds: dict[str, str] = {}
        for requirement in facts.evidence_requirements:
            if applies(requirement, facts.amount_reporting):
                kinds.setdefault(requirement.kind, requirement.label or requirement.kind)
        for kind, label in sorted(kinds.items()):
            hits = [u for u in unmet if u.field == f"documents.{kind}"]
            rows.append(
                {
                    "label": f"{label} attached",
                    "met": not hits,
                    "codes": [Code.EVIDENCE_REQUIRED],
                    "messages": [u.message for u in hits],
                    "upload_kind": kind,
                }
            )
    return rows
