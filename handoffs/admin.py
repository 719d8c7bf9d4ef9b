"""The handoff console for RevOps: every handoff with its attempts, filters by status and
kind, and "Retry now", which calls the same service as the API; webhook endpoints (add,
rotate the secret, replay, health), every webhook delivery, the e-mail / chat outbox and
the won deals not yet handed off. Outbox rows are read-only: they are an audit trail,
changed only by services."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from core import errors
from opportunities.admin.mixins import ReadOnlyAdmin

from . import endpoints, selectors, services, sla, targets
from .events import EVENT_TYPES
from .models import (
    AttemptOutcome,
    Channel,
    CommissionCredit,
    CommissionPlan,
    DemoReceipt,
    Handoff,
    HandoffAttempt,
    HandoffStatus,
    OpenHandoff,
    OutgoingMessage,
    WebhookDelivery,
    WebhookEndpoint,
)
from .urlguard import url_problem


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
        # Compensation is private here too: a staff rep (an approver) sees the handoffs of
        # their own deals only, as in the API.
        return selectors.handoffs_visible_to(request.user, selectors.handoff_list())

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


# --- webhook endpoints, deliveries, messages, open handoffs --------------------------------

HEALTH_WINDOW_DAYS = 7


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(max_length=500, required=False, assume_scheme="https")
    event_types = forms.MultipleChoiceField(
        choices=[(t, t) for t in EVENT_TYPES],
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )

    class Meta:
        model = WebhookEndpoint
        fields = ("url", "description", "event_types", "active")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        instance = self.instance
        if instance.pk and instance.environment_kind:
            for name in ("url", "event_types"):
                if name in self.fields:
                    self.fields[name].disabled = True
                    self.fields[name].required = False
        elif "url" in self.fields:
            self.fields["url"].required = True

    def clean_url(self) -> str:
        url = (self.cleaned_data.get("url") or "").strip()
        if url and not self.instance.environment_kind:
            problem = url_problem(url)
            if problem:
                raise forms.ValidationError(problem, code="url_not_allowed")
        return url


class ReplayForm(forms.Form):
    since = forms.DateTimeField(
        help_text="Send again every delivery created at or after this time (UTC).",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = (
        "__str__",
        "url_shown",
        "events",
        "active",
        "success_rate",
        "failing_since",
        "last_error_short",
        "disabled_reason",
    )
    list_filter = ("active",)
    search_fields = ("url", "description")
    actions = ["rotate_secret"]
    readonly_fields = (
        "environment_kind",
        "secrets_overview",
        "replay_link",
        "failing_since",
        "last_success_at",
        "last_failure_at",
        "last_error",
        "disabled_at",
        "disabled_reason",
        "created_by",
        "created_at",
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[WebhookEndpoint]:
        since = timezone.now() - dt.timedelta(days=HEALTH_WINDOW_DAYS)
        recent = Q(deliveries__attempt_rows__at__gte=since)
        return (
            super()
            .get_queryset(request)
            .annotate(
                ok=Count(
                    "deliveries__attempt_rows",
                    filter=recent & Q(deliveries__attempt_rows__outcome=AttemptOutcome.DELIVERED),
                ),
                tried=Count(
                    "deliveries__attempt_rows",
                    filter=recent
                    & Q(
                        deliveries__attempt_rows__outcome__in=[
                            AttemptOutcome.DELIVERED,
                            AttemptOutcome.FAILED,
                            AttemptOutcome.INTERRUPTED,
                        ]
                    ),
                ),
            )
        )

    @admin.display(description="URL")
    def url_shown(self, obj: WebhookEndpoint) -> str:
        if obj.environment_kind:
            return targets.environment_target(obj.environment_kind)[0] or "(not set)"
        return obj.url

    @admin.display(description="event types")
    def events(self, obj: WebhookEndpoint) -> str:
        return ", ".join(obj.event_types or [])

    @admin.display(description=f"success ({HEALTH_WINDOW_DAYS} days)")
    def success_rate(self, obj: WebhookEndpoint) -> str:
        tried = getattr(obj, "tried", 0)
        if not tried:
            return "—"
        return f"{100 * getattr(obj, 'ok', 0) / tried:.0f} % of {tried}"

    @admin.display(description="last error")
    def last_error_short(self, obj: WebhookEndpoint) -> str:
        return obj.last_error[:80]

    @admin.display(description="signing secrets")
    def secrets_overview(self, obj: WebhookEndpoint) -> str:
        if obj.environment_kind:
            return "HANDOFF_<KIND>_SECRET (environment)"
        now = timezone.now()
        rows = [
            f"created {s.created_at:%Y-%m-%d %H:%M}"
            + (f", expires {s.expires_at:%Y-%m-%d %H:%M}" if s.expires_at else ", current")
            for s in obj.secrets.all()
            if s.expires_at is None or s.expires_at > now
        ]
        return "; ".join(rows) or "none (use “Rotate secret”)"

    @admin.display(description="replay")
    def replay_link(self, obj: WebhookEndpoint) -> str:
        if not obj.pk:
            return "—"
        url = reverse("admin:handoffs_webhookendpoint_replay", args=[obj.pk])
        return format_html('<a class="button" href="{}">Replay deliveries…</a>', url)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.environment_kind:
            return False
        return super().has_delete_permission(request, obj)

    def save_model(
        self, request: HttpRequest, obj: WebhookEndpoint, form: Any, change: bool
    ) -> None:
        data = form.cleaned_data
        try:
            if change:
                env = bool(obj.environment_kind)
                endpoints.webhook_endpoint_update(
                    endpoint=obj,
                    actor=request.user,
                    url=None if env else data.get("url"),
                    event_types=None if env else data.get("event_types"),
                    description=data.get("description", ""),
                    active=data.get("active"),
                )
            else:
                created, secret = endpoints.webhook_endpoint_create(
                    actor=request.user,
                    url=data.get("url", ""),
                    event_types=data.get("event_types") or [],
                    description=data.get("description", ""),
                    active=data.get("active", True),
                )
                obj.pk = created.pk
                self.message_user(
                    request,
                    f"Signing secret (shown once, copy it now): {secret}",
                    messages.WARNING,
                )
        except errors.DomainError as exc:
            # The form already checked what it could; what is left is shown, not raised.
            self.message_user(request, f"Not saved: {exc.detail}", messages.ERROR)

    def delete_model(self, request: HttpRequest, obj: WebhookEndpoint) -> None:
        endpoints.webhook_endpoint_delete(endpoint=obj, actor=request.user)

    def has_rotate_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(endpoints.ROTATE_PERM)

    @admin.action(description="Rotate secret (old one stays valid 24 h)", permissions=["rotate"])
    def rotate_secret(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        for endpoint in queryset:
            try:
                secret = endpoints.webhook_endpoint_rotate_secret(
                    endpoint=endpoint, actor=request.user
                )
            except errors.DomainError as exc:
                self.message_user(request, f"{endpoint}: {exc.detail}", messages.WARNING)
            else:
                self.message_user(
                    request,
                    f"{endpoint}: new signing secret (shown once, copy it now): {secret}",
                    messages.WARNING,
                )

    def get_urls(self) -> list[Any]:
        return [
            path(
                "<uuid:pk>/replay/",
                self.admin_site.admin_view(self.replay_view),
                name="handoffs_webhookendpoint_replay",
            ),
            *super().get_urls(),
        ]

    def replay_view(self, request: HttpRequest, pk: Any) -> HttpResponse:
        endpoint = WebhookEndpoint.objects.filter(pk=pk).first()
        if endpoint is None or not request.user.has_perm(endpoints.REPLAY_PERM):
            raise Http404
        form = ReplayForm(
            request.POST or None,
            initial={"since": (timezone.now() - dt.timedelta(days=7)).strftime("%Y-%m-%dT%H:%M")},
        )
        if request.method == "POST" and form.is_valid():
            try:
                ids = endpoints.webhook_endpoint_replay(
                    endpoint=endpoint, actor=request.user, since=form.cleaned_data["since"]
                )
            except errors.DomainError as exc:
                self.message_user(request, exc.detail, messages.ERROR)
            else:
                self.message_user(
                    request,
                    f"{len(ids)} deliveries queued again (same webhook-ids).",
                    messages.SUCCESS,
                )
                return redirect("admin:handoffs_webhookendpoint_change", endpoint.pk)
        context = {
            **self.admin_site.each_context(request),
            "endpoint": endpoint,
            "form": form,
            "title": "Replay deliveries",
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/handoffs/webhookendpoint/replay.html", context)


class _ReplayableAdmin(ReadOnlyAdmin):
    actions = ["replay"]

    def has_replay_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(endpoints.REPLAY_PERM)

    @admin.action(description="Send again (same id)", permissions=["replay"])
    def replay(self, request: HttpRequest, queryset: QuerySet[Handoff]) -> None:
        done, refused = 0, []
        for row in queryset:
            try:
                endpoints.delivery_replay(delivery=row, actor=request.user)
            except errors.DomainError as exc:
                refused.append(f"{str(row.pk)[:8]}: {exc.detail}")
            else:
                done += 1
        if done:
            self.message_user(request, f"{done} queued again.", messages.SUCCESS)
        if refused:
            self.message_user(request, "Not sent: " + "; ".join(refused[:10]), messages.WARNING)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(_ReplayableAdmin):
    list_display = (
        "short_id",
        "event_type",
        "endpoint",
        "opportunity",
        "status_badge",
        "attempts",
        "next_attempt_at",
        "last_error_short",
        "created_at",
    )
    list_filter = ("status", "event_type", "endpoint")
    list_select_related = ("endpoint", "opportunity")
    search_fields = ("opportunity__name",)
    date_hierarchy = "created_at"
    inlines = [HandoffAttemptInline]
    fields = (
        "id",
        "event_type",
        "event_id",
        "endpoint",
        "opportunity",
        "status",
        "attempts",
        "next_attempt_at",
        "last_status_code",
        "last_error",
        "delivered_at",
        "retried_by",
        "retried_at",
        "created_at",
        "payload_pretty",
    )
    readonly_fields = fields
    short_id = HandoffAdmin.short_id
    status_badge = HandoffAdmin.status_badge
    last_error_short = HandoffAdmin.last_error_short
    payload_pretty = HandoffAdmin.payload_pretty


@admin.register(OutgoingMessage)
class OutgoingMessageAdmin(_ReplayableAdmin):
    list_display = (
        "short_id",
        "channel",
        "topic",
        "summary",
        "status_badge",
        "attempts",
        "last_error_short",
        "created_at",
    )
    list_filter = ("channel", "topic", "status")
    date_hierarchy = "created_at"
    inlines = [HandoffAttemptInline]
    fields = (
        "id",
        "channel",
        "topic",
        "dedupe_key",
        "opportunity",
        "status",
        "attempts",
        "next_attempt_at",
        "last_error",
        "delivered_at",
        "created_at",
        "summary",
    )
    readonly_fields = fields
    short_id = HandoffAdmin.short_id
    status_badge = HandoffAdmin.status_badge
    last_error_short = HandoffAdmin.last_error_short

    @admin.display(description="message")
    def summary(self, obj: Handoff) -> str:
        payload = obj.payload or {}
        if obj.channel == Channel.EMAIL:
            return f"to {', '.join(payload.get('to') or [])}: {payload.get('subject', '')}"
        return str(payload.get("text", ""))[:120]


class OverdueFilter(admin.SimpleListFilter):
    title = "SLA"
    parameter_name = "sla"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("overdue", "Overdue"), ("in_time", "Within SLA")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        q = sla.overdue_q(timezone.now())
        if self.value() == "overdue":
            return queryset.filter(q)
        if self.value() == "in_time":
            return queryset.exclude(q)
        return queryset


@admin.register(OpenHandoff)
class OpenHandoffAdmin(ReadOnlyAdmin):
    """Won deals not yet billed / provisioned / onboarded / credited, oldest first."""

    list_display = (
        "opportunity",
        "account",
        "kind",
        "status_badge",
        "endpoint",
        "created_at",
        "due",
        "overdue",
        "last_error_short",
    )
    list_filter = (OverdueFilter, "kind", "status")
    search_fields = ("opportunity__name", "opportunity__account__name")
    ordering = ("created_at",)
    actions = None
    status_badge = HandoffAdmin.status_badge
    last_error_short = HandoffAdmin.last_error_short

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return sla.open_handoffs()

    @admin.display(description="account")
    def account(self, obj: Handoff) -> str:
        opportunity = obj.opportunity
        return opportunity.account.name if opportunity and opportunity.account else ""

    @admin.display(description="due")
    def due(self, obj: Handoff) -> dt.datetime:
        return sla.due_at(obj)

    @admin.display(description="overdue", boolean=True)
    def overdue(self, obj: Handoff) -> bool:
        return sla.due_at(obj) < timezone.now()
