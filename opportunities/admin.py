"""Admin registrations. The stage is read-only everywhere in the admin: it changes only
through ``services.opportunity_transition`` (STYLE rule 5)."""

from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from .models import (
    Account,
    Approval,
    Contact,
    LineItem,
    Opportunity,
    Product,
    StageChange,
    StageRequirement,
)


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ("name", "domain", "billing_country", "owner", "external_id", "updated_at")
    list_filter = ("billing_country", "owner")
    search_fields = ("name", "domain", "external_id")
    list_select_related = ("owner",)
    autocomplete_fields = ("owner",)


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ("__str__", "account", "email", "title")
    list_filter = ("title",)
    search_fields = ("first_name", "last_name", "email", "account__name")
    list_select_related = ("account",)
    autocomplete_fields = ("account",)


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ("sku", "name", "active")
    list_filter = ("active",)
    search_fields = ("sku", "name")


class LineItemInline(admin.TabularInline):
    model = LineItem
    extra = 0
    autocomplete_fields = ("product",)


@admin.register(Opportunity)
class OpportunityAdmin(SimpleHistoryAdmin):
    list_display = (
        "name",
        "account",
        "owner",
        "stage",
        "amount",
        "currency",
        "close_date",
        "updated_at",
    )
    list_filter = ("stage", "type", "owner", "currency")
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
    date_hierarchy = "close_date"


@admin.register(StageChange)
class StageChangeAdmin(admin.ModelAdmin):
    list_display = ("opportunity", "transition", "from_stage", "to_stage", "actor", "source", "at")
    list_filter = ("transition", "to_stage", "source")
    search_fields = ("opportunity__name", "reason")
    list_select_related = ("opportunity", "actor")
    readonly_fields = [f.name for f in StageChange._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Approval)
class ApprovalAdmin(admin.ModelAdmin):
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

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(StageRequirement)
class StageRequirementAdmin(admin.ModelAdmin):
    list_display = ("stage", "field", "created_by", "created_at")
    list_filter = ("stage",)
    exclude = ("created_by",)

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
