"""Template tags for the admin index: what needs RevOps' attention now."""

from __future__ import annotations

import contextlib
from typing import Any

from django import template
from django.urls import NoReverseMatch, reverse

from ..models import Approval, Decision
from ..policies import is_revops

register = template.Library()


@register.simple_tag(takes_context=True)
def revops_counts(context: dict[str, Any]) -> dict[str, Any] | None:
    """Pending Closed-Won approvals and dead handoffs, with links (two count queries)."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if not is_revops(user):
        return None
    counts: dict[str, Any] = {
        "pending": Approval.objects.filter(decision=Decision.PENDING).count(),
        "queue_url": reverse("admin:opportunities_closedwonapproval_changelist"),
        "dead": None,
        "dead_url": None,
    }
    from handoffs.models import Handoff

    counts["dead"] = Handoff.objects.filter(status="dead").count()
    with contextlib.suppress(NoReverseMatch):
        counts["dead_url"] = reverse("admin:handoffs_handoff_changelist") + "?status__exact=dead"
    return counts
