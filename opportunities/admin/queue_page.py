"""What the queue's deal page and the Opportunity admin show (reads only).

The page answers one question for RevOps — can this deal be Closed-Won, and is it what
the rep submitted? — so it shows the gate checklist from the same gate functions as
everywhere else, the values as submitted next to the values now, the line items, the
primary contact, the stage and field history, and once approved the four handoffs.
A constant number of queries whatever the length of the history.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from approvals import selectors as approval_selectors
from core import formatting
from core.formatting import waiting_time

from .. import policies, selectors
from ..models import Account, Approval, Contact, Decision, LineItem, Opportunity
from ..snapshot import values_snapshot
from ..stages import Stage

SNAPSHOT_FIELDS = [
    ("amount", "Amount"),
    ("currency", "Currency"),
    ("close_date", "Close date"),
    ("contract_id", "Contract ID"),
    ("po_number", "PO number"),
    ("primary_contact", "Primary contact"),
    ("contract_start_date", "Contract start"),
    ("term_months", "Term (months)"),
    ("line_items", "Line items"),
]
HISTORY_LIMIT = 40


def context(approval: Approval, user: Any) -> dict[str, Any]:
    opportunity = selectors.opportunity_get(approval.opportunity_id)
    assert opportunity is not None  # the approval's FK guarantees it
    pending = approval.decision == Decision.PENDING and opportunity.stage == Stage.PENDING_APPROVAL
    approve_denied = reject_denied = None
    if pending:
        approve_denied = policies.transition_permission_error(
            "approve", opportunity, user, approval
        )
        reject_denied = policies.transition_permission_error("reject", opportunity, user, approval)
    checklist = selectors.opportunity_checklist(opportunity)
    line_items = list(opportunity.line_items.all())
    priced = all(li.unit_price is not None for li in line_items)
    items_total = (
        sum((Decimal(li.seats) * (li.unit_price or 0) for li in line_items), Decimal(0))
        if line_items and priced
        else None
    )
    end = approval.decided_at if approval.decided_at else timezone.now()
    step = approval_selectors.current_step(approval)
    steps = approval_selectors.route_of(approval)
    decided = list(approval.decisions.select_related("decided_by"))
    route = [
        {
            **s,
            "current": step is not None and step["index"] == i,
            "decided": i < approval.step_index or approval.decision == Decision.APPROVED,
            "decisions": [d for d in decided if d.step_index == i],
        }
        for i, s in enumerate(steps)
    ]
    return {
        "step": step,
        "step_is_last": step is not None and step["index"] == len(steps) - 1,
        "route": route,
        "approval": approval,
        "opportunity": opportunity,
        "pending": pending,
        "can_approve": pending and approve_denied is None,
        "approve_denied": approve_denied,
        "can_reject": pending and reject_denied is None,
        "reject_denied": reject_denied,
        "checklist": checklist,
        "line_items": [
            {
                "sku": li.product.sku,
                "name": li.product.name,
                "seats": li.seats,
                "unit_price": li.unit_price,
                # The figures routing compares (list price in the reporting currency).
                "list_price": price.list_price,
                "discount_pct": price.discount_pct,
                "subtotal": Decimal(li.seats) * li.unit_price
                if li.unit_price is not None
                else None,
            }
            for li, price in zip(
                line_items,
                approval_selectors.line_prices(opportunity, line_items),
                strict=True,
            )
        ],
        "reporting_currency": settings.REPORTING_CURRENCY,
        "items_total": items_total,
        "contact": _contact(opportunity),
        "snapshot_rows": snapshot_rows(approval, opportunity, line_items),
        "evidence": evidence(approval, opportunity),
        "stage_history": list(selectors.opportunity_history(opportunity)[:HISTORY_LIMIT]),
        "field_history": selectors.field_history(opportunity, limit=HISTORY_LIMIT),
        "handoffs": handoffs_of(approval),
        "handoff_console_url": _handoff_console_url(opportunity),
        "other_requests": list(
            opportunity.approvals.exclude(pk=approval.pk)
            .select_related("submitted_by", "decided_by")
            .order_by("-submitted_at")
        ),
        "waited": waiting_time(end - approval.submitted_at),
    }


def _contact(opportunity: Opportunity) -> dict[str, Any] | None:
    contact = opportunity.primary_contact
    if contact is None:
        return None
    other_account = None
    if contact.account_id != opportunity.account_id:
        other_account = Account.objects.filter(pk=contact.account_id).first()
    return {"contact": contact, "other_account": other_account}


# --- values as submitted ------------------------------------------------------------------


def _current_values(opportunity: Opportunity, line_items: list[LineItem]) -> dict[str, Any]:
    """The gated values now, in the very shape of Approval.snapshot (one builder for both)."""
    return values_snapshot(opportunity, line_items)


def _show(name: str, value: Any, contacts: dict[int, str]) -> str:
    if value in (None, "", []):
        return "—"
    if name == "primary_contact":
        return contacts.get(value, f"contact #{value}")
    if name == "line_items":
        return "\n".join(
            f"{li.get('sku')} × {li.get('seats')}"
            + (f" @ {_amount(li['unit_price'])}" if li.get("unit_price") is not None else "")
            for li in value
        )
    if name in ("close_date", "contract_start_date"):
        return formatting.day(str(value))
    if name == "amount":
        return _amount(value)
    return str(value)


def _amount(value: Any, currency: str | None = None) -> str:
    """Money as everywhere else (``$120,000``, ``$1,234.50``)."""
    return formatting.money_short(value, currency)


def evidence(approval: Approval, opportunity: Opportunity) -> list[dict[str, Any]]:
    """The evidence documents beside the values as submitted, each opened inline: the
    ones frozen into the request (with the SHA-256 RevOps approve) and any added since."""
    from documents.admin import viewer
    from documents.models import Document

    frozen = {d["id"]: d for d in (approval.snapshot or {}).get("documents", [])}
    rows = []
    for document in Document.objects.filter(opportunity=opportunity, removed_at__isnull=True):
        rows.append(
            {
                "document": document,
                "kind": document.get_kind_display(),
                "submitted": document.pk in frozen,
                "viewer": viewer(document, height=420),
            }
        )
    return rows


def snapshot_rows(
    approval: Approval, opportunity: Opportunity, line_items: list[LineItem]
) -> list[dict[str, Any]]:
    """The gated values as submitted (Approval.snapshot) beside the values now."""
    submitted = approval.snapshot or {}
    now = _current_values(opportunity, line_items)
    contact_ids = {v for v in (submitted.get("primary_contact"), now["primary_contact"]) if v}
    contacts = {
        c.pk: str(c)
        for c in Contact.objects.filter(pk__in=contact_ids).only("first_name", "last_name")
    }
    rows = []
    for name, label in SNAPSHOT_FIELDS:
        before = submitted.get(name)
        if name == "line_items" and before:
            before = [{k: li.get(k) for k in ("sku", "seats", "unit_price")} for li in before]
        rows.append(
            {
                "label": label,
                "submitted": _show(name, before, contacts),
                "now": _show(name, now[name], contacts),
                "changed": bool(submitted)
                and _show(name, before, contacts) != _show(name, now[name], contacts),
            }
        )
    return rows


# --- handoffs (the handoffs app) --------------------------------------------------------------


def handoffs_of(approval: Approval) -> list[dict[str, Any]] | None:
    """The approval's handoffs, in the order of the kinds (billing first)."""
    from handoffs.models import Handoff, HandoffKind

    order = {kind: i for i, kind in enumerate(HandoffKind.values)}
    rows = sorted(
        Handoff.objects.filter(approval_id=approval.pk), key=lambda h: order.get(h.kind, 99)
    )
    return [
        {
            "handoff": h,
            "kind": h.get_kind_display(),
            "status": h.status,
            "status_label": h.get_status_display(),
            "attempts": h.attempts,
            "last_error": h.last_error,
            "last_status_code": h.last_status_code,
            "next_attempt_at": h.next_attempt_at,
            "delivered_at": h.delivered_at,
            "completed_at": h.completed_at,
            "external_ref": h.external_ref,
            "url": _admin_url("admin:handoffs_handoff_change", h.pk),
        }
        for h in rows
    ]


