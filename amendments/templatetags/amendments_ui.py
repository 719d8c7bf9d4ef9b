"""``{% amendments_panel deal %}``: the won deal's amendments on its page (the pending
one with its diff and delta, the past ones, and "Request a change" / "Cancel the deal")."""

from __future__ import annotations

from typing import Any

from django import template

from approvals import selectors as approval_selectors
from approvals.routing import route_label
from opportunities import policies
from opportunities.stages import Stage

from .. import selectors

register = template.Library()


@register.inclusion_tag("amendments/_panel.html", takes_context=True)
def amendments_panel(context: template.Context, opportunity: Any) -> dict[str, Any]:
    request = context.get("request")
    user = getattr(request, "user", None)
    if opportunity.stage not in (Stage.CLOSED_WON, Stage.CANCELLED):
        return {"show": False}
    amendments = list(selectors.amendment_list().filter(opportunity=opportunity)[:20])
    pending = next((a for a in amendments if a.status == "pending"), None)
    won = opportunity.stage == Stage.CLOSED_WON
    return {
        "show": True,
        "opportunity": opportunity,
        "amendments": amendments,
        "pending": pending,
        "pending_step": approval_selectors.current_step(pending) if pending else None,
        "pending_route": route_label(approval_selectors.route_of(pending)) if pending else "",
        "can_request": won and pending is None and policies.can_change(user, opportunity),
        "can_cancel": won and pending is None and policies.is_revops(user),
        "can_withdraw": pending is not None
        and user is not None
        and user.pk in (pending.requested_by_id, opportunity.owner_id),
        "is_revops": policies.is_revops(user),
        "csrf_token": context.get("csrf_token"),
        "request": request,
    }


@register.inclusion_tag("amendments/_diff.html")
def amendment_diff(before: Any, after: Any, delta: Any) -> dict[str, Any]:
    """The before/after table of an amendment, changed values marked, and its delta."""
    rows = []
    labels = [
        ("amount", "Amount"),
        ("term_months", "Term (months)"),
        ("contract_start_date", "Contract start"),
        ("contract_id", "Contract ID"),
        ("po_number", "PO number"),
        ("close_date", "Close date"),
        ("type", "Type"),
    ]
    after = after or {}
    for key, label in labels:
        was, now = (before or {}).get(key), after.get(key) if after else None
        rows.append({"label": label, "before": was, "after": now, "changed": was != now})
    return {"rows": rows, "delta": delta or {}, "cancelled": not after}


@register.inclusion_tag("amendments/_queue_box.html", takes_context=True)
def pending_amendments_box(context: template.Context, limit: int = 5) -> dict[str, Any]:
    """The pending amendments beside the Closed-Won requests in the admin queue: all of
    them for RevOps, those whose current step is theirs for another approver."""
    request = context.get("request")
    rows = list(selectors.pending_amendments_page(limit, getattr(request, "user", None)))
    for row in rows:
        row.waiting_for = (approval_selectors.current_step(row) or {}).get("group", "")  # type: ignore[attr-defined]
    return {"count": getattr(rows[0], "total", 0) if rows else 0, "amendments": rows}
