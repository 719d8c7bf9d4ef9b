"""The rep's browser UI: board, deal list/detail/forms, checklist, dashboard.

Views are thin callers: reads come from ``selectors`` / ``ui_selectors``, every
write goes through ``services`` — a stage only ever changes in
``services.opportunity_transition(source="ui")`` — and domain errors are shown with their
own messages. Every action is a plain form post that works without JavaScript; htmx only
makes the checklist live and swaps small fragments.
"""

from __future__ import annotations

import json
from typing import Any, cast
from urllib.parse import urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core import errors
from core.parsing import ascii_id
from handoffs import selectors as handoff_selectors
from handoffs.models import HandoffKind

from .. import policies, selectors, services
from ..models import Opportunity
from ..selectors import pipeline as ui_selectors
from ..stages import (
    LOCKED_STAGES,
    OPEN_STAGES,
    TRANSITIONS,
    LossReason,
    Source,
    Stage,
)
from . import board as web_board
from . import fixit as web_fixit
from . import forms
from .http import is_htmx, safe_next

VIEW_PERM = "opportunities.view_opportunity"
LIST_PAGE_SIZE = 25
# Transitions RevOps run from the approval queue in the admin, not from the rep UI.
ADMIN_ONLY_TRANSITIONS = ("approve", "reject")


def reader(view: Any) -> Any:
    """Signed in (else the login page) and allowed to read deals (else 403)."""
    return login_required(permission_required(VIEW_PERM, raise_exception=True)(view))


# --- helpers --------------------------------------------------------------------------------


def _unsaved_opportunity(request: HttpRequest) -> Opportunity:
    """A new, never-saved deal owned by the signed-in rep (the new-deal checklist)."""
    return Opportunity(owner_id=cast(int, request.user.pk))


def _with_query(url: str, **params: Any) -> str:
    parts = urlsplit(url)
    query = parts.query
    extra = urlencode({k: v for k, v in params.items() if v not in (None, "")})
    query = f"{query}&{extra}" if query and extra else (query or extra)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def _refuse(request: HttpRequest, headline: str, exc: errors.DomainError) -> None:
    """One error message: the headline, then every message the service gave (one a line)."""
    lines = [str(e.get("message")) for e in exc.errors if e.get("message")]
    if not lines:
        lines = [exc.detail]
    elif exc.code not in ("gate_failed", "record_locked", "invalid", "reason_required"):
        lines.insert(0, exc.detail)
    messages.error(request, "\n".join([headline, *lines]))


def _opportunity_filter(request: HttpRequest) -> tuple[ui_selectors.PipelineFilter, dict[str, Any]]:
    """Filters shared by the board, the list and the dashboard (``scope``, ``owner``, ``q``).

    Reps start on their own deals, RevOps on everyone's; choosing an owner implies
    "everyone" so the two never contradict each other.
    """
    user = request.user
    owner_id: int | None = None
    raw_owner = request.GET.get("owner", "")
    # Only plausible ids reach the database (a 30-digit id would overflow bigint: a 500).
    owner_id = ascii_id(raw_owner)
    scope = request.GET.get("scope", "")
    if scope not in ("mine", "all"):
        scope = "all" if policies.is_revops(user) else "mine"
    if owner_id is not None:
        scope = "all"
    elif scope == "mine":
        owner_id = user.pk
    # PostgreSQL refuses NUL in a string; the search box never needs one.
    search = request.GET.get("q", "").replace("\x00", "").strip()[:100]
    stage = request.GET.get("stage", "")
    if stage not in Stage.values:
        stage = ""
    flt = ui_selectors.PipelineFilter(owner_id=owner_id, search=search, stage=stage)
    params = {
        "scope": scope,
        "owner": str(owner_id) if scope == "all" and owner_id is not None else "",
        "q": search,
        "stage": stage,
    }
    return flt, params


# --- home, board -----------------------------------------------------------------------------


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return redirect("pipeline")


@login_required
def signed_in(request: HttpRequest) -> HttpResponse:
    """Where a sign-in without ``?next=`` lands: RevOps on their approval queue in the
    admin, reps on their board."""
    if policies.is_revops(request.user) and request.user.is_staff:
        return redirect("admin:opportunities_closedwonapproval_changelist")
    return redirect("pipeline")


