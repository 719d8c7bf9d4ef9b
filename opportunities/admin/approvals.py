"""The Closed-Won approval queue: RevOps' inbox of pending requests, the approval page
(the deal as submitted), Approve / Reject and the bulk actions, all through the
transition service."""

import datetime as dt
from decimal import Decimal
from typing import Any, cast

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import unquote
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from approvals.routing import route_label
from approvals.selectors import (
    current_step,
    decidable_by,
    route_of,
    sla_due,
    with_step_group,
)
from core import errors, formatting
from core.parsing import ascii_id

from .. import gate, policies
from ..models import (
    Approval,
    ClosedWonApproval,
    Decision,
    Opportunity,
)
from ..selectors.approvals import queue_ordering, queue_queryset, queue_summary
from . import decisions, queue_page
from .mixins import RevOpsReadOnlyAdmin


def _with_asked(choices: list[tuple[str, str]], asked: str | None) -> list[tuple[str, str]]:
    """A filter's ``(value, label)`` choices plus the value asked for when it is not one of
    them: the admin applies only a filter that offers the value, and ``?owner=7`` of a rep
    with nothing waiting must still narrow the list (to nothing)."""
    if asked and asked not in {value for value, _label in choices}:
        return [*choices, (asked, asked)]
    return choices


class DecisionFilter(admin.SimpleListFilter):
    """Waiting requests by default: the queue is the work still to do."""

    title = "status"
    parameter_name = "decision"

    def lookups(self, request, model_admin):
        return [
            (Decision.PENDING, "Waiting for a decision"),
            (Decision.APPROVED, "Approved"),
            (Decision.REJECTED, "Rejected"),
            (Decision.WITHDRAWN, "Withdrawn"),
            ("all", "All"),
        ]

    def value(self):
        return super().value() or Decision.PENDING

    def choices(self, changelist):
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == str(lookup),
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request, queryset):
        if self.value() == "all":
            return queryset
        return queryset.filter(decision=self.value())


class OwnerFilter(admin.SimpleListFilter):
    title = "owner"
    parameter_name = "owner"

    def lookups(self, request, model_admin):
        # Owners with deals waiting: from the queue summary's query (one per request),
        # and the one asked for even without any (so ``?owner=`` always narrows the list,
        # and a value that is no user id is the admin's error page).
        return _with_asked(queue_summary(request)["owners"], self.value())

    def queryset(self, request, queryset):
        if self.value():
            owner = ascii_id(self.value())
            if owner is None:  # the admin answers with its "?e=1" page, not a 500
                raise IncorrectLookupParameters(f"owner={self.value()!r} is not a user id.")
            return queryset.filter(opportunity__owner_id=owner)
        return queryset


class AmountBandFilter(admin.SimpleListFilter):
    title = "amount"
    parameter_name = "amount"
    BANDS: dict[str, tuple[Decimal | None, Decimal | None, str]] = {
        "lt10k": (None, Decimal("10000"), "Under 10,000"),
        "10k-50k": (Decimal("10000"), Decimal("50000"), "10,000 – 50,000"),
        "50k-250k": (Decimal("50000"), Decimal("250000"), "50,000 – 250,000"),
        "gte250k": (Decimal("250000"), None, "250,000 and over"),
    }

    def lookups(self, request, model_admin):
        return [(key, label) for key, (_lo, _hi, label) in self.BANDS.items()]

    def queryset(self, request, queryset):
        band = self.BANDS.get(self.value() or "")
        if band is None:
            return queryset
        low, high, _label = band
        if low is not None:
            queryset = queryset.filter(opportunity__amount__gte=low)
        if high is not None:
            queryset = queryset.filter(opportunity__amount__lt=high)
        return queryset


class WaitingFilter(admin.SimpleListFilter):
    title = "waiting"
    parameter_name = "waiting"
    BANDS: dict[str, tuple[dt.timedelta | None, dt.timedelta | None, str]] = {
        "lt4h": (None, dt.timedelta(hours=4), "Under 4 hours"),
        "4h-1d": (dt.timedelta(hours=4), dt.timedelta(days=1), "4 to 24 hours"),
        "1d-3d": (dt.timedelta(days=1), dt.timedelta(days=3), "1 to 3 days"),
        "gt3d": (dt.timedelta(days=3), None, "Over 3 days"),
    }

    def lookups(self, request, model_admin):
        return [(key, label) for key, (_lo, _hi, label) in self.BANDS.items()]

    def queryset(self, request, queryset):
        band = self.BANDS.get(self.value() or "")
        if band is None:
            return queryset
        shortest, longest, _label = band
        now = timezone.now()
        if shortest is not None:
            queryset = queryset.filter(submitted_at__lte=now - shortest)
        if longest is not None:
            queryset = queryset.filter(submitted_at__gt=now - longest)
        return queryset


