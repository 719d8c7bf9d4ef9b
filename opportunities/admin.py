"""The Django admin: RevOps' Closed-Won approval queue and every record (issue 6).

The stage is read-only everywhere here. It changes only through
``services.opportunity_transition(source="admin")`` — from the queue's Approve / Reject
buttons, the bulk actions, the transition buttons on a deal, and imports (STYLE rule 5) —
and so do all other writes: saving a deal, an account, a contact or a product in the
admin calls the same service as the UI and the API, so the locks and checks hold here
too.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import unquote
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from import_export.admin import ImportExportModelAdmin
from simple_history.admin import SimpleHistoryAdmin

from closedwon.admin_mixins import ReadOnlyAdmin, RevOpsReadOnlyAdmin

from . import admin_views, approval_queue, deal_page, errors, roles, services
from .models import (
    Account,
    Approval,
    ClosedWonApproval,
    Contact,
    Decision,
    DecisionEmail,
    LineItem,
    Opportunity,
    Product,
    StageChange,
    StageRequirement,
    line_items_prefetch,
)
from .resources import AccountResource, ContactResource, OpportunityResource
from .services import EDITABLE_FIELDS, GATED_FIELDS
from .stages import LOCKED_STAGES, Source, Stage
from .templatetags.closedwon_ui import money
from .templatetags.closedwon_web import format_moment

admin.site.site_header = "closedwon"
admin.site.site_title = "closedwon admin"
admin.site.index_title = "RevOps"


# --- saving through the services ------------------------------------------------------------


class ServiceSaveMixin:
    """Admin saves go through the domain services; a refusal is shown, nothing is saved."""

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)  # type: ignore[misc]
        except errors.DomainError as exc:
            lines = admin_views.error_lines(exc) if exc.errors else []
            self.message_user(  # type: ignore[attr-defined]
                request,
                f"Not saved: {exc.detail} {' '.join(lines)}".strip(),
                messages.ERROR,
            )
            return HttpResponseRedirect(request.get_full_path())


class RevOpsImportExport:
    """Import and export are RevOps tools."""

    def has_import_permission(self, request):
        return roles.is_revops(request.user)

    def has_export_permission(self, request):
        return roles.is_revops(request.user)


# --- accounts, contacts, products -------------------------------------------------------------


@admin.register(Account)
class AccountAdmin(RevOpsImportExport, ServiceSaveMixin, ImportExportModelAdmin):
    resource_classes = [AccountResource]
    list_display = ("name", "domain", "billing_country", "owner", "external_id", "updated_at")
    list_filter = ("billing_country", "owner")
    search_fields = ("name", "domain", "external_id")
    list_select_related = ("owner",)
    autocomplete_fields = ("owner",)
    show_full_result_count = False

    def save_model(self, request, obj, form, change):
        data = {f: form.cleaned_data[f] for f in services.ACCOUNT_FIELDS if f in form.cleaned_data}
        if change:
            saved = services.account_update(account=obj, actor=request.user, data=data)
        else:
            saved = services.account_create(actor=request.user, data=data)
        obj.pk = saved.pk

    def get_export_queryset(self, request):
        return super().get_export_queryset(request).select_related("owner")


@admin.register(Contact)
class ContactAdmin(RevOpsImportExport, ServiceSaveMixin, ImportExportModelAdmin):
    resource_classes = [ContactResource]
    list_display = ("__str__", "account", "email", "title")
    list_filter = ("title",)
    search_fields = ("first_name", "last_name", "email", "account__name")
    list_select_related = ("account",)
    autocomplete_fields = ("account",)
    show_full_result_count = False

    def save_model(self, request, obj, form, change):
        data = {f: form.cleaned_data[f] for f in services.CONTACT_FIELDS if f in form.cleaned_data}
        if change:
            saved = services.contact_update(contact=obj, actor=request.user, data=data)
        else:
            saved = services.contact_create(actor=request.user, data=data)
        obj.pk = saved.pk

    def get_export_queryset(self, request):
        return super().get_export_queryset(request).select_related("account")


@admin.register(Product)
class ProductAdmin(ServiceSaveMixin, admin.ModelAdmin):
    list_display = ("sku", "name", "active")
    list_filter = ("active",)
    search_fields = ("sku", "name")

    def save_model(self, request, obj, form, change):
        data = {f: form.cleaned_data[f] for f in services.PRODUCT_FIELDS if f in form.cleaned_data}
        if change:
            saved = services.product_update(product=obj, actor=request.user, data=data)
        else:
            saved = services.product_create(actor=request.user, data=data)
        obj.pk = saved.pk


# --- opportunities ---------------------------------------------------------------------------


class LineItemInline(admin.TabularInline):
    model = LineItem
    extra = 0
    autocomplete_fields = ("product",)
    fields = ("product", "seats", "unit_price")

    def _locked(self, obj) -> bool:
        return obj is not None and obj.stage in LOCKED_STAGES

    def has_add_permission(self, request, obj=None):
        return not self._locked(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return not self._locked(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return not self._locked(obj) and super().has_delete_permission(request, obj)


class OpportunityAdminForm(forms.ModelForm):
    # The version the page was loaded at: saving over someone else's change is refused
    # (``stale_version``) instead of silently overwriting it.
    loaded_version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = Opportunity
        fields = list(EDITABLE_FIELDS)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["loaded_version"].initial = self.instance.version


class StageFilter(admin.SimpleListFilter):
    title = "stage"
    parameter_name = "stage"

    def lookups(self, request, model_admin):
        return Stage.choices

    def queryset(self, request, queryset):
        if self.value() in Stage.values:
            return queryset.filter(stage=self.value())
        return queryset


@admin.register(Opportunity)
class OpportunityAdmin(
    RevOpsImportExport, ServiceSaveMixin, ImportExportModelAdmin, SimpleHistoryAdmin
):
    resource_classes = [OpportunityResource]
    form = OpportunityAdminForm
    change_form_template = "admin/opportunities/opportunity/change_form.html"
    list_display = (
        "name",
        "account",
        "owner",
        "stage_badge",
        "amount_display",
        "close_date",
        "updated_at",
    )
    list_filter = (StageFilter, "type", "currency")
    search_fields = ("name", "account__name", "contract_id", "po_number")
    list_select_related = ("account", "owner")
    readonly_fields = (
        "stage",
        "version",
        "closed_at",
        "loss_reason",
        "loss_detail",
        "created_at",
        "updated_at",
    )
    autocomplete_fields = ("account", "owner", "primary_contact")
    inlines = [LineItemInline]
    show_full_result_count = False
    fieldsets = (
        (None, {"fields": ("name", "account", "owner", "type", "stage")}),
        (
            "Deal",
            {
                "fields": (
                    ("amount", "currency"),
                    "close_date",
                    ("contract_id", "po_number"),
                    "primary_contact",
                    ("contract_start_date", "term_months"),
                    "loaded_version",
                )
            },
        ),
        (
            "Record",
            {
                "fields": (
                    "version",
                    ("loss_reason", "loss_detail"),
                    "closed_at",
                    ("created_at", "updated_at"),
                ),
                "classes": ("collapse",),
            },
        ),
    )

    @admin.display(description="Stage", ordering="stage")
    def stage_badge(self, obj: Opportunity) -> str:
        return format_html(
            '<span class="cw-stage cw-stage-{}">{}</span>', obj.stage, obj.stage_label
        )

    @admin.display(description="Amount", ordering="amount")
    def amount_display(self, obj: Opportunity) -> str:
        return _money(obj.amount, obj.currency)

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and obj.stage in LOCKED_STAGES:
            # Locked while pending approval and after Closed-Won (SPEC §2); the service
            # refuses the write anyway (record_locked), this just doesn't offer it.
            fields += list(GATED_FIELDS)
        return fields

    def revert_disabled(self, request, obj=None):
        # simple-history's "revert" writes old values with save(): no service, no lock.
        return True

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if request.method == "POST":
            raise PermissionDenied  # view only: see revert_disabled
        return super().history_form_view(request, object_id, version_id, extra_context)

    def get_urls(self):
        urls = super().get_urls()
        return [
            path(
                "<path:object_id>/transition/<str:name>/",
                admin_views.staff_view(self.admin_site, self.transition_view),
                name="opportunities_opportunity_transition",
            ),
            *urls,
        ]

    def transition_view(self, request: HttpRequest, object_id: str, name: str) -> HttpResponse:
        opportunity = self.get_object(request, unquote(object_id))
        if opportunity is None or not self.has_view_permission(request, opportunity):
            raise PermissionDenied
        change_url = reverse("admin:opportunities_opportunity_change", args=[opportunity.pk])
        return admin_views.transition_view(
            request,
            self.admin_site,
            opportunity=opportunity,
            name=name,
            done_url=change_url,
            back_url=change_url,
            refused_url=change_url,
        )

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and obj.pk:
            context["transitions"] = deal_page.transition_buttons(obj, request.user)
            context["queue_url"] = deal_page.queue_url_for(obj)
        return super().render_change_form(request, context, add, change, form_url, obj)

    # Saving: the deal and its line items in one service call, so one version bump and
    # one history entry per save, and the locks of SPEC §2 apply.
    def save_model(self, request, obj, form, change):
        pass

    def save_formset(self, request, form, formset, change):
        pass

    def save_related(self, request, form, formsets, change):
        line_items = _line_items_from(formsets)
        if change:
            data = {f: form.cleaned_data[f] for f in form.changed_data if f in EDITABLE_FIELDS}
            saved = services.opportunity_update(
                opportunity=form.instance.pk,
                actor=request.user,
                data=data,
                line_items=line_items,
                expected_version=form.cleaned_data.get("loaded_version"),
                source=Source.ADMIN,
            )
        else:
            data = {
                f: v
                for f, v in form.cleaned_data.items()
                if f in EDITABLE_FIELDS and v not in (None, "")
            }
            saved = services.opportunity_create(
                actor=request.user, data=data, line_items=line_items, source=Source.ADMIN
            )
        form.instance.pk = saved.pk

    def construct_change_message(self, request, form, formsets, add=False):
        # The field history (simple-history) records what changed; the admin log says who.
        return [{"added": {}}] if add else [{"changed": {"fields": form.changed_data}}]

    def get_export_queryset(self, request):

        return (
            super()
            .get_export_queryset(request)
            .select_related("account", "owner", "primary_contact")
            .prefetch_related(line_items_prefetch())
        )


def _line_items_from(formsets) -> list[dict[str, Any]] | None:
    """The deal's line items as the inline formset leaves them, or None when untouched."""
    for formset in formsets:
        if formset.model is not LineItem:
            continue
        if not formset.has_changed():
            return None
        items = []
        for form in formset.forms:
            data = getattr(form, "cleaned_data", None)
            if not data or (formset.can_delete and formset._should_delete_form(form)):
                continue
            items.append(
                {
                    "id": form.instance.pk,
                    "product": data["product"],
                    "seats": data["seats"],
                    "unit_price": data.get("unit_price"),
                }
            )
        return items
    return None