@reader
@require_GET
def pipeline(request: HttpRequest) -> HttpResponse:
    """The board: a constant number of queries (cards capped per column, totals aggregated)."""
    flt, params = _opportunity_filter(request)
    flt = ui_selectors.PipelineFilter(owner_id=flt.owner_id, search=flt.search)
    columns = ui_selectors.board(flt)
    web_board.decorate_columns(columns)
    list_params = {k: v for k, v in params.items() if v and k != "stage"}
    for column in columns:
        column.more_url = (
            reverse("opportunity-list") + "?" + urlencode({**list_params, "stage": column.stage})
        )
    editable = {
        opp.pk
        for column in columns
        for opp in column.cards
        if column.stage in OPEN_STAGES and policies.can_change(request.user, opp)
    }
    context = {
        "columns": columns,
        "filters": params,
        "owners": ui_selectors.owner_choices(),
        "editable": editable,
        "open_stages": [(s, Stage(s).label) for s in OPEN_STAGES],
        "card_limit": ui_selectors.BOARD_CARD_LIMIT,
        "board_total": sum((c.totals.amount for c in columns), start=0),
        "board_weighted": sum((c.totals.weighted for c in columns), start=0),
        "board_unconverted": ui_selectors.unconverted_sum(c.totals for c in columns),
        "board_weighted_unconverted": ui_selectors.unconverted_sum(
            (c.totals for c in columns), weighted=True
        ),
        "currency": settings.REPORTING_CURRENCY,
        "board_count": sum(c.totals.count for c in columns),
        "here": request.get_full_path(),
        "can_create": policies.can_create(request.user),
    }
    return render(request, "opportunities/board.html", context)


# --- deal list -------------------------------------------------------------------------------


@reader
@require_GET
def opportunity_list(request: HttpRequest) -> HttpResponse:
    flt, params = _opportunity_filter(request)
    sort = request.GET.get("sort", ui_selectors.DEFAULT_LIST_SORT)
    if sort.lstrip("-") not in ui_selectors.LIST_SORTS:
        sort = ui_selectors.DEFAULT_LIST_SORT
    paginator = Paginator(ui_selectors.opportunity_table(flt, sort=sort), LIST_PAGE_SIZE)
    known = ui_selectors.opportunity_count(flt)
    if known is not None:
        # The database keeps this count: no COUNT(*) over every deal per page.
        paginator.count = known
    page = paginator.get_page(request.GET.get("page"))
    base = {k: v for k, v in params.items() if v}
    headers = []
    for key, label in (
        ("name", "Deal"),
        ("account", "Account"),
        ("stage", "Stage"),
        ("amount", "Amount"),
        ("close_date", "Close date"),
        ("owner", "Owner"),
        ("updated", "Updated"),
    ):
        current = sort.lstrip("-") == key
        descending = sort.startswith("-")
        next_sort = ("" if descending else "-") + key if current else key
        headers.append(
            {
                "key": key,
                "label": label,
                "url": "?" + urlencode({**base, "sort": next_sort}),
                "aria_sort": ("descending" if descending else "ascending") if current else None,
            }
        )
    context = {
        "page": page,
        "filters": params,
        "sort": sort,
        "headers": headers,
        "owners": ui_selectors.owner_choices(),
        "stages": Stage.choices,
        "page_query": urlencode({**base, "sort": sort}),
        "can_create": policies.can_create(request.user),
    }
    return render(request, "opportunities/list.html", context)


# --- detail ----------------------------------------------------------------------------------


def _get_opportunity(pk: int) -> Opportunity:
    opportunity = selectors.opportunity_get(pk)
    if opportunity is None:
        raise Http404("No such deal.")
    return opportunity


