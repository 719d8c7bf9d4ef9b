"""The approvers' side of amendments: the queue of pending amendments (beside the
Closed-Won requests) — every one for RevOps, for a member of another approver group
those whose current step is theirs — each one's page with its route, the step decisions,
the before / after / delta highlighted and Approve / Reject, and the bookings ledger.
Decisions go through ``services.amendment_decide``."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from approvals import selectors as approval_selectors
from approvals.routing import route_label
from core import errors, formatting
from core.parsing import ascii_id
from opportunities import policies
from opportunities.admin.mixins import RevOpsReadOnlyAdmin, error_lines
from opportunities.stages import Source

from . import selectors, services
from .models import Amendment, AmendmentStatus, Booking


class StatusFilter(admin.SimpleListFilter):
    """Pending by default: the queue is the work still to do."""

    title = "status"
    parameter_name = "status"

    def lookups(self, request: Any, model_admin: Any) -> list[tuple[str, str]]:
        return [*AmendmentStatus.choices, ("all", "All")]

    def value(self) -> str:
        return super().value() or AmendmentStatus.PENDING

    def choices(self, changelist: Any) -> Any:
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == str(lookup),
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request: Any, queryset: QuerySet[Amendment]) -> QuerySet[Amendment]:
        if self.value() == "all":
            return queryset
        return queryset.filter(status=self.value())


def delta_html(amendment: Amendment) -> str:
    delta = amendment.delta or {}
    amount = str(delta.get("amount") or "0.00")
    css = "cw-delta-neg" if amount.startswith("-") else "cw-delta-pos"
    seats = ", ".join(
        f"{row['sku']} {row['before']}→{row['after']}" for row in delta.get("seats_by_sku", [])
    )
    return format_html(
        "<strong class='{}' data-delta-amount='{}'>{}{} {}</strong><br><span class='cw-muted'>{}</span>",
        css,
        amount,
        "" if amount.startswith("-") else "+",
        amount,
        delta.get("currency", ""),
        seats,
    )


@admin.register(Amendment)
class AmendmentAdmin(RevOpsReadOnlyAdmin):
    list_display = (
        "opportunity_name",
        "kind",
        "requested",
        "delta_display",
        "step",
        "reason",
        "status",
    )
    list_filter = (StatusFilter, "kind")
    search_fields = ("opportunity__name", "reason")
    ordering = ("requested_at", "id")

    # RevOps see every amendment; a member of another approver group (Finance, Deal
    # desk…) sees those whose current step is theirs, as in the Closed-Won inbox.
    def has_module_permission(self, request: HttpRequest) -> bool:
        return policies.is_approver(request.user)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return policies.is_approver(request.user)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Amendment]:
        return selectors.inbox(request.user).order_by("requested_at", "id")

    @admin.display(description="Step")
    def step(self, obj: Amendment) -> str:
        steps = approval_selectors.route_of(obj)
        now = approval_selectors.current_step(obj)
        if now is None:
            return format_html("<span class='cw-muted'>{}</span>", route_label(steps))
        return format_html(
            "<strong data-step-group='{}'>{}</strong> <span class='cw-muted'>{}/{}</span><br>"
            "<span class='cw-muted'>{}</span>",
            now["group"],
            now["group"],
            now["index"] + 1,
            len(steps),
            route_label(steps),
        )

    @admin.display(description="Deal", ordering="opportunity__name")
    def opportunity_name(self, obj: Amendment) -> str:
        return format_html("<strong>{}</strong>", obj.opportunity.name)

    @admin.display(description="Requested", ordering="requested_at")
    def requested(self, obj: Amendment) -> str:
        return format_html(
            "{}<br><span class='cw-muted'>{}</span>",
            formatting.person(obj.requested_by),
            formatting.ago(obj.requested_at),
        )

    @admin.display(description="Delta")
    def delta_display(self, obj: Amendment) -> str:
        return delta_html(obj)

    def get_urls(self) -> list[Any]:
        urls = super().get_urls()
        return [
            path(
                "<int:pk>/decide/<str:name>/",
                self.admin_site.admin_view(require_POST(self.decide_view)),
                name="amendments_amendment_decide",
            ),
            *urls,
        ]

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        # Any amendment by id (the inbox lists only the caller's steps): deciding one
        # that is not theirs is refused with the reason, not hidden.
        pk = ascii_id(unquote(object_id))
        amendment = selectors.amendment_list().filter(pk=pk).first() if pk else None
        if amendment is None:
            return HttpResponseRedirect(reverse("admin:amendments_amendment_changelist"))
        pending = amendment.status == AmendmentStatus.PENDING
        approve_denied = reject_denied = None
        if pending:
            approve_denied = services.step_permission_error("approve", amendment, request.user)
            reject_denied = services.step_permission_error("reject", amendment, request.user)
        step = approval_selectors.current_step(amendment)
        decided = list(amendment.step_decisions.all())
        route = [
            {
                **s,
                "index": i,
                "current": step is not None and step["index"] == i,
                "decisions": [d for d in decided if d.step_index == i],
            }
            for i, s in enumerate(approval_selectors.route_of(amendment))
        ]
        return TemplateResponse(
            request,
            "admin/amendments/amendment/decide.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": f"Amendment of {amendment.opportunity.name}",
                "amendment": amendment,
                "delta_html": delta_html(amendment),
                "pending": pending,
                "route": route,
                "route_label": route_label(approval_selectors.route_of(amendment)),
                "step": step,
                "can_approve": pending and approve_denied is None,
                "approve_denied": approve_denied,
                "can_reject": pending and reject_denied is None,
                "reject_denied": reject_denied,
            },
        )

    def decide_view(self, request: HttpRequest, pk: int, name: str) -> HttpResponse:
        if not policies.is_approver(request.user):
            raise PermissionDenied
        try:
            services.amendment_decide(
                amendment=pk,
                actor=request.user,
                decision=name,
                reason=request.POST.get("reason", ""),
                source=Source.ADMIN,
            )
        except errors.DomainError as exc:
            messages.error(request, "\n".join(["Nothing was decided.", *error_lines(exc)]))
            return HttpResponseRedirect(reverse("admin:amendments_amendment_change", args=[pk]))
        outcome = {"approve": "approved", "reject": "rejected", "withdraw": "withdrawn"}
        messages.success(request, f"Amendment #{pk}: {outcome.get(name, name)}.")
        return HttpResponseRedirect(reverse("admin:amendments_amendment_changelist"))


@admin.register(Booking)
class BookingAdmin(RevOpsReadOnlyAdmin):
    list_display = (
        "booked_on",
        "opportunity",
        "kind",
        "amount_delta",
        "currency",
        "reporting_delta",
    )
    list_filter = ("kind", "booked_on")
    list_select_related = ("opportunity",)
    ordering = ("-booked_on", "-id")
