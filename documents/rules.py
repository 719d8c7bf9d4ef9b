"""The evidence rule of the Closed-Won gate, as a pure function.

Inputs are plain values (see :func:`documents.selectors.evidence_facts` for the batched
read); no query runs here, so the gate, the dry run, the checklist and the approval
queue can all call it for any number of opportunities.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from decimal import Decimal

EVIDENCE_REQUIRED = "evidence_required"
FIELD = "documents"


@dataclass(frozen=True)
class RequirementFacts:
    """One configured evidence requirement: the kind, and the minimum amount in the
    reporting currency from which it applies (None: always)."""

    id: int
    kind: str
    min_amount: Decimal | None
    label: str = ""


@dataclass(frozen=True)
class EvidenceUnmet:
    code: str
    field: str
    kind: str
    message: str

    def as_dict(self) -> dict[str, str]:
        """The gate item shape shared with every other requirement: code, field, message."""
        return {"code": self.code, "field": self.field, "message": self.message}


def applies(requirement: RequirementFacts, amount_reporting: Decimal | None) -> bool:
    """Whether ``requirement`` binds a deal of ``amount_reporting`` (reporting currency).

    An unknown amount (None: no amount yet, or no exchange rate for its currency) is
    treated as large enough, so a minimum never lets a deal through by accident.
    """
    if requirement.min_amount is None or amount_reporting is None:
        return True
    return amount_reporting >= requirement.min_amount


def evidence_unmet(
    requirements: Iterable[RequirementFacts],
    present_kinds: AbstractSet[str],
    amount_reporting: Decimal | None,
) -> list[EvidenceUnmet]:
    """Every evidence kind the deal still lacks, one item per kind, in kind order.

    ``present_kinds`` are the kinds of the deal's active documents (not removed, not from
    a declined or voided envelope). Each item has code ``evidence_required``, field
    ``documents``, the ``kind`` and a message for the rep.
    """
    missing: dict[str, Decimal | None] = {}
    labels: dict[str, str] = {}
    for requirement in requirements:
        labels.setdefault(requirement.kind, requirement.label or requirement.kind.replace("_", " "))
        if requirement.kind in present_kinds or not applies(requirement, amount_reporting):
            continue
        # Several requirements of one kind: report the lowest threshold that binds
        # (None, "every deal", is the lowest).
        threshold = requirement.min_amount
        if requirement.kind not in missing:
            missing[requirement.kind] = threshold
        else:
            known = missing[requirement.kind]
            if known is not None and (threshold is None or threshold < known):
                missing[requirement.kind] = threshold
    out = []
    for kind in sorted(missing):
        label = labels[kind]
        threshold = missing[kind]
        message = f"Attach the {label.lower()}."
        if threshold is not None:
            message = (
                f"Attach the {label.lower()}: required for deals of {threshold:,.0f} or more "
                "(reporting currency)."
            )
        out.append(EvidenceUnmet(code=EVIDENCE_REQUIRED, field=FIELD, kind=kind, message=message))
    return out
