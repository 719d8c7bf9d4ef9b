"""Fix it now: a refused move opens exactly the fields its requirements need, and saving
them runs the edit and the transition together.

``GET /opportunities/<id>/fix/<transition>/`` shows the form — inside a dialog on the
board and the deal page (htmx), as a page of its own without JavaScript.
``POST`` (same URL) saves: in one transaction, ``services.opportunity_update`` with the
fields shown, then ``services.opportunity_transition``; if the transition is refused the
edit is rolled back too, and the form comes back with every message on its field.
``POST …?check=1`` evaluates the gate on the unsaved values (the live check) and saves
nothing.
"""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

from django import forms as djforms
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from core import errors
from core.errors import FieldError

from .. import gate, policies, selectors, services
from ..models import Opportunity
from ..selectors import pipeline as ui_selectors
from ..stages import OPEN_STAGES, TRANSITIONS, Source, Stage
from . import forms
from .http import is_htmx, safe_next

# The rep transitions a dialog can fix: every move into an open stage and the request.
FIXABLE = {f"move_to_{stage}" for stage in OPEN_STAGES} | {"submit_for_approval"}

# Fields in the order the dialog shows them.
FIELD_ORDER = (
    "account",
    "contract_id",
    "po_number",
    "amount",
    "close_date",
    "primary_contact",
    "contract_start_date",
    "term_months",
    "line_items",
)
NEW_CONTACT_FIELDS = ("new_contact_first_name", "new_contact_last_name", "new_contact_email")


def fields_for(unmet: list[gate.Unmet]) -> list[str]:
    """The deal fields that fix ``unmet``, in display order.

    A contract ID requirement also offers the PO number (either one will do); an amount
    that does not match the line items offers the line items too.
    """
    wanted = {u.field for u in unmet}
    codes = {u.code for u in unmet}
    if gate.Code.CONTRACT_OR_PO_REQUIRED in codes:
        wanted |= {"contract_id", "po_number"}
    if gate.Code.AMOUNT_MISMATCH in codes:
        wanted |= {"amount", "line_items"}
    return [name for name in FIELD_ORDER if name in wanted]


