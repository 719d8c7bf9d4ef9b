"""The rep's side of amendments: "Request a change" on a won deal (preview with the diff
and the delta, then submit), "Cancel the deal" (RevOps), and withdrawing a request.
Thin callers of ``amendments.services``; the admin queue decides."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from core import errors
from core.parsing import ascii_int
from opportunities import policies
from opportunities.models import Opportunity
from opportunities.selectors import line_items_loaded
from opportunities.stages import Source

from .. import services
from ..models import Amendment

VIEW_PERM = "opportunities.view_opportunity"
# The gated values the change form offers (the API takes every gated field).
FORM_FIELDS = (
    ("amount", "Amount"),
    ("term_months", "Term (months)"),
    ("contract_start_date", "Contract start"),
    ("contract_id", "Contract ID"),
    ("po_number", "PO number"),
)


def reader(view: Any) -> Any:
    return login_required(permission_required(VIEW_PERM, raise_exception=True)(view))


def _opportunity(pk: int) -> Opportunity:
    opportunity = (
        Opportunity.objects.select_related("account", "owner", "primary_contact")
        .filter(pk=pk)
        .first()
    )
    if opportunity is None:
        raise Http404("No such deal.")
    return opportunity


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _proposal(
    request: HttpRequest, opportunity: Opportunity
) -> tuple[dict[str, Any], list[dict[str, Any]] | None]:
    """The changed values and line items the form posted (unchanged ones left out)."""
    changes: dict[str, Any] = {}
    for name, _label in FORM_FIELDS:
        raw = request.POST.get(name, "").strip()
        current = getattr(opportunity, name)
        if raw == _text(
            current if name != "amount" else (f"{current:.2f}" if current is not None else "")
        ):
            continue
        if name == "term_months":
            number = ascii_int(raw)
            changes[name] = number if number is not None else (None if raw == "" else raw)
        else:
            changes[name] = raw or (None if name in ("amount", "contract_start_date") else "")
    items = []
    changed_items = False
    for li in line_items_loaded(opportunity):
        seats = request.POST.get(f"seats_{li.pk}", str(li.seats)).strip()
        price = request.POST.get(f"unit_price_{li.pk}", _text(li.unit_price)).strip()
        if seats != str(li.seats) or price != _text(li.unit_price):
            changed_items = True
        if seats in ("", "0"):
            changed_items = True
            continue  # a line set to no seats is removed
        items.append({"product": li.product_id, "seats": seats, "unit_price": price or None})
    return changes, (items if changed_items else None)


@reader
@require_http_methods(["GET", "POST"])
def amend(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: the form with the deal's values; POST ``action=preview``: the dry run (gate,
    route, diff and delta); POST ``action=submit``: the request."""
    opportunity = _opportunity(pk)
    if not policies.can_change(request.user, opportunity):
        raise PermissionDenied("Only the deal's owner or RevOps can amend it.")
    preview = None
    if request.method == "POST":
        changes, line_items = _proposal(request, opportunity)
        try:
            if request.POST.get("action") == "submit":
                services.amendment_request(
                    opportunity=opportunity,
                    actor=request.user,
                    kind="change",
                    reason=request.POST.get("reason", ""),
                    changes=changes,
                    line_items=line_items,
                )
                messages.success(request, "Change requested: RevOps will review it.")
                return HttpResponseRedirect(
                    reverse("opportunity-detail", args=[opportunity.pk]) + "#amendments"
                )
            preview = services.amendment_dry_run(
                opportunity=opportunity,
                actor=request.user,
                kind="change",
                changes=changes,
                line_items=line_items,
            )
        except errors.DomainError as exc:
            problems = [e.message for e in exc.errors] or [exc.detail]
            messages.error(request, "\n".join(["The change cannot be requested.", *problems]))
    values = {
        name: request.POST.get(name)
        if request.method == "POST"
        else _text(
            getattr(opportunity, name)
            if name != "amount" or opportunity.amount is None
            else f"{opportunity.amount:.2f}"
        )
        for name, _ in FORM_FIELDS
    }
    lines: list[dict[str, Any]] = [
        {
            "item": li,
            "seats": request.POST.get(f"seats_{li.pk}", li.seats),
            "unit_price": request.POST.get(f"unit_price_{li.pk}", _text(li.unit_price)),
        }
        for li in line_items_loaded(opportunity)
    ]
    return render(
        request,
        "amendments/amend.html",
        {
            "opportunity": opportunity,
            "fields": [(name, label, values[name]) for name, label in FORM_FIELDS],
            "lines": lines,
            "reason": request.POST.get("reason", ""),
            "preview": preview,
        },
    )


@reader
@require_http_methods(["GET", "POST"])
def cancel(request: HttpRequest, pk: int) -> HttpResponse:
    """RevOps ask to cancel a won deal (a second RevOps member approves it)."""
    opportunity = _opportunity(pk)
    if request.method == "POST":
        try:
            services.amendment_request(
                opportunity=opportunity,
                actor=request.user,
                kind="cancellation",
                reason=request.POST.get("reason", ""),
            )
            messages.success(
                request, "Cancellation requested: another RevOps member must approve it."
            )
            return HttpResponseRedirect(
                reverse("opportunity-detail", args=[opportunity.pk]) + "#amendments"
            )
        except errors.DomainError as exc:
            lines = [e.message for e in exc.errors] or [exc.detail]
            messages.error(request, "\n".join(["The deal cannot be cancelled.", *lines]))
    return render(
        request,
        "amendments/cancel.html",
        {"opportunity": opportunity, "reason": request.POST.get("reason", "")},
    )


@reader
@require_POST
def decide(request: HttpRequest, pk: int, name: str) -> HttpResponse:
    """Withdraw (the requester or the owner); approve and reject happen in the admin queue,
    but the same service answers here too."""
    amendment = Amendment.objects.filter(pk=pk).first()
    if amendment is None:
        raise Http404("No such amendment.")
    try:
        services.amendment_decide(
            amendment=amendment,
            actor=request.user,
            decision=name,
            reason=request.POST.get("reason", ""),
            source=Source.UI,
        )
        messages.success(
            request,
            f"Amendment {name.replace('withdraw', 'withdrawn').replace('approve', 'approved').replace('reject', 'rejected')}.",
        )
    except errors.DomainError as exc:
        messages.error(request, "\n".join(["The amendment was not changed.", exc.detail]))
    return HttpResponseRedirect(
        reverse("opportunity-detail", args=[amendment.opportunity_id]) + "#amendments"
    )
