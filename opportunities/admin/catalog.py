"""Admins of accounts, contacts and products: saves go through the services; CSV
import and export for RevOps."""

from django.contrib import admin
from import_export.admin import ImportExportModelAdmin

from .. import services
from ..models import (
    Account,
    Contact,
    Product,
)
from ..stages import ACCOUNT_FIELDS, CONTACT_FIELDS, PRODUCT_FIELDS
from .mixins import RevOpsImportExport, ServiceSaveMixin
from .resources import AccountResource, ContactResource


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
        data = {f: form.cleaned_data[f] for f in ACCOUNT_FIELDS if f in form.cleaned_data}
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
        data = {f: form.cleaned_data[f] for f in CONTACT_FIELDS if f in form.cleaned_data}
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
        data = {f: form.cleaned_data[f] for f in PRODUCT_FIELDS if f in form.cleaned_data}
        if change:
            saved = services.product_update(product=obj, actor=request.user, data=data)
        else:
            saved = services.product_create(actor=request.user, data=data)
        obj.pk = saved.pk


# --- opportunities ---------------------------------------------------------------------------