class FixItForm(forms.OpportunityForm):
    """The deal form cut down to the fields a transition still needs, plus an optional
    new primary contact (created at the deal's account in the same transaction)."""

    new_contact_first_name = djforms.CharField(label="First name", max_length=100, required=False)
    new_contact_last_name = djforms.CharField(label="Last name", max_length=100, required=False)
    new_contact_email = djforms.EmailField(label="Email", required=False)

    def __init__(self, *args: Any, shown: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        opportunity = self.opportunity
        self.shown = shown
        keep = {*shown, "version"}
        if "primary_contact" in shown:
            keep |= set(NEW_CONTACT_FIELDS)
        for name in list(self.fields):
            if name not in keep:
                del self.fields[name]
        if "primary_contact" in self.fields and "account" not in self.fields and opportunity:
            # The account is not asked for: offer the contacts of the deal's account.
            self.contacts = ui_selectors.contact_options(
                opportunity.account_id, include=opportunity.primary_contact_id
            )
            choice = self.fields["primary_contact"]
            choice.choices = forms.contact_choices(self.contacts, opportunity.account_id)  # type: ignore[attr-defined]
        if "close_date" in self.fields:
            self.fields["close_date"].widget.attrs["data-today"] = timezone.localdate().isoformat()

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("new_contact_last_name") or data.get("new_contact_email"):
            if not data.get("new_contact_last_name"):
                self.add_error("new_contact_last_name", "Enter the new contact's last name.")
            if not data.get("new_contact_email"):
                self.add_error("new_contact_email", "Billing sends the invoice here: add one.")
        return data

    def wants_new_contact(self) -> bool:
        return bool(self.cleaned_data.get("new_contact_last_name"))

    def edit_data(self) -> dict[str, Any]:
        """The shown deal fields that differ from the deal now (for ``opportunity_update``)."""
        data: dict[str, Any] = {}
        for name in self.shown:
            if name == "line_items" or name not in self.fields:
                continue
            value = self.cleaned_data.get(name)
            if name in ("contract_id", "po_number"):
                value = value or ""
            if name in self.changed_data:
                data[name] = value
        return data


def _target_label(name: str) -> str:
    spec = TRANSITIONS[name]
    if spec.target == Stage.PENDING_APPROVAL:
        return "request Closed-Won"
    return f"move it to {Stage(spec.target).label}"


def _lenient_preview(opportunity: Opportunity, data: Any) -> Opportunity:
    """A copy of the deal with the posted (possibly half-typed) values of the fields that
    were posted; fields not in the dialog keep their saved values."""
    preview = copy.copy(opportunity)
    values = {k: data.get(k) for k in FIELD_ORDER if k in data and k != "line_items"}
    if values:
        # Fill the keys that were not posted with the saved values, so apply_lenient (which
        # reads every key) keeps them.
        base = forms.initial_for(opportunity)
        merged = {k: ("" if base.get(k) is None else base.get(k)) for k in base}
        merged.update(values)
        forms.apply_lenient(preview, merged)
    return preview


def _unmet(opportunity: Opportunity, name: str, data: Any = None) -> list[gate.Unmet]:
    target = TRANSITIONS[name].target
    if data is None:
        return gate.unmet_requirements(opportunity, target)
    preview = _lenient_preview(opportunity, data)
    line_items: list[tuple[int | None, Decimal | None]] | None = None
    if "lines-TOTAL_FORMS" in data:
        line_items = forms.lenient_line_items(data)
    elif target in gate.CLOSED_WON_TARGETS:
        line_items = [(li.seats, li.unit_price) for li in opportunity.line_items.all()]
    return gate.evaluate(gate.gather_one(preview, target=target, line_items=line_items), target)


def _render(
    request: HttpRequest,
    opportunity: Opportunity,
    name: str,
    form: FixItForm | None,
    formset: Any,
    unmet: list[gate.Unmet],
    *,
    back: str,
    status: int = 200,
    refusal: list[str] | None = None,
) -> HttpResponse:
    context = {
        "opportunity": opportunity,
        "name": name,
        "spec": TRANSITIONS[name],
        "action_label": _target_label(name),
        "form": form,
        "formset": formset,
        "shown": form.shown if form else [],
        "unmet": [u.as_dict() for u in unmet],
        "back": back,
        "refusal": refusal or [],
        "fix_url": reverse("opportunity-fixit", args=[opportunity.pk, name]),
        "contact_create_url": reverse("opportunity-contact-create"),
    }
    if is_htmx(request):
        # htmx swaps only 2xx answers: the dialog body carries the errors itself.
        return render(request, "opportunities/_fixit_form.html", context)
    return render(request, "opportunities/fixit.html", context, status=status)


@login_required
@permission_required("opportunities.view_opportunity", raise_exception=True)
@require_http_methods(["GET", "POST"])
def fixit(request: HttpRequest, pk: int, name: str) -> HttpResponse:
    """The fix-it form for transition ``name`` (see the module doc). Errors: 404 for an
    unknown deal or a transition that is not a rep move; a deal the user may not change
    comes back to ``next`` with the refusal."""
    if name not in FIXABLE:
        raise Http404("No such action.")
    opportunity = selectors.opportunity_get(pk)
    if opportunity is None:
        raise Http404("No such deal.")
    back = safe_next(request, reverse("opportunity-detail", args=[pk]))
    if not policies.can_change(request.user, opportunity):
        messages.error(
            request,
            f"“{opportunity.name}” was not changed.\nOnly its owner or RevOps can change it.",
        )
        if is_htmx(request):
            response = HttpResponse(status=204)
            response["HX-Redirect"] = back
            return response
        return HttpResponseRedirect(back)

    if request.method == "POST" and request.GET.get("check"):
        unmet = _unmet(opportunity, name, request.POST)
        return render(
            request,
            "opportunities/_fixit_live.html",
            {"unmet": [u.as_dict() for u in unmet], "action_label": _target_label(name)},
        )

    unmet_now = _unmet(opportunity, name)
    shown = fields_for(unmet_now)
    if request.method == "GET":
        form = FixItForm(opportunity=opportunity, shown=shown) if unmet_now else None
        formset = (
            forms.line_item_formset(opportunity=opportunity) if "line_items" in shown else None
        )
        return _render(request, opportunity, name, form, formset, unmet_now, back=back)

    # POST: the fields shown when the dialog opened (posted back) decide what is edited.
    posted_shown = [f for f in request.POST.getlist("shown") if f in FIELD_ORDER] or shown
    form = FixItForm(request.POST, opportunity=opportunity, shown=posted_shown)
    lines_posted = "line_items" in posted_shown and "lines-TOTAL_FORMS" in request.POST
    formset = (
        forms.line_item_formset(request.POST, opportunity=opportunity)
        if "line_items" in posted_shown
        else None
    )
    lines_ok = not lines_posted or (formset is not None and formset.is_valid())
    if form.is_valid() and lines_ok:
        rows = formset.rows() if lines_posted and formset is not None else []
        try:
            with transaction.atomic():
                data = form.edit_data()
                if form.wants_new_contact():
                    account = (
                        form.cleaned_data.get("account")
                        if "account" in form.fields
                        else opportunity.account_id
                    )
                    contact = services.contact_create(
                        actor=request.user,
                        data={
                            "account": account,
                            "first_name": form.cleaned_data.get("new_contact_first_name", ""),
                            "last_name": form.cleaned_data["new_contact_last_name"],
                            "email": form.cleaned_data["new_contact_email"],
                        },
                    )
                    data["primary_contact"] = contact.pk
                if data or lines_posted:
                    services.opportunity_update(
                        opportunity=opportunity.pk,
                        actor=request.user,
                        data=data,
                        line_items=[row for _, row in rows] if lines_posted else None,
                        expected_version=form.cleaned_data.get("version"),
                        source=Source.UI,
                    )
                services.opportunity_transition(
                    opportunity=opportunity.pk, name=name, actor=request.user, source=Source.UI
                )
        except errors.StaleVersion:
            form.add_error(
                None,
                "Someone changed this deal after you opened this form. Reload to see "
                "their changes, then try again.",
            )
        except errors.DomainError as exc:
            _show_errors(form, formset, rows, exc)
        else:
            messages.success(request, _done(name, opportunity.name))
            if is_htmx(request):
                response = HttpResponse(status=204)
                response["HX-Redirect"] = back
                return response
            return HttpResponseRedirect(back)
    fresh = selectors.opportunity_get(pk) or opportunity
    return _render(
        request,
        fresh,
        name,
        form,
        formset,
        _unmet(fresh, name, request.POST),
        back=back,
        status=422,
    )


def _show_errors(form: FixItForm, formset: Any, rows: list[Any], exc: errors.DomainError) -> None:
    """Every message of a refused edit or transition on the field it names; a message for
    a field the dialog does not show goes on top."""
    for err in exc.errors:
        field_name = err.field
        if field_name in ("contract_id",) and "contract_id" not in form.fields:
            field_name = "po_number"
        if field_name == "line_items" and formset is not None:
            formset._non_form_errors = formset.error_class(  # noqa: SLF001 - Django's own slot
                [*formset.non_form_errors(), err.message]
            )
            continue
        forms.add_service_errors(
            form, [FieldError(err.code, field_name, err.message)], formset=formset, rows=rows
        )
    if not exc.errors:
        form.add_error(None, exc.detail)


def _done(name: str, opportunity: str) -> str:
    if name == "submit_for_approval":
        return f"Closed-Won requested for “{opportunity}”: it now waits for RevOps approval."
    return f"“{opportunity}” moved to {Stage(TRANSITIONS[name].target).label}."
