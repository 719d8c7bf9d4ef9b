"""Exchange rates in the admin: RevOps add, correct, import and export them."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from import_export.admin import ImportExportModelAdmin

from core.export_formats import StreamedExportMixin

from .models import ExchangeRate
from .resources import ExchangeRateResource
from .services import ADD_PERM, can_manage_rates


@admin.register(ExchangeRate)
class ExchangeRateAdmin(StreamedExportMixin, ImportExportModelAdmin):
    resource_classes = [ExchangeRateResource]
    list_display = (
        "currency",
        "rate",
        "reporting_currency",
        "valid_from",
        "created_by",
        "created_at",
    )
    list_filter = ("currency",)
    search_fields = ("currency",)
    date_hierarchy = "valid_from"
    readonly_fields = ("created_by", "created_at")
    fields = ("currency", "rate", "valid_from", "created_by", "created_at")
    list_select_related = ("created_by",)

    @admin.display(description="in")
    def reporting_currency(self, obj: ExchangeRate) -> str:
        return str(settings.REPORTING_CURRENCY)

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    def has_import_permission(self, request):
        return can_manage_rates(request.user)

    def has_export_permission(self, request):
        return bool(request.user.is_active and request.user.has_perm(ADD_PERM))
