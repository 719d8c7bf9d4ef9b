"""Browser pages of approvals: the e-mail decision link's confirmation page and the rep's
notifications list. A GET never changes anything; the POST runs the transition service."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from core import errors
from opportunities.models import Approval
from opportunities.services.transitions import opportunity_transition
from opportunities.stages import Source

from . import links, services
from .models import Notification, UsedLink
from .selectors import current_step


def _check(request: HttpRequest, token: str) -> tuple[links.LinkClaim, Approval]:
    claim = links.read_token(token)
    if claim.user_id != request.user.pk:
        raise links.LinkError("link_wrong_user", "This link was sent to someone else.")
    if UsedLink.objects.filter(nonce=claim.nonce).exists():
        raise links.LinkError("link_used", "This link was used already.")
    approval = (
        Approval.objects.select_related("opportunity", "opportunity__account")
        .filter(pk=claim.approval_id)
        .first()
    )
    if approval is None:
        raise links.LinkError("link_invalid", "This link is not valid.")
    if approval.decision != "pending" or approval.step_index != claim.step_index:
        raise links.LinkError("already_decided", "This step was decided already.")
    return claim, approval


@login_required
@require_http_methods(["GET", "POST"])
def decide(request: HttpRequest, token: str) -> HttpResponse:
    """The confirmation page of a decision link (GET), and the decision (POST)."""
    context: dict[str, Any] = {"token": token}
    try:
        claim, approval = _check(request, token)
    except links.LinkError as exc:
        context.update(error=exc.message, code=exc.code)
        return render(
            request,
            "approvals/decide.html",
            context,
            status=410 if exc.code in ("link_used", "link_expired", "already_decided") else 403,
        )
    context.update(claim=claim, approval=approval, step=current_step(approval))
    if request.method == "POST":
        comment = (request.POST.get("comment") or "").strip()[:2000]
        try:
            with transaction.atomic():
                UsedLink.objects.create(nonce=claim.nonce)
                opportunity_transition(
                    opportunity=approval.opportunity_id,
                    name=claim.action,
                    actor=request.user,
                    source=Source.UI,
                    reason=comment,
                    # The check above read without a lock: the service compares again
                    # under it, so the link never decides a step it does not name.
                    expected_step=(claim.approval_id, claim.step_index),
                )
        except errors.DomainError as exc:
            context.update(
                error=exc.detail,
                code=exc.code,
                problems=[e.message for e in exc.errors],
            )
            return render(request, "approvals/decide.html", context, status=exc.status)
        except IntegrityError:
            context.update(error="This link was used already.", code="link_used")
            return render(request, "approvals/decide.html", context, status=410)
        return redirect(f"/opportunities/{approval.opportunity_id}/")
    return render(request, "approvals/decide.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def notifications(request: HttpRequest) -> HttpResponse:
    """The user's notifications, newest first; POST marks them all read."""
    if request.method == "POST":
        services.notifications_mark_read(request.user)  # signed in: login_required
        return redirect("approvals:notifications")
    items = Notification.objects.filter(user_id=request.user.pk or 0).select_related("opportunity")[
        :100
    ]
    return render(request, "approvals/notifications.html", {"items": items})