@reader
@require_GET
def opportunity_detail(request: HttpRequest, pk: int) -> HttpResponse:
    opportunity = _get_opportunity(pk)
    options = selectors.opportunity_transition_options(opportunity, request.user)
    actions = [
        o
        for o in options
        if o["available"] and o["permitted"] and o["name"] not in ADMIN_ONLY_TRANSITIONS
    ]
    checklist = selectors.opportunity_checklist(opportunity)
    pending = (
        selectors.pending_approval_of(opportunity)
        if opportunity.stage == Stage.PENDING_APPROVAL
        else None
    )
    context = {
        "opportunity": opportunity,
        "path": web_board.stage_path(opportunity),
        "checklist": checklist,
        "primary_actions": [o for o in actions if o["name"] in ("submit_for_approval", "reopen")],
        "move_actions": [o for o in actions if o["name"].startswith("move_to_")],
        "other_actions": [o for o in actions if o["name"] in ("withdraw", "mark_lost")],
        "can_change": policies.can_change(request.user, opportunity),
        "is_revops": policies.is_revops(request.user),
        "pending": pending,
        "timeline": selectors.history.opportunity_timeline(opportunity),
        "handoffs": _handoffs(opportunity),
        "transition_form": forms.TransitionForm(transition="mark_lost"),
        "line_items": _priced_lines(opportunity),
        "with_discounts": True,
        "reporting_currency": settings.REPORTING_CURRENCY,
        "locked": opportunity.stage in LOCKED_STAGES,
        "loss_reason_label": LossReason(opportunity.loss_reason).label
        if opportunity.loss_reason
        else "",
    }
    context.update(_approval_context(opportunity, options, pending))
    return render(request, "opportunities/detail.html", context)


def _priced_lines(opportunity: Opportunity) -> list[Any]:
    """The deal's line items, each with ``price`` (list price and discount, the figures
    routing compares: ``approvals.selectors.line_prices``)."""
    from approvals.selectors import line_prices

    lines = list(opportunity.line_items.all())
    for line, price in zip(lines, line_prices(opportunity, lines), strict=True):
        line.price = price  # type: ignore[attr-defined]
    return lines


def _approval_context(
    opportunity: Opportunity, options: list[dict[str, Any]], pending: Any
) -> dict[str, Any]:
    """The route the deal would need ("RevOps → Finance (amount ≥ 100,000)"), the step
    waiting while pending, and the last step decision (the rep's banner)."""
    from approvals.models import ApprovalDecision
    from approvals.routing import route_label
    from approvals.selectors import current_step, route_of

    submit = next((o for o in options if o["name"] == "submit_for_approval"), None)
    out: dict[str, Any] = {
        "approval_route_label": route_label(submit["approval_route"])
        if submit and submit["available"]
        else "",
        "last_decision": ApprovalDecision.objects.filter(approval__opportunity=opportunity)
        .select_related("decided_by")
        .order_by("-decided_at", "-id")
        .first(),
    }
    if pending is not None:
        out["pending_step"] = current_step(pending)
        out["pending_route"] = route_of(pending)
        out["pending_route_label"] = route_label(out["pending_route"])
    return out


def _handoffs(opportunity: Opportunity) -> list[Any]:
    """The won deal's four handoffs, in the contract's order (billing first)."""
    if opportunity.stage != Stage.CLOSED_WON:
        return []
    order = {kind: index for index, kind in enumerate(HandoffKind.values)}
    return sorted(
        handoff_selectors.handoffs_for_opportunity(opportunity),
        key=lambda h: (order.get(h.kind, 99), h.created_at),
    )


# --- create / edit ---------------------------------------------------------------------------


def _form_context(
    request: HttpRequest, form: forms.OpportunityForm, formset: Any, opportunity: Opportunity | None
) -> dict[str, Any]:
    if opportunity is not None:
        preview = forms.apply_lenient(_fresh(opportunity.pk), _form_values(form))
        checklist_url = reverse("opportunity-checklist", args=[opportunity.pk])
    else:
        preview = forms.apply_lenient(_unsaved_opportunity(request), _form_values(form))
        checklist_url = reverse("opportunity-new-checklist")
    rows = (
        forms.lenient_line_items(request.POST)
        if form.is_bound
        else [(f.initial.get("seats"), f.initial.get("unit_price")) for f in formset.forms]
    )
    rows = [r for r in rows if r != (None, None)]
    if opportunity is not None and opportunity.stage in LOCKED_STAGES:
        rows = [(li.seats, li.unit_price) for li in opportunity.line_items.all()]
    return {
        "form": form,
        "formset": formset,
        "opportunity": opportunity,
        "checklist": ui_selectors.checklist_for_values(preview, rows),
        "checklist_url": checklist_url,
        "here": request.get_full_path(),
        "account_form": forms.AccountForm(prefix="new_account"),
        "contact_form": forms.ContactForm(
            prefix="new_contact", initial={"account": form.account_id()}
        ),
    }


def _form_values(form: forms.OpportunityForm) -> dict[str, Any]:
    """What the form shows now (posted data, else initial), keyed by field name."""
    if form.is_bound:
        values = {name: form.data.get(form.add_prefix(name), "") for name in form.fields}
        for name, field in form.fields.items():
            if field.disabled:
                values[name] = form.initial.get(name, "")
        return values
    return {name: ("" if v is None else v) for name, v in form.initial.items()}