class StepFilter(admin.SimpleListFilter):
    """RevOps see every request: filter by the group whose step is waiting."""

    title = "waiting for"
    parameter_name = "step"

    def lookups(self, request, model_admin):
        # Groups with a step waiting: from the queue summary's query (one per request),
        # and the group asked for even when nothing waits for it (the admin applies only
        # a filter that has choices: ``?step=Legal`` must still narrow the list).
        return _with_asked([(g, g) for g in queue_summary(request)["groups"]], self.value())

    def queryset(self, request, queryset):
        if self.value():
            return with_step_group(queryset).filter(step_group=self.value())
        return queryset


class QueueChangeList(ChangeList):
    """Evaluates the gate for the whole page at once (constant queries, see
    ``approval_queue.gate_facts_for_page``) and each row's SLA. The order (overdue steps
    first, then the oldest) is the queue queryset's, in the database, across pages."""

    def get_results(self, request):
        super().get_results(request)
        rows = list(self.result_list)
        unmet = gate.unmet_for_page([row.opportunity for row in rows])
        now = timezone.now()
        for row in rows:
            row.gate_unmet = unmet.get(row.opportunity_id, [])
            step = current_step(row)
            row.step_due = sla_due(row, step) if step else None
            row.step_overdue = bool(row.step_due and row.step_due <= now)
        self.result_list = rows


class QueuePaginator(Paginator):
    """Pages of the queue chosen by id first: the database orders the requests on their
    own columns and joins only the page's rows to their deals, accounts and people.

    Ordering the joined rows made it read every waiting request's deal (a scan of every
    deal) to keep 50; now the sort runs over the requests alone inside the page's one
    query (``WHERE id IN (SELECT id … ORDER BY … LIMIT …)``), in the same order."""

    def page(self, number: Any) -> Page:
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if top + self.orphans >= self.count:
            top = self.count
        rows = cast(QuerySet[Approval], self.object_list)
        return Page(rows.filter(pk__in=rows.values("pk")[bottom:top]), number, self)