# --- the Closed-Won approval queue --------------------------------------------------------------


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
        # Owners with deals waiting: from the queue summary's query (one per request).
        return approval_queue.queue_summary(request)["owners"]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(opportunity__owner_id=self.value())
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


class QueueChangeList(ChangeList):
    """Evaluates the gate for the whole page at once (constant queries, see
    ``approval_queue.gate_facts_for_page``)."""

    def get_results(self, request):
        super().get_results(request)
        rows = list(self.result_list)
        unmet = approval_queue.gate_unmet_for_page([row.opportunity for row in rows])
        for row in rows:
            row.gate_unmet = unmet.get(row.opportunity_id, [])


@admin.register(ClosedWonApproval)
class ClosedWonApprovalAdmin(RevOpsReadOnlyAdmin):
    """The queue RevOps work in all day: oldest request first, why each deal is or is not
    ready, and Approve / Reject that run the transition service."""

    list_display = (
        "deal",
        "account",
        "owner",
        "amount_display",
        "contract_po",
        "submitted_by_display",
        "waiting",
        "gate",
    )
    list_display_links = ("deal",)
    list_filter = (DecisionFilter, OwnerFilter, AmountBandFilter, WaitingFilter)
    search_fields = (
        "opportunity__name",
        "opportunity__account__name",
        "opportunity__contract_id",
        "opportunity__po_number",
    )
    search_help_text = "Search by deal, account, contract ID or PO number."
    ordering = ("submitted_at", "id")
    list_per_page = 50
    show_full_result_count = False
    actions = ["approve_selected", "reject_selected"]
    # Facet counts would add a COUNT per filter option to every page load.
    show_facets = admin.ShowFacets.NEVER
    change_list_template = "admin/opportunities/closedwonapproval/change_list.html"

    # --- permissions: RevOps only; nothing here is added, edited or deleted by hand
    def has_approve_permission(self, request):
        return roles.is_revops(request.user)

    def get_queryset(self, request):
        return approval_queue.queue_queryset()

    def get_changelist(self, request, **kwargs):
        return QueueChangeList

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            "title": "Closed-Won approval queue",
            "queue_summary": approval_queue.queue_summary(request),
            **(extra_context or {}),
        }
        return super().changelist_view(request, extra_context)

    # --- columns
    @admin.display(description="Deal", ordering="opportunity__name")
    def deal(self, obj: Approval) -> str:
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
        return _person(obj.opportunity.owner)

    @admin.display(description="Amount", ordering="opportunity__amount")
    def amount_display(self, obj: Approval) -> str:
        return format_html(
            "<span class='cw-amount'>{}</span>",
            _money(obj.opportunity.amount, obj.opportunity.currency),
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
            _person(obj.submitted_by),
            format_moment(obj.submitted_at),
        )

    @admin.display(description="Waiting", ordering="submitted_at")
    def waiting(self, obj: Approval) -> str:
        if obj.decision != Decision.PENDING:
            end = obj.decided_at or timezone.now()
            return format_html(
                "<span class='cw-muted'>waited {}</span>",
                approval_queue.waiting_label(end - obj.submitted_at),
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
            "<span class='cw-wait cw-wait-{}'>{}</span>", level, approval_queue.waiting_label(age)
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
            unmet = approval_queue.gate_unmet_for_page([obj.opportunity])[obj.opportunity_id]
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
                admin_views.staff_view(self.admin_site, self.approve_view),
                name="opportunities_closedwonapproval_approve",
            ),
            path(
                "<path:object_id>/reject/",
                admin_views.staff_view(self.admin_site, self.reject_view),
                name="opportunities_closedwonapproval_reject",
            ),
            *urls,
        ]

    def _approval(self, request: HttpRequest, object_id: str) -> ClosedWonApproval:
        approval = self.get_object(request, unquote(object_id))
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
            **deal_page.context(approval, request.user),
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
            return admin_views.denied_response(
                request,
                self.admin_site,
                errors.PermissionDenied("Only RevOps can approve or reject Closed-Won."),
                approval.opportunity,
            )
        denied = admin_views.permission_error(name, approval.opportunity, request.user)
        if denied is not None:
            return admin_views.denied_response(
                request, self.admin_site, denied, approval.opportunity
            )
        return None

    def approve_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if request.method != "POST":
            return HttpResponse(status=405, headers={"Allow": "POST"})
        approval = self._approval(request, object_id)
        refused = self._guard(request, approval, "approve")
        if refused is not None:
            return refused
        deal_url = reverse("admin:opportunities_closedwonapproval_change", args=[approval.pk])
        if approval.decision != Decision.PENDING:
            messages.error(request, "This request was already decided.")
            return HttpResponseRedirect(deal_url)
        return admin_views.transition_view(
            request,
            self.admin_site,
            opportunity=approval.opportunity,
            name="approve",
            done_url=deal_url,
            back_url=deal_url,
            refused_url=deal_url,
        )

    def reject_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        approval = self._approval(request, object_id)
        refused = self._guard(request, approval, "reject")
        if refused is not None:
            return refused
        deal_url = reverse("admin:opportunities_closedwonapproval_change", args=[approval.pk])
        if approval.decision != Decision.PENDING:
            messages.error(request, "This request was already decided.")
            return HttpResponseRedirect(deal_url)
        return admin_views.transition_view(
            request,
            self.admin_site,
            opportunity=approval.opportunity,
            name="reject",
            done_url=reverse("admin:opportunities_closedwonapproval_changelist"),
            back_url=deal_url,
            refused_url=deal_url,
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
        form = admin_views.ReasonForm(request.POST if "apply" in request.POST else None)
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
        result, exc = admin_views.run_transition(
            request,
            opportunity=opportunity,
            name=name,
            expected_version=opportunity.version,
            **params,
        )
        if exc is not None:
            refused.append(
                (opportunity, admin_views.refusal_reason(exc, opportunity, request.user))
            )
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


@admin.register(StageChange)
class StageChangeAdmin(ReadOnlyAdmin):
    list_display = ("opportunity", "transition", "from_stage", "to_stage", "actor", "source", "at")
    list_filter = ("transition", "to_stage", "source")
    search_fields = ("opportunity__name", "reason")
    list_select_related = ("opportunity", "actor")
    readonly_fields = [f.name for f in StageChange._meta.fields]
    show_full_result_count = False


@admin.register(Approval)
class ApprovalAdmin(ReadOnlyAdmin):
    """The log of every Closed-Won request; RevOps decide them in the queue."""

    list_display = (
        "opportunity",
        "decision",
        "submitted_by",
        "submitted_at",
        "decided_by",
        "decided_at",
    )
    list_filter = ("decision",)
    search_fields = ("opportunity__name", "reason")
    list_select_related = ("opportunity", "submitted_by", "decided_by")
    readonly_fields = [f.name for f in Approval._meta.fields]
    show_full_result_count = False

    def get_model_perms(self, request):
        # Not listed on the admin index: "Closed-Won approvals" (the queue) is the one place
        # RevOps go; this log stays reachable by its URL and from the queue.
        return {}


@admin.register(DecisionEmail)
class DecisionEmailAdmin(RevOpsReadOnlyAdmin):
    list_display = ("subject", "to", "status", "attempts", "created_at", "sent_at")
    list_filter = ("status",)
    search_fields = ("subject", "to")
    readonly_fields = [f.name for f in DecisionEmail._meta.fields]
    show_full_result_count = False


@admin.register(StageRequirement)
class StageRequirementAdmin(admin.ModelAdmin):
    list_display = ("stage", "field", "created_by", "created_at")
    list_filter = ("stage",)
    list_select_related = ("created_by",)
    exclude = ("created_by",)

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


# --- helpers ----------------------------------------------------------------------------------


def _money(amount: Decimal | None, currency: str) -> str:
    """Money as everywhere else: ``$120,000``, ``$1,234.50``, ``1,000 CHF``."""
    return money(amount, currency)


def _person(user: Any) -> str:
    if user is None:
        return "—"
    return user.get_full_name() or user.get_username()