def _fresh(pk: int) -> Opportunity:
    opportunity = (
        Opportunity.objects.select_related("primary_contact", "account").filter(pk=pk).first()
    )
    if opportunity is None:
        raise Http404("No such deal.")
    return opportunity


def _initial_from_query(request: HttpRequest) -> dict[str, Any]:
    """Values handed back by the no-JS "new account / new contact" pages."""
    initial: dict[str, Any] = {}
    for name in ("account", "primary_contact"):
        value = ascii_id(request.GET.get(name, ""))
        if value is not None:
            initial[name] = value
    return initial


@reader
@require_http_methods(["GET", "POST"])
def opportunity_create(request: HttpRequest) -> HttpResponse:
    if not policies.can_create(request.user):
        messages.error(request, "You may not create deals.")
        return redirect("pipeline")
    if request.method == "POST":
        form = forms.OpportunityForm(request.POST)
        add_row = "add_line" in request.POST
        formset = forms.line_item_formset(request.POST, add_row=add_row)
        if not add_row and form.is_valid() and formset.is_valid():
            rows = formset.rows()
            try:
                opportunity = services.opportunity_create(
                    actor=request.user,
                    data=form.service_data(),
                    line_items=[row for _, row in rows],
                    source=Source.UI,
                )
            except errors.DomainError as exc:
                forms.add_service_errors(form, exc.errors, formset=formset, rows=rows)
                if not exc.errors:
                    form.add_error(None, exc.detail)
            else:
                messages.success(
                    request,
                    f"Deal “{opportunity.name}” created. The checklist shows what it still "
                    "needs before Closed-Won.",
                )
                return redirect("opportunity-detail", pk=opportunity.pk)
    else:
        form = forms.OpportunityForm(initial=_initial_from_query(request))
        formset = forms.line_item_formset()
    status = 200 if request.method == "GET" or "add_line" in request.POST else 422
    return render(
        request,
        "opportunities/form.html",
        _form_context(request, form, formset, None),
        status=status,
    )


@reader
@require_http_methods(["GET", "POST"])
def opportunity_edit(request: HttpRequest, pk: int) -> HttpResponse:
    opportunity = _get_opportunity(pk)
    if not policies.can_change(request.user, opportunity):
        messages.error(
            request,
            "You can see this deal but not change it.\nOnly its owner or RevOps can change it.",
        )
        return redirect("opportunity-detail", pk=pk)
    if request.method == "POST":
        form = forms.OpportunityForm(request.POST, opportunity=opportunity)
        # A locked deal's page has no line item formset; a stale form may still post one
        # (the service then refuses a change with record_locked).
        lines_posted = "lines-TOTAL_FORMS" in request.POST
        add_row = "add_line" in request.POST and lines_posted
        formset = forms.line_item_formset(request.POST, opportunity=opportunity, add_row=add_row)
        lines_ok = not lines_posted or formset.is_valid()
        if not add_row and form.is_valid() and lines_ok:
            rows = formset.rows() if lines_posted else []
            data = {
                k: v
                for k, v in form.service_data().items()
                if not form.fields[k].disabled and k in form.changed_data
            }
            try:
                services.opportunity_update(
                    opportunity=opportunity.pk,
                    actor=request.user,
                    data=data,
                    line_items=[row for _, row in rows] if lines_posted else None,
                    expected_version=form.cleaned_data.get("version"),
                    source=Source.UI,
                )
            except errors.StaleVersion:
                form.add_error(
                    None,
                    "Someone changed this deal after you opened this form. Reload the page "
                    "to see their changes, then make yours again.",
                )
            except errors.DomainError as exc:
                forms.add_service_errors(form, exc.errors, formset=formset, rows=rows)
                if not exc.errors or exc.code == "record_locked":
                    form.add_error(None, exc.detail)
            else:
                messages.success(request, "Deal saved.")
                return redirect("opportunity-detail", pk=pk)
    else:
        initial = {**forms.initial_for(opportunity), **_initial_from_query(request)}
        form = forms.OpportunityForm(opportunity=opportunity, initial=initial)
        formset = forms.line_item_formset(opportunity=opportunity)
    status = 200 if request.method == "GET" or "add_line" in request.POST else 422
    return render(
        request,
        "opportunities/form.html",
        _form_context(request, form, formset, opportunity),
        status=status,
    )


