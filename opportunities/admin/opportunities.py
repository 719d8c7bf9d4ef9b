"""The opportunity admin: every save through the services, the stage read-only, the
transition buttons running the transition service."""

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.urls import path, reverse
from django.utils.html import format_html
from import_export.admin import ImportExportModelAdmin
from simple_history.admin import SimpleHistoryAdmin

from core import formatting

from .. import services
from ..models import (
    LineItem,
    Opportunity,
    line_items_prefetch,
)
from ..stages import EDITABLE_FIELDS, GATED_FIELDS, LOCKED_STAGES, Source, Stage
from . import decisions, queue_page
from .mixins import EstimatedCountPaginator, RevOpsImportExport, ServiceSaveMixin
from .resources import OpportunityResource


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


class CurrencyFilter(admin.SimpleListFilter):
    """The currencies deals use. Django's field filter runs ``SELECT DISTINCT currency``
    over the whole table on every page (a quarter of a second at 1,000,000 deals); the
    list of currencies in use changes rarely, so it is cached for ten minutes."""

    title = "currency"
    parameter_name = "currency__exact"
    CACHE_KEY = "admin:opportunity-currencies"

    def lookups(self, request, model_admin):
        codes = cache.get(self.CACHE_KEY)
        if codes is None:
            codes = sorted(
                Opportunity.objects.order_by().values_list("currency", flat=True).distinct()
            )
            cache.set(self.CACHE_KEY, codes, 600)
        return [(code, code) for code in codes]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(currency=self.value())
        return queryset


@admin.register(Opportunity)
class OpportunityAdmin(
    RevOpsImportExport, ServiceSaveMixin, ImportExportModelAdmin, SimpleHistoryAdmin
):
    resource_classes = [OpportunityResource]
    paginator = EstimatedCountPaginator
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
    list_filter = (StageFilter, "type", CurrencyFilter)
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
        return formatting.money_short(obj.amount, obj.currency)

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and obj.stage in LOCKED_STAGES:
            # Locked while pending approval and after Closed-Won; the service
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
                decisions.staff_view(self.admin_site, self.transition_view),
                name="opportunities_opportunity_transition",
            ),
            *urls,
        ]

    def transition_view(self, request: HttpRequest, object_id: str, name: str) -> HttpResponse:
        opportunity = self.get_object(request, unquote(object_id))
        if opportunity is None or not self.has_view_permission(request, opportunity):
            raise PermissionDenied
        change_url = reverse("admin:opportunities_opportunity_change", args=[opportunity.pk])
        return decisions.transition_view(
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
            context["transitions"] = queue_page.transition_buttons(obj, request.user)
            context["queue_url"] = queue_page.queue_url_for(obj)
        return super().render_change_form(request, context, add, change, form_url, obj)

    # Saving: the deal and its line items in one service call, so one version bump and
    # one history entry per save, and the locks of the targets apply.
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
