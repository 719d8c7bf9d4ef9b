"""The gate: which requirements an opportunity meets for a target stage.

* :mod:`.rules` — pure rules over :class:`GateFacts` (no database);
* :mod:`.facts` — the batched reads that build the facts;
* :mod:`.checklist` — the rep's checklist labels.

One source of truth: the transition service, the API dry run, the admin queue and the rep's
checklist all evaluate the same rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..stages import Stage
from .checklist import CHECKLIST, checklist
from .facts import LineInput, claims, gather_facts, gather_one
from .rules import (
    CLOSED_WON_TARGETS,
    ENTRY_RULES,
    Code,
    GateFacts,
    LineFacts,
    Unmet,
    evaluate,
    normalize_key,
)

if TYPE_CHECKING:
    from ..models import Opportunity

__all__ = [
    "CHECKLIST",
    "CLOSED_WON_TARGETS",
    "ENTRY_RULES",
    "Code",
    "GateFacts",
    "LineFacts",
    "LineInput",
    "Unmet",
    "checklist",
    "claims",
    "evaluate",
    "gather_facts",
    "gather_one",
    "normalize_key",
    "unmet_for_page",
    "unmet_requirements",
]


def unmet_requirements(
    opportunity: Opportunity,
    target: str = Stage.CLOSED_WON,
    *,
    line_items: LineInput | None = None,
) -> list[Unmet]:
    """Gather the facts of one opportunity and evaluate them: the call most callers want."""
    return evaluate(gather_one(opportunity, target=target, line_items=line_items), target)


def unmet_for_page(
    opportunities: Sequence[Opportunity], target: str = Stage.CLOSED_WON
) -> dict[int, list[Unmet]]:
    """Every unmet requirement of each opportunity of a page, keyed by id, in a constant
    number of queries."""
    opps = [o for o in opportunities if o.pk is not None]
    return {
        opp.pk: evaluate(facts, target)
        for opp, facts in zip(opps, gather_facts(opps, target=target), strict=True)
    }
