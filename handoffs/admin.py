"""The handoff console for RevOps: every handoff with its attempts,
filters by status and kind, and "Retry now", which calls the same service as the API
(). Rows are read-only: they are an audit trail, changed only by services."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from core import errors
from opportunities.admin.mixins import ReadOnlyAdmin

from . import selectors, services
from .models import (
    CommissionCredit,
    CommissionPlan,
    DemoReceipt,
    Handoff,
    HandoffAttempt,
    HandoffStatus,
)


class HandoffAttemptInline(admin.TabularInline):
    model = HandoffAttempt
    extra = 0
    can_delete = False
    fields = (
        "number",
        "at",
        "outcome",
        "status_code",
        "duration_ms",
        "error",
        "response_excerpt",
        "retry_after_s",
        "url",
    )
    readonly_fields = fields
    ordering = ("number", "id")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


STATUS_COLOURS: dict[str, str] = {
    HandoffStatus.PENDING: "#6b7280",
    HandoffStatus.DELIVERED: "#2563eb",
    HandoffStatus.COMPLETED: "#15803d",
    HandoffStatus.RETRYING: "#b45309",
    HandoffStatus.DEAD: "#b91c1c",
    HandoffStatus.SKIPPED: "#7c3aed",
}


@admin.register(Handoff)
class HandoffAdmin(ReadOnlyAdmin):
    list_display = (
        "short_id",
        "opportunity",
        "kind",
        "status_badge",
        "attempts",
        "next_attempt_at",
        "delivered_at",
        "last_error_short",
        "created_at",
    )
    list_filter = ("status", "kind")
    search_fields = ("opportunity__name", "opportunity__contract_id", "external_ref")
    date_hierarchy = "created_at"
    actions = ["retry_now"]
    inlines = [HandoffAttemptInline]
    fields = (
        "id",
        "opportunity",
        "approval",
        "kind",
        "status",
        "attempts",
        "next_attempt_at",
        "claimed_until",
        "last_status_code",
        "last_error",
        "delivered_at",
        "completed_at",
        "external_ref",
        "completed_by",
        "retried_by",
        "retried_at",
        "created_at",
        "updated_at",
        "payload_pretty",
    )
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Handoff]:
        return selectors.handoff_list()

    @admin.display(description="id", ordering="id")
    def short_id(self, obj: Handoff) -> str:
        return str(obj.pk)[:8]

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: Handoff) -> str:
        return format_html(
            '<strong style="color:{}">{}</strong>',
            STATUS_COLOURS.get(obj.status, "inherit"),
            obj.get_status_display(),
        )

    @admin.display(description="last error")
    def last_error_short(self, obj: Handoff) -> str:
        return obj.last_error[:80]

    @admin.display(description="payload (as sent)")
    def payload_pretty(self, obj: Handoff) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.payload, indent=2, ensure_ascii=False))

    def has_retry_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(services.RETRY_PERM)

    @admin.action(description="Retry now", permissions=["retry"])
    def retry_now(self, request: HttpRequest, queryset: QuerySet[Handoff]) -> None:
        done, refused = 0, []
        for handoff in queryset:
            try:
                services.handoff_retry(handoff=handoff, actor=request.user)
            except errors.DomainError as exc:
                refused.append(f"{str(handoff.pk)[:8]} ({handoff.kind}): {exc.detail}")
            else:
                done += 1
        if done:
            self.message_user(
                request, f"{done} handoff(s) queued for another attempt.", messages.SUCCESS
            )
        if refused:
            self.message_user(
                request, "Not re-driven: " + "; ".join(refused[:10]), messages.WARNING
            )


@admin.register(CommissionCredit)
class CommissionCreditAdmin(ReadOnlyAdmin):
    list_display = (
        "opportunity",
        "rep",
        "booking_amount",
        "currency",
        "rate",
        "credit_amount",
        "created_at",
    )
    list_filter = ("currency",)
    search_fields = ("opportunity__name", "rep__username")
    date_hierarchy = "created_at"

    def get_queryset(self, request: HttpRequest) -> QuerySet[CommissionCredit]:
        return selectors.commission_credit_list()


@admin.register(CommissionPlan)
class CommissionPlanAdmin(admin.ModelAdmin):
    list_display = ("rep", "rate", "updated_at")
    search_fields = ("rep__username", "rep__first_name", "rep__last_name")
    list_select_related = ("rep",)
    autocomplete_fields = ("rep",)


@admin.register(DemoReceipt)
class DemoReceiptAdmin(ReadOnlyAdmin):
    list_display = ("received_at", "kind", "webhook_id", "verified", "duplicate", "error")
    list_filter = ("verified", "kind", "duplicate")
    search_fields = ("webhook_id",)
    fields = ("received_at", "kind", "webhook_id", "verified", "duplicate", "error", "payload")
    readonly_fields = fields