@reader
@require_POST
def checklist_preview(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """The live checklist (htmx): the gate evaluated on the form's unsaved values."""
    opportunity = _unsaved_opportunity(request) if pk is None else _fresh(pk)
    line_items = forms.lenient_line_items(request.POST)
    if opportunity.pk and opportunity.stage in LOCKED_STAGES:
        line_items = [(li.seats, li.unit_price) for li in opportunity.line_items.all()]
    forms.apply_lenient(opportunity, request.POST)
    checklist = ui_selectors.checklist_for_values(opportunity, line_items)
    return render(
        request,
        "opportunities/_checklist.html",
        {
            "checklist": checklist,
            "live": True,
            "opportunity": opportunity if opportunity.pk else None,
        },
    )


@reader
@require_GET
def contact_field(request: HttpRequest) -> HttpResponse:
    """The primary contact select for the account chosen in the deal form (htmx)."""
    form = forms.OpportunityForm(
        initial={
            "account": request.GET.get("account") or None,
            "primary_contact": request.GET.get("primary_contact") or None,
        }
    )
    return render(request, "opportunities/_contact_field.html", {"form": form})


# --- inline account / contact creation ---------------------------------------------------------


def _created_response(
    request: HttpRequest,
    template: str,
    context: dict[str, Any],
    event: str,
    payload: dict[str, Any],
) -> HttpResponse:
    response = render(request, template, context)
    response["HX-Trigger"] = json.dumps({event: payload})
    return response


@reader
@require_http_methods(["GET", "POST"])
def account_create(request: HttpRequest) -> HttpResponse:
    back = safe_next(request, reverse("opportunity-create"))
    prefix = "new_account" if is_htmx(request) else None
    form = forms.AccountForm(request.POST if request.method == "POST" else None, prefix=prefix)
    if request.method == "POST" and form.is_valid():
        try:
            account = services.account_create(actor=request.user, data=form.cleaned_data)
        except errors.DomainError as exc:
            forms.add_service_errors(form, exc.errors)
            if not exc.errors:
                form.add_error(None, exc.detail)
        else:
            if is_htmx(request):
                context = {
                    "form": forms.OpportunityForm(initial={"account": account.pk}),
                    "contact_form": forms.ContactForm(
                        prefix="new_contact", initial={"account": account.pk}
                    ),
                }
                return _created_response(
                    request,
                    "opportunities/_account_created.html",
                    context,
                    "closedwon:account-created",
                    {"id": account.pk, "name": account.name},
                )
            messages.success(request, f"Account “{account.name}” created.")
            return redirect(_with_query(back, account=account.pk))
    return _inline_create_form(request, "account", form, back)


def _inline_create_form(request: HttpRequest, kind: str, form: Any, back: str) -> HttpResponse:
    """The account/contact form again (blank, or with its errors): inside the deal form's
    dialog under htmx, as a page of its own without JavaScript."""
    if is_htmx(request):
        response = render(
            request, f"opportunities/_{kind}_dialog_form.html", {f"{kind}_form": form}
        )
        response["HX-Retarget"] = f"#{kind}-dialog-body"
        response["HX-Reswap"] = "innerHTML"
        return response
    status = 422 if request.method == "POST" else 200
    return render(
        request,
        f"opportunities/{kind}_form.html",
        {f"{kind}_form": form, "back": back},
        status=status,
    )


@reader
@require_http_methods(["GET", "POST"])
def contact_create(request: HttpRequest) -> HttpResponse:
    back = safe_next(request, reverse("opportunity-create"))
    prefix = "new_contact" if is_htmx(request) else None
    initial = {"account": request.GET.get("account") or None}
    form = forms.ContactForm(
        request.POST if request.method == "POST" else None, prefix=prefix, initial=initial
    )
    if request.method == "POST" and form.is_valid():
        try:
            contact = services.contact_create(actor=request.user, data=form.cleaned_data)
        except errors.DomainError as exc:
            forms.add_service_errors(form, exc.errors)
            if not exc.errors:
                form.add_error(None, exc.detail)
        else:
            if is_htmx(request):
                opportunity_form = forms.OpportunityForm(
                    initial={"account": contact.account_id, "primary_contact": contact.pk}
                )
                return _created_response(
                    request,
                    "opportunities/_contact_field.html",
                    {"form": opportunity_form},
                    "closedwon:contact-created",
                    {"id": contact.pk, "account": contact.account_id},
                )
            messages.success(request, f"Contact “{contact}” created.")
            return redirect(
                _with_query(back, account=contact.account_id, primary_contact=contact.pk)
            )
    return _inline_create_form(request, "contact", form, back)


# --- transitions -----------------------------------------------------------------------------


@reader
@require_http_methods(["GET", "POST"])
def opportunity_transition(request: HttpRequest, pk: int, name: str) -> HttpResponse:
    """Run a transition through the service (GET: the no-JS page for its inputs).

    Refusals — permission, gate, wrong stage — come back as one message listing the
    service's own messages; nothing changes.
    """
    spec = TRANSITIONS.get(name)
    if spec is None or name in ADMIN_ONLY_TRANSITIONS:
        raise Http404("No such action.")
    opportunity = _get_opportunity(pk)
    detail_url = reverse("opportunity-detail", args=[pk])
    back = safe_next(request, detail_url)
    data = request.POST if request.method == "POST" else None
    form = forms.TransitionForm(data, transition=name)
    if request.method == "POST" and form.is_valid():
        values = form.cleaned_data
        try:
            services.opportunity_transition(
                opportunity=pk,
                name=name,
                actor=request.user,
                source=Source.UI,
                reason=values.get("reason", ""),
                loss_reason=values.get("loss_reason", ""),
                loss_detail=values.get("loss_detail", ""),
            )
        except (errors.ReasonRequired, errors.InvalidInput) as exc:
            # Missing input: show the form again with the message on its field.
            forms.add_service_errors(form, exc.errors)
        except errors.GateFailed as exc:
            _refuse(request, f"“{opportunity.name}” was not changed: {spec.label} refused.", exc)
            if name in web_fixit.FIXABLE and policies.can_change(request.user, opportunity):
                # Straight to the fields that are missing (the same form as the dialog).
                fix = reverse("opportunity-fixit", args=[pk, name])
                return HttpResponseRedirect(_with_query(fix, next=back))
            return HttpResponseRedirect(back)
        except errors.DomainError as exc:
            _refuse(request, f"“{opportunity.name}” was not changed: {spec.label} refused.", exc)
            return HttpResponseRedirect(back)
        else:
            messages.success(request, _done_message(name, opportunity.name))
            return HttpResponseRedirect(back)
    status = 422 if request.method == "POST" else 200
    return render(
        request,
        "opportunities/transition.html",
        {"opportunity": opportunity, "spec": spec, "form": form, "back": back},
        status=status,
    )


def _done_message(name: str, opportunity: str) -> str:
    spec = TRANSITIONS[name]
    if name == "submit_for_approval":
        return f"Closed-Won requested for “{opportunity}”: it now waits for RevOps approval."
    if name == "withdraw":
        return f"Request withdrawn: “{opportunity}” is back in Negotiation."
    if name == "mark_lost":
        return f"“{opportunity}” marked lost."
    if name == "reopen":
        return f"“{opportunity}” reopened in Qualification."
    return f"“{opportunity}” moved to {Stage(spec.target).label}."


# --- dashboard -------------------------------------------------------------------------------


@reader
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    flt, params = _opportunity_filter(request)
    flt = ui_selectors.PipelineFilter(owner_id=flt.owner_id)
    totals = ui_selectors.stage_totals(flt)
    pipeline_rows = [totals[s] for s in ui_selectors.BOARD_STAGES]
    bookings = ui_selectors.bookings_by_month(flt)
    pending_count, pending = ui_selectors.pending_approvals(flt)
    context = {
        "filters": params,
        "owners": ui_selectors.owner_choices(),
        "pipeline_rows": pipeline_rows,
        "pipeline_total": sum((r.amount for r in pipeline_rows), start=0),
        "pipeline_weighted": sum((r.weighted for r in pipeline_rows), start=0),
        "pipeline_unconverted": ui_selectors.unconverted_sum(pipeline_rows),
        "bookings": bookings,
        "bookings_total": sum((b.amount for b in bookings), start=0),
        "bookings_unconverted": ui_selectors.unconverted_of(b.unconverted for b in bookings),
        "win": ui_selectors.win_rate(flt),
        "pending_count": pending_count,
        "pending": pending,
        "currency": settings.REPORTING_CURRENCY,
    }
    return render(request, "opportunities/dashboard.html", context)