@admin.register(ClosedWonApproval)
class ClosedWonApprovalAdmin(RevOpsReadOnlyAdmin):
    """The queue RevOps work in all day: oldest request first, why each deal is or is not
    ready, and Approve / Reject that run the transition service."""

    list_display = (
        "opportunity_name",
        "account",
        "owner",
        "amount_display",
        "contract_po",
        "submitted_by_display",
        "waiting",
        "step",
        "sla",
        "discounts",
        "gate",
    )
    list_display_links = ("opportunity_name",)
    list_filter = (DecisionFilter, StepFilter, OwnerFilter, AmountBandFilter, WaitingFilter)
    search_fields = (
        "opportunity__name",
        "opportunity__account__name",
        "opportunity__contract_id",
        "opportunity__po_number",
    )
    search_help_text = "Search by deal, account, contract ID or PO number."
    list_per_page = 50
    paginator = QueuePaginator
    show_full_result_count = False
    actions = ["approve_selected", "reject_selected"]
    # Facet counts would add a COUNT per filter option to every page load.
    show_facets = admin.ShowFacets.NEVER
    change_list_template = "admin/opportunities/closedwonapproval/change_list.html"

    # --- permissions: RevOps see every request; a member of another approver group sees
    # the requests whose current step is theirs; nothing is added, edited or deleted here
    def has_approve_permission(self, request):
        return policies.is_approver(request.user)

    def has_module_permission(self, request):
        return policies.is_approver(request.user)

    def has_view_permission(self, request, obj=None):
        return policies.is_approver(request.user)

    def get_queryset(self, request):
        qs = queue_queryset(decision=None)
        if policies.is_revops(request.user):
            return qs
        return decidable_by(qs, request.user)

    def get_ordering(self, request):
        # The inbox order from the one queue queryset; a column header still re-sorts.
        return queue_ordering()

    def get_changelist(self, request, **kwargs):
        return QueueChangeList

    def get_paginator(self, request, queryset, per_page, orphans=0, allow_empty_first_page=True):
        paginator = super().get_paginator(
            request, queryset, per_page, orphans, allow_empty_first_page
        )
        if self._lists_every_waiting_request(request):
            # The queue summary has just counted these very rows: no second COUNT.
            paginator.count = queue_summary(request)["count"]
        return paginator

    def _lists_every_waiting_request(self, request: HttpRequest) -> bool:
        """The list is the whole waiting queue: RevOps (who see every request), no search,
        no filter but the default "waiting" one (paging and sorting change no count)."""
        narrowing = set(request.GET) - {"p", "o", DecisionFilter.parameter_name}
        decision = request.GET.get(DecisionFilter.parameter_name, Decision.PENDING)
        return not narrowing and decision == Decision.PENDING and policies.is_revops(request.user)

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            "title": "Closed-Won approval queue",
            "queue_summary": queue_summary(request),
            **(extra_context or {}),
        }
        return super().changelist_view(request, extra_context)

    # --- columns
    @admin.display(description="Deal", ordering="opportunity__name")
    def opportunity_name(self, obj: Approval) -> str:
        return format_html(
            "<strong>{}</strong><br><span class='cw-muted'>{}</span>",
            obj.opportunity.name,
            obj.opportunity.get_type_display(),
        )

    @admin.display(description="Account", ordering="opportunity__account__name")
    def account(self, obj: Approval) -> str:
        account = obj.opportunity.account
        return account.name if account else "—"

    @admin.display(description="Owner", ordering="opportunity__owner__username")
    def owner(self, obj: Approval) -> str:
        return formatting.person(obj.opportunity.owner)

    @admin.display(description="Amount", ordering="opportunity__amount")
    def amount_display(self, obj: Approval) -> str:
        return format_html(
            "<span class='cw-amount'>{}</span>",
            formatting.money_short(obj.opportunity.amount, obj.opportunity.currency),
        )

    @admin.display(description="Contract ID / PO")
    def contract_po(self, obj: Approval) -> str:
        opp = obj.opportunity
        parts = [p for p in (opp.contract_id, opp.po_number and f"PO {opp.po_number}") if p]
        if not parts:
            return format_html("<span class='cw-muted'>{}</span>", "none")
        return format_html_join(mark_safe("<br>"), "<code>{}</code>", ((p,) for p in parts))

    @admin.display(description="Submitted by", ordering="submitted_by__username")
    def submitted_by_display(self, obj: Approval) -> str:
        return format_html(
            "{}<br><span class='cw-muted'>{}</span>",
            formatting.person(obj.submitted_by),
            formatting.moment(obj.submitted_at),
        )

    @admin.display(description="Waiting", ordering="submitted_at")
    def waiting(self, obj: Approval) -> str:
        if obj.decision != Decision.PENDING:
            end = obj.decided_at or timezone.now()
            return format_html(
                "<span class='cw-muted'>waited {}</span>",
                formatting.waiting_time(end - obj.submitted_at),
            )
        age = timezone.now() - obj.submitted_at
        level = (
            "old"
            if age >= dt.timedelta(days=1)
            else "mid"
            if age >= dt.timedelta(hours=4)
            else "new"
        )
        return format_html(
            "<span class='cw-wait cw-wait-{}'>{}</span>", level, formatting.waiting_time(age)
        )

    @admin.display(description="Step")
    def step(self, obj: Approval) -> str:
        steps = route_of(obj)
        now = current_step(obj)
        if now is None:
            return format_html("<span class='cw-muted'>{}</span>", route_label(steps))
        return format_html(
            "<strong>{}</strong> <span class='cw-muted'>{}/{}</span><br>"
            "<span class='cw-muted'>{}</span>",
            now["group"],
            now["index"] + 1,
            len(steps),
            route_label(steps),
        )

    @admin.display(description="SLA")
    def sla(self, obj: Approval) -> str:
        due = getattr(obj, "step_due", None)
        step = current_step(obj)
        if step is None:
            return "—"
        if due is None:
            due = sla_due(obj, step)
        left = due - timezone.now() if due else None
        if left is None:
            return "—"
        # The time left (or past) in the pill, the step's SLA below it: two short lines
        # keep the queue's columns within a laptop screen beside the filters.
        if left.total_seconds() <= 0:
            return format_html(
                "<span class='cw-wait cw-wait-old' data-overdue='1'>overdue {}</span>"
                "<br><span class='cw-muted'>SLA {} business h</span>",
                formatting.waiting_time(-left),
                step["sla_hours"],
            )
        return format_html(
            "<span class='cw-wait cw-wait-new'>{} left</span>"
            "<br><span class='cw-muted'>SLA {} business h</span>",
            formatting.waiting_time(left),
            step["sla_hours"],
        )

    @admin.display(description="Discount")
    def discounts(self, obj: Approval) -> str:
        """Each discounted line's discount as submitted (frozen in the snapshot with the list price,
        the figures routing used): no query per row."""
        lines = [
            li
            for li in (obj.snapshot or {}).get("line_items", [])
            # A line sold at its list price (0 %) has no discount to show.
            if formatting.to_decimal(li.get("discount_pct")) not in (None, 0)
        ]
        if not lines:
            return format_html("<span class='cw-muted'>{}</span>", "—")
        return format_html_join(
            mark_safe("<br>"),
            "<span data-discount='{}'><code>{}</code> <span class='cw-pct'>{}</span></span>",
            (
                (
                    li["discount_pct"],
                    li.get("sku", ""),
                    formatting.discount_text(li["discount_pct"]),
                )
                for li in lines
            ),
        )

    @admin.display(description="Gate")
    def gate(self, obj: Approval) -> str:
        if obj.decision != Decision.PENDING:
            return format_html(
                "<span class='cw-badge cw-badge-{}'>{}</span>",
                obj.decision,
                obj.get_decision_display(),
            )
        unmet = getattr(obj, "gate_unmet", None)
        if unmet is None:
            unmet = gate.unmet_for_page([obj.opportunity])[obj.opportunity_id]
        if not unmet:
            return format_html("<span class='cw-badge cw-badge-ready'>{}</span>", "✓ Ready")
        plural = "s" if len(unmet) != 1 else ""
        first = unmet[0].message
        return format_html(
            "<span class='cw-badge cw-badge-unmet' title='{}'>{} unmet requirement{}</span>"
            "<br><span class='cw-muted cw-why-short'>{}</span>",
            "\n".join(u.message for u in unmet),
            len(unmet),
            plural,
            first if len(first) <= 60 else first[:57] + "…",
        )

    # --- the deal page, approve and reject
    def get_urls(self):
        urls = super().get_urls()
        return [
            path(
                "<path:object_id>/approve/",
                decisions.staff_view(self.admin_site, self.approve_view),
                name="opportunities_closedwonapproval_approve",
            ),
            path(
                "<path:object_id>/reject/",
                decisions.staff_view(self.admin_site, self.reject_view),
                name="opportunities_closedwonapproval_reject",
            ),
            *urls,
        ]

    def _approval(self, request: HttpRequest, object_id: str) -> ClosedWonApproval:
        # Any request by id (the inbox lists only the caller's steps): deciding one that
        # is not theirs is refused with the reason, not hidden as a 404.
        pk = ascii_id(unquote(object_id))
        approval = (
            ClosedWonApproval.objects.select_related(
                "opportunity", "opportunity__owner", "submitted_by", "decided_by"
            )
            .filter(pk=pk)
            .first()
            if pk
            else None
        )
        if approval is None:
            from django.http import Http404

            raise Http404("No such approval request.")
        return approval

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if not self.has_view_permission(request):
            raise PermissionDenied
        approval = self._approval(request, object_id)
        context = {
            **self.admin_site.each_context(request),
            **queue_page.context(approval, request.user),
            "opts": self.opts,
            "title": approval.opportunity.name,
            "subtitle": None,
            "original": approval,
            "has_view_permission": True,
            "is_popup": False,
            "approve_url": reverse(
                "admin:opportunities_closedwonapproval_approve", args=[approval.pk]
            ),
            "reject_url": reverse(
                "admin:opportunities_closedwonapproval_reject", args=[approval.pk]
            ),
            "changelist_url": reverse("admin:opportunities_closedwonapproval_changelist"),
            "opportunity_admin_url": reverse(
                "admin:opportunities_opportunity_change", args=[approval.opportunity_id]
            ),
        }
        return TemplateResponse(request, "admin/opportunities/closedwonapproval/deal.html", context)

    def _guard(self, request: HttpRequest, approval: Approval, name: str) -> HttpResponse | None:
        """403 for anyone who may not decide this request; nothing runs."""
        if not self.has_approve_permission(request):
            return decisions.denied_response(
                request,
                self.admin_site,
                errors.PermissionDenied("Only RevOps can approve or reject Closed-Won."),
                approval.opportunity,
            )
        denied = decisions.permission_error(name, approval.opportunity, request.user)
        if denied is not None:
            return decisions.denied_response(request, self.admin_site, denied, approval.opportunity)
        return None

    def approve_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if request.method != "POST":
            return HttpResponse(status=405, headers={"Allow": "POST"})
        approval = self._approval(request, object_id)
        refused = self._guard(request, approval, "approve")
        if refused is not None:
            return refused
        opportunity_url = reverse(
            "admin:opportunities_closedwonapproval_change", args=[approval.pk]
        )
        if approval.decision != Decision.PENDING:
            messages.error(request, "This request was already decided.")
            return HttpResponseRedirect(opportunity_url)
        done_url = opportunity_url
        if request.POST.get("next"):
            # Approve and next: the oldest other request whose current step is theirs.
            following = (
                decidable_by(queue_queryset(with_line_items=False), request.user)
                .exclude(pk=approval.pk)
                .order_by("submitted_at", "id")
                .first()
            )
            done_url = (
                reverse("admin:opportunities_closedwonapproval_change", args=[following.pk])
                if following is not None
                else reverse("admin:opportunities_closedwonapproval_changelist")
            )
        return decisions.transition_view(
            request,
            self.admin_site,
            opportunity=approval.opportunity,
            name="approve",
            done_url=done_url,
            back_url=opportunity_url,
            refused_url=opportunity_url,
        )

    def reject_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        approval = self._approval(request, object_id)
        refused = self._guard(request, approval, "reject")
        if refused is not None:
            return refused
        opportunity_url = reverse(
            "admin:opportunities_closedwonapproval_change", args=[approval.pk]
        )
        if approval.decision != Decision.PENDING:
            messages.error(request, "This request was already decided.")
            return HttpResponseRedirect(opportunity_url)
        return decisions.transition_view(
            request,
            self.admin_site,
            opportunity=approval.opportunity,
            name="reject",
            done_url=reverse("admin:opportunities_closedwonapproval_changelist"),
            back_url=opportunity_url,
            refused_url=opportunity_url,
        )

    # --- bulk actions: each deal through the service on its own, reported per row
    @admin.action(description="Approve Closed-Won for the selected deals…", permissions=["approve"])
    def approve_selected(
        self, request: HttpRequest, queryset: QuerySet[Approval]
    ) -> HttpResponse | None:
        """A confirmation page listing the deals first; approving reports each by name."""
        if "apply" in request.POST:
            done, refused = _decide_each(request, queryset, "approve")
            _report(request, "Approved", "Not approved", done, refused)
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Approve the selected deals",
            "opts": self.opts,
            "approvals": list(
                queryset.select_related("opportunity", "opportunity__account").order_by(
                    "submitted_at", "id"
                )
            ),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(
            request, "admin/opportunities/closedwonapproval/approve_selected.html", context
        )

    @admin.action(description="Reject the selected deals…", permissions=["approve"])
    def reject_selected(
        self, request: HttpRequest, queryset: QuerySet[Approval]
    ) -> HttpResponse | None:
        form = decisions.ReasonForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            reason = form.cleaned_data["reason"].strip()
            if reason:
                done, refused = _decide_each(request, queryset, "reject", reason=reason)
                _report(request, "Rejected", "Not rejected", done, refused)
                return None
            form.add_error("reason", "Say why the deals are rejected: the reps see it.")
        context = {
            **self.admin_site.each_context(request),
            "title": "Reject the selected deals",
            "opts": self.opts,
            "approvals": list(queryset.select_related("opportunity", "opportunity__account")),
            "form": form,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "error_code": "reason_required" if form.errors else "",
        }
        return TemplateResponse(
            request,
            "admin/opportunities/closedwonapproval/reject_selected.html",
            context,
            status=422 if form.errors else 200,
        )


