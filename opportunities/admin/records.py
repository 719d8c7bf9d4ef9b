"""Read-only audit records (stage changes, approvals) and the
RevOps-managed stage requirements."""

from django.contrib import admin

from ..models import (
    Approval,
    StageChange,
    StageRequirement,
)
from .mixins import ReadOnlyAdmin


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
