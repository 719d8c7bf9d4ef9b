"""Every read that lists, queues and dry runs need (STYLE rule 6).

Each list selector returns a queryset that joins or prefetches what its callers show, so
a page costs a constant number of queries whatever the number of deals.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from . import gates, roles
from .models import Approval, Decision, Opportunity, StageChange, line_items_prefetch
from .services import transition_permission_error
from .stages import TRANSITIONS, Stage


def opportunity_list() -> QuerySet[Opportunity]:
    """Deals with account, owner, primary contact and line items (+ products) loaded."""
    return Opportunity.objects.select_related(
        "account", "owner", "primary_contact"
    ).prefetch_related(line_items_prefetch())


def opportunity_get(pk: Any) -> Opportunity | None:
    try:
        return opportunity_list().filter(pk=pk).first()
    except (ValueError, TypeError):
        return None


def opportunity_history(opportunity: Opportunity) -> QuerySet[StageChange]:
    """StageChange rows, newest first."""
    return (
        StageChange.objects.filter(opportunity=opportunity)
        .select_related("actor")
        .order_by("-at", "-id")
    )


def approval_queue(*, decision: str | None = Decision.PENDING) -> QuerySet[Approval]:
    """The Closed-Won approval queue, oldest first."""
    qs = Approval.objects.select_related(
        "opportunity", "opportunity__account", "opportunity__owner", "submitted_by", "decided_by"
    ).order_by("submitted_at", "id")
    if decision:
        qs = qs.filter(decision=decision)
    return qs


def opportunity_pending_approval(opportunity: Opportunity) -> Approval | None:
    return (
        opportunity.approvals.filter(decision=Decision.PENDING)
        .select_related("submitted_by")
        .first()
    )


def opportunity_transition_options(opportunity: Opportunity, user: Any) -> list[dict[str, Any]]:
    """The dry run: for every transition, whether ``user`` may run it (``permitted``), whether
    it would succeed now (``allowed``) and what is missing (``unmet``).

    The facts are gathered once (≤ 3 queries) and every target is evaluated from them.
    """
    facts = gates.gather_facts(opportunity, target=Stage.CLOSED_WON)
    approval = (
        opportunity_pending_approval(opportunity)
        if opportunity.stage == Stage.PENDING_APPROVAL
        else None
    )
    options = []
    for name, spec in TRANSITIONS.items():
        gated = spec.target in gates.CLOSED_WON_TARGETS or name.startswith("move_to_")
        unmet = gates.evaluate(facts, spec.target) if gated else []
        available = opportunity.stage in spec.sources
        denied = transition_permission_error(name, opportunity, user, approval)
        options.append(
            {
                "name": name,
                "target": spec.target,
                "label": spec.label,
                "permitted": denied is None,
                "allowed": available and denied is None and not unmet,
                "available": available,
                "denied_code": denied.code if denied else None,
                "needs": list(spec.needs),
                "unmet": [u.as_dict() for u in unmet],
            }
        )
    return options


def opportunity_checklist(opportunity: Opportunity) -> dict[str, Any]:
    """The rep's Closed-Won checklist: every requirement, met or not."""
    facts = gates.gather_facts(opportunity, target=Stage.CLOSED_WON)
    unmet = gates.evaluate(facts, Stage.CLOSED_WON)
    return {
        "passes": not unmet,
        "unmet": [u.as_dict() for u in unmet],
        "items": gates.checklist(unmet, facts.configured),
    }


def user_can_change(user: Any, opportunity: Opportunity) -> bool:
    return roles.can_change(user, opportunity)
