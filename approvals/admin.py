"""Policy admin: RevOps edit a draft's rules and steps, see which open and pending deals
would be routed differently, and publish it as the next version. Published versions are
read-only: "Copy to a new draft" starts the next change."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html

from core import errors

from . import services
from .models import ApprovalPolicy, ApprovalRule, ApprovalStep, ApproverGroup


def _editable(obj: Any) -> bool:
    policy = obj.policy if isinstance(obj, ApprovalRule) else obj
    return policy is None or policy.is_draft


class ApprovalStepInline(admin.TabularInline):
    model = ApprovalStep
    extra = 1
    fields = ("order", "group", "mode", "count", "sla_hours")

    def has_add_permission(self, request, obj=None):
        return _editable(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return _editable(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return _editable(obj) and super().has_delete_permission(request, obj)


class ApprovalRuleInline(admin.StackedInline):
    model = ApprovalRule
    extra = 0
    show_change_link = True
    fields = (
        ("order", "name"),
        ("amount_gte", "max_discount_pct_gte", "term_months_gt"),
        ("type_in", "billing_country_in", "currency_not_reporting"),
    )

    def has_add_permission(self, request, obj=None):
        return _editable(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return _editable(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return _editable(obj) and super().has_delete_permission(request, obj)


@admin.register(ApprovalPolicy)
class ApprovalPolicyAdmin(admin.ModelAdmin):
    list_display = ("__str__", "version", "effective_at", "rules_summary", "in_force")
    inlines = [ApprovalRuleInline]
    actions = ["publish", "copy_to_draft"]
    readonly_fields = ("version", "effective_at", "based_on", "created_by", "route_preview")
    fields = ("name", "version", "effective_at", "based_on", "created_by", "route_preview")

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and (obj is None or obj.is_draft)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and (obj is None or obj.is_draft)

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    @admin.display(description="Rules")
    def rules_summary(self, obj: ApprovalPolicy) -> str:
        return "; ".join(
            f"{r.name} → {', '.join(s.group.name for s in r.steps.all())}"
            for r in obj.rules.prefetch_related("steps__group")
        )

    @admin.display(description="In force", boolean=True)
    def in_force(self, obj: ApprovalPolicy) -> bool:
        current = services.current_policy()
        return current is not None and current.pk == obj.pk

    @admin.display(description="Routes that would change")
    def route_preview(self, obj: ApprovalPolicy) -> str:
        if obj.pk is None or not obj.is_draft:
            return "—"
        changed = services.preview_changes(obj)
        if not changed:
            return "No open or pending deal would be routed differently."
        rows = format_html(
            "".join(
                "<tr><td><a href='{}'>{}</a></td><td>{}</td><td>{}</td><td>{}</td></tr>"
                for _ in changed
            ),
            *[
                v
                for c in changed
                for v in (
                    reverse("admin:opportunities_opportunity_change", args=[c["opportunity"].pk]),
                    c["opportunity"].name,
                    c["stage"],
                    c["now"],
                    c["draft"],
                )
            ],
        )
        return format_html(
            "<table class='cw-route-preview'><thead><tr><th>Deal</th><th>Stage</th>"
            "<th>Now</th><th>Under this draft</th></tr></thead><tbody>{}</tbody></table>"
            "<p class='help'>Pending deals keep the route they were submitted with.</p>",
            rows,
        )

    @admin.action(description="Publish the selected draft as the next version")
    def publish(self, request: HttpRequest, queryset: Any) -> None:
        for policy in queryset:
            try:
                published = services.policy_publish(policy)
            except errors.DomainError as exc:
                self.message_user(request, f"{policy}: {exc.detail}", messages.ERROR)
            else:
                self.message_user(request, f"Published {published}: in force now.")

    @admin.action(description="Copy to a new draft")
    def copy_to_draft(self, request: HttpRequest, queryset: Any) -> HttpResponseRedirect | None:
        draft = None
        for policy in queryset:
            draft = services.policy_copy_to_draft(policy, actor=request.user)
        if draft is not None:
            return HttpResponseRedirect(
                reverse("admin:approvals_approvalpolicy_change", args=[draft.pk])
            )
        return None


@admin.register(ApprovalRule)
class ApprovalRuleAdmin(admin.ModelAdmin):
    list_display = ("name", "policy", "order")
    inlines = [ApprovalStepInline]

    def has_module_permission(self, request):
        return False  # edited from its policy

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and _editable(obj)


@admin.register(ApproverGroup)
class ApproverGroupAdmin(admin.ModelAdmin):
    list_display = ("group", "escalation_group", "chat_webhook_url")