def _decide_each(
    request: HttpRequest, queryset: QuerySet[Approval], name: str, **params: str
) -> tuple[list[Opportunity], list[tuple[Opportunity, str]]]:
    done: list[Opportunity] = []
    refused: list[tuple[Opportunity, str]] = []
    for approval in queryset.select_related("opportunity").order_by("submitted_at", "id"):
        opportunity = approval.opportunity
        if approval.decision != Decision.PENDING:
            refused.append((opportunity, f"already {approval.get_decision_display().lower()}"))
            continue
        result, exc = decisions.run_transition(
            request,
            opportunity=opportunity,
            name=name,
            expected_version=opportunity.version,
            **params,
        )
        if exc is not None:
            refused.append((opportunity, decisions.refusal_reason(exc, opportunity, request.user)))
        elif result is not None:
            done.append(result)
    return done, refused


def _report(
    request: HttpRequest,
    verb: str,
    not_verb: str,
    done: list[Opportunity],
    refused: list[tuple[Opportunity, str]],
) -> None:
    """One line per action, naming every deal, e.g. "Approved 2: Acme renewal, Globex
    pilot. Not approved: Initech — you own this deal"."""
    names = ", ".join(opp.name for opp in done)
    text = f"{verb} {len(done)}: {names}." if done else f"{verb} none."
    if refused:
        text += f" {not_verb}: " + "; ".join(f"{opp.name} — {why}" for opp, why in refused) + "."
    level = messages.SUCCESS if not refused else messages.WARNING if done else messages.ERROR
    messages.add_message(request, level, text)


# --- logs and settings -------------------------------------------------------------------------
