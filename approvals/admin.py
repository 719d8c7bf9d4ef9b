"""Policy admin: RevOps edit a draft's rules and steps, see which open and pending deals
would be routed differently, and publish it as the next version. Published versions are
read-only: "Copy to a new draft" starts the next change."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html

from core import errors
from opportunities import policies

from . import selectors, services
from .models import (
    ApprovalPolicy,
    ApprovalRule,
    ApprovalStep,
    ApproverGroup,
    PublishedPolicyLocked,
)


def _editable(obj: Any) -> bool:
    """A new rule (``obj`` None) is editable: its policy can only be a draft
    (``formfield_for_foreignkey``), and the model refuses a published one anyway."""
    policy = obj.policy if isinstance(obj, ApprovalRule) else obj
    return policy is None or policy.is_draft


class _RefusesPublished:
    """An edit that reaches a version published meanwhile (between the form and its
    POST) is refused by the models: say so instead of failing the request."""

    def changeform_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return super().changeform_view(request, *args, **kwargs)  # type: ignore[misc]
        except PublishedPolicyLocked as exc:
            self.message_user(request, exc.detail, messages.ERROR)  # type: ignore[attr-defined]
            return HttpResponseRedirect(request.path)


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
class ApprovalPolicyAdmin(_RefusesPublished, admin.ModelAdmin):
    list_display = ("__str__", "version", "effective_at", "rules_summary", "in_force")
    inlines = [ApprovalRuleInline]
    actions = ["publish", "copy_to_draft"]
    readonly_fields = ("version", "effective_at", "based_on", "created_by", "route_preview")
    fields = ("name", "version", "effective_at", "based_on", "created_by", "route_preview")

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and (obj is None or obj.is_draft)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and (obj is None or obj.is_draft)

    def get_queryset(self, request: HttpRequest) -> Any:
        # The list's "Rules" and "In force" columns read these: no query per row.
        return selectors.with_in_force(selectors.with_rules(super().get_queryset(request)))

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    @admin.display(description="Rules")
    def rules_summary(self, obj: ApprovalPolicy) -> str:
        return "; ".join(
            f"{r.name} → {', '.join(s.group.name for s in r.steps.all())}" for r in obj.rules.all()
        )

    @admin.display(description="In force", boolean=True)
    def in_force(self, obj: ApprovalPolicy) -> bool:
        return bool(getattr(obj, "in_force", False))

    @admin.display(description="Routes that would change")
    def route_preview(self, obj: ApprovalPolicy) -> str:
        if obj.pk is None or not obj.is_draft:
            return "—"
        preview = services.preview_changes(obj)
        changed = preview.rows
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
            "{}<p class='help'>Pending deals keep the route they were submitted with.</p>",
            rows,
            format_html(
                "<p class='help'>The first {} of {} deals shown.</p>", len(changed), preview.total
            )
            if preview.total > len(changed)
            else "",
        )

    # Both actions change the policy: only whoever may change it sees them (the services
    # check the same permission again, for every other caller).
    @admin.action(
        description="Publish the selected draft as the next version", permissions=["change"]
    )
    def publish(self, request: HttpRequest, queryset: Any) -> None:
        for policy in queryset:
            try:
                published = services.policy_publish(policy, actor=request.user)
            except errors.DomainError as exc:
                self.message_user(request, f"{policy}: {exc.detail}", messages.ERROR)
            else:
                self.message_user(request, f"Published {published}: in force now.")

    @admin.action(description="Copy to a new draft", permissions=["add"])
    def copy_to_draft(self, request: HttpRequest, queryset: Any) -> HttpResponseRedirect | None:
        draft = None
        for policy in queryset:
            try:
                draft = services.policy_copy_to_draft(policy, actor=request.user)
            except errors.DomainError as exc:
                self.message_user(request, f"{policy}: {exc.detail}", messages.ERROR)
                return None
        if draft is not None:
            return HttpResponseRedirect(
                reverse("admin:approvals_approvalpolicy_change", args=[draft.pk])
            )
        return None


@admin.register(ApprovalRule)
class ApprovalRuleAdmin(_RefusesPublished, admin.ModelAdmin):
    list_display = ("name", "policy", "order")
    inlines = [ApprovalStepInline]

    def has_module_permission(self, request):
        return False  # edited from its policy

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and _editable(obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and _editable(obj)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "policy":
            # A rule is added to a draft only: published versions are never edited.
            kwargs["queryset"] = ApprovalPolicy.objects.filter(version__isnull=True)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class ApproverGroupForm(forms.ModelForm):
    chat_webhook_url = forms.URLField(
        max_length=500,
        required=False,
        assume_scheme="https",
        help_text="A Slack-compatible incoming webhook: https, on a public address.",
    )

    class Meta:
        model = ApproverGroup
        fields = ("group", "chat_webhook_url", "escalation_group")

    def clean_chat_webhook_url(self) -> str:
        try:
            return services.chat_webhook_url_check(self.cleaned_data.get("chat_webhook_url") or "")
        except errors.DomainError as exc:
            raise forms.ValidationError(exc.detail, code=exc.code) from exc

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        group, escalation = data.get("group"), data.get("escalation_group")
        if group is not None and escalation is not None and group.pk == escalation.pk:
            self.add_error("escalation_group", "Escalate to another group.")
        return data


@admin.register(ApproverGroup)
class ApproverGroupAdmin(admin.ModelAdmin):
    list_display = ("group", "escalation_group", "chat_webhook_url")
    list_select_related = ("group", "escalation_group")
    form = ApproverGroupForm

    def has_add_permission(self, request):
        return super().has_add_permission(request) and self._may_edit(request)

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and self._may_edit(request)

    @staticmethod
    def _may_edit(request: HttpRequest) -> bool:
        return policies.approval_policy_permission_error(request.user) is None

    def save_model(self, request, obj, form, change):
        # Through the service: the same permission and URL checks as every other caller.
        saved = services.approver_group_save(
            actor=request.user,
            group=form.cleaned_data["group"],
            chat_webhook_url=form.cleaned_data.get("chat_webhook_url") or "",
            escalation_group=form.cleaned_data.get("escalation_group"),
            instance=obj if change else None,
        )
        obj.pk = saved.pk
