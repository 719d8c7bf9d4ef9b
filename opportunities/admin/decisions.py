"""Transition views shared by the approval queue and the Opportunity admin.

Every button in the admin that changes a stage ends in ``services.opportunity_transition``
with ``source="admin"`` — never in django-fsm-2's admin buttons, which call
``save()`` and skip the service's lock, gate, permission checks and StageChange row.

Permission is checked twice on purpose: here, so a user who may not run a transition
never sees its button and a forged POST gets a 403 before anything runs; and in the
service, which is the rule (a race between the two is decided there).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.admin import AdminSite
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect

from core import errors

from .. import gate, policies, services
from ..models import Opportunity
from ..selectors.approvals import pending_approval_of
from ..stages import TRANSITIONS, LossReason, Source, Stage
from .mixins import error_lines


def staff_view(admin_site: AdminSite, view: Callable[..., HttpResponse]) -> Callable[..., Any]:
    """Like ``admin_site.admin_view``, except that a signed-in user who is not staff (a
    rep) gets a 403 instead of the login page: a forged POST is refused, not redirected."""

    @wraps(view)
    def inner(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(
                request.get_full_path(), reverse("admin:login", current_app=admin_site.name)
            )
        if not (request.user.is_active and request.user.is_staff):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return csrf_protect(never_cache(inner))


class ReasonForm(forms.Form):
    # Not ``required``: the service owns the rule and its ``reason_required`` code.
    reason = forms.CharField(
        label="Reason (the rep sees it)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 5, "cols": 80, "autofocus": True}),
        max_length=5000,
    )


class LossForm(forms.Form):
    loss_reason = forms.ChoiceField(
        label="Why was the deal lost?",
        choices=[("", "---------"), *LossReason.choices],
        required=False,
    )
    loss_detail = forms.CharField(
        label="Detail",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 80}),
        max_length=5000,
    )


def form_for(name: str, data: Any = None) -> forms.Form | None:
    needs = TRANSITIONS[name].needs
    if "reason" in needs:
        return ReasonForm(data)
    if "loss_reason" in needs:
        return LossForm(data)
    return None


def permission_error(name: str, opportunity: Opportunity, user: Any) -> errors.DomainError | None:
    return policies.transition_permission_error(
        name, opportunity, user, pending_approval_of(opportunity)
    )


def refusal_reason(exc: errors.DomainError, opportunity: Opportunity, user: Any) -> str:
    """Why one deal of a bulk action was refused, in a few words for a RevOps person."""
    if isinstance(exc, errors.SelfApprovalForbidden):
        if opportunity.owner_id == getattr(user, "pk", None):
            return "you own this deal"
        return "you submitted this deal"
    if isinstance(exc, errors.GateFailed):
        count = len(exc.errors)
        first = exc.errors[0]["message"] if exc.errors else exc.detail
        plural = "s" if count != 1 else ""
        return f"{count} requirement{plural} unmet ({first})"
    if isinstance(exc, errors.TransitionNotAllowed):
        return f"not pending approval any more (now {opportunity.stage_label})"
    if isinstance(exc, errors.StaleVersion | errors.ConcurrentUpdate):
        return "changed by someone else just now; review it again"
    if isinstance(exc, errors.ReasonRequired):
        return "a reason is required"
    return exc.detail


def denied_response(
    request: HttpRequest, admin_site: AdminSite, exc: errors.DomainError, opportunity: Opportunity
) -> HttpResponse:
    context = {
        **admin_site.each_context(request),
        "title": "You can't do this",
        "opportunity": opportunity,
        "detail": exc.detail,
        "code": exc.code,
    }
    return TemplateResponse(request, "admin/opportunities/denied.html", context, status=403)


def run_transition(
    request: HttpRequest,
    *,
    opportunity: Opportunity,
    name: str,
    expected_version: int | None = None,
    **params: Any,
) -> tuple[Opportunity | None, errors.DomainError | None]:
    """Run ``name`` as the signed-in user through the service; returns (deal, None) or
    (None, the refusal)."""
    try:
        result = services.opportunity_transition(
            opportunity=opportunity.pk,
            name=name,
            actor=request.user,
            source=Source.ADMIN,
            expected_version=expected_version,
            **params,
        )
    except errors.DomainError as exc:
        return None, exc
    return result, None


def parse_version(raw: Any) -> int | None:
    try:
        return int(raw) if raw not in (None, "") else None
    except (TypeError, ValueError):
        return None


def transition_view(
    request: HttpRequest,
    admin_site: AdminSite,
    *,
    opportunity: Opportunity,
    name: str,
    done_url: str,
    back_url: str,
    refused_url: str,
) -> HttpResponse:
    """GET: the reason page of a transition that needs one (reject, mark lost).
    POST: run it. A user who may not run it gets a 403 and nothing changes."""
    spec = TRANSITIONS.get(name)
    if spec is None:
        raise PermissionDenied
    denied = permission_error(name, opportunity, request.user)
    if denied is not None:
        return denied_response(request, admin_site, denied, opportunity)

    form = form_for(name, request.POST if request.method == "POST" else None)
    if request.method != "POST":
        if form is None:
            return HttpResponse(status=405, headers={"Allow": "POST"})
        return _reason_page(request, admin_site, opportunity, name, form, back_url)

    params: dict[str, str] = {}
    if form is not None:
        if not form.is_valid():
            return _reason_page(request, admin_site, opportunity, name, form, back_url)
        params = {k: v or "" for k, v in form.cleaned_data.items()}
    elif name == "approve" and (request.POST.get("comment") or "").strip():
        params = {"reason": request.POST["comment"].strip()[:2000]}  # the step's comment
    result, exc = run_transition(
        request,
        opportunity=opportunity,
        name=name,
        expected_version=parse_version(request.POST.get("version")),
        **params,
    )
    if exc is None and result is not None:
        messages.success(request, _done_message(name, result))
        return _redirect(done_url)
    assert exc is not None
    if isinstance(exc, errors.PermissionDenied):
        return denied_response(request, admin_site, exc, opportunity)
    if form is not None and isinstance(exc, errors.ReasonRequired | errors.InvalidInput):
        for err in exc.errors:
            field = err.get("field")
            form.add_error(
                field if field in form.fields else None, str(err.get("message") or exc.detail)
            )
        return _reason_page(
            request, admin_site, opportunity, name, form, back_url, status=422, code=exc.code
        )
    messages.error(
        request,
        f"{spec.label} was not done for {opportunity.name}: {exc.detail} "
        + " ".join(error_lines(exc) if exc.errors else []),
    )
    return _redirect(refused_url)


def _done_message(name: str, opportunity: Opportunity) -> str:
    if name == "approve" and opportunity.stage == "pending_approval":
        return f"Approved your step of {opportunity.name}: the next step's approvers are told."
    if name == "approve":
        return (
            f"Approved Closed-Won: {opportunity.name}. Billing, provisioning, customer "
            "success and commissions are being handed off; the rep is emailed."
        )
    if name == "reject":
        return f"Rejected: {opportunity.name} is back in Negotiation; the rep is emailed."
    return f"{TRANSITIONS[name].label}: {opportunity.name} is now {opportunity.stage_label}."


def _redirect(url: str) -> HttpResponse:
    from django.http import HttpResponseRedirect

    return HttpResponseRedirect(url)


def _reason_page(
    request: HttpRequest,
    admin_site: AdminSite,
    opportunity: Opportunity,
    name: str,
    form: forms.Form,
    back_url: str,
    *,
    status: int = 200,
    code: str = "",
) -> HttpResponse:
    spec = TRANSITIONS[name]
    unmet = (
        gate.unmet_requirements(opportunity, Stage.CLOSED_WON)
        if name == "reject" and opportunity.stage == Stage.PENDING_APPROVAL
        else []
    )
    context = {
        **admin_site.each_context(request),
        "title": f"{spec.label}: {opportunity.name}",
        "opportunity": opportunity,
        "transition": spec,
        "form": form,
        "back_url": back_url,
        "error_code": code,
        "unmet": unmet,
        "opts": Opportunity._meta,
    }
    return TemplateResponse(
        request, "admin/opportunities/transition_form.html", context, status=status
    )