def _admin_url(name: str, *args: Any) -> str | None:
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return None


def _handoff_console_url(opportunity: Opportunity) -> str | None:
    url = _admin_url("admin:handoffs_handoff_changelist")
    return f"{url}?opportunity__id__exact={opportunity.pk}" if url else None


# --- the Opportunity admin's transition buttons ------------------------------------------------


def transition_buttons(opportunity: Opportunity, user: Any) -> list[dict[str, Any]]:
    """The transitions ``user`` may run on the deal now, each with what is missing."""
    buttons = []
    for option in selectors.opportunity_transition_options(opportunity, user):
        if not option["available"] or not option["permitted"]:
            continue
        buttons.append(
            {
                **option,
                "url": reverse(
                    "admin:opportunities_opportunity_transition",
                    args=[opportunity.pk, option["name"]],
                ),
                "needs_form": bool(option["needs"]),
                "unmet_messages": [u["message"] for u in option["unmet"]],
            }
        )
    return buttons


def queue_url_for(opportunity: Opportunity) -> str | None:
    if opportunity.stage != Stage.PENDING_APPROVAL:
        return None
    approval = opportunity.approvals.filter(decision=Decision.PENDING).only("pk").first()
    if approval is None:
        return None
    return reverse("admin:opportunities_closedwonapproval_change", args=[approval.pk])
