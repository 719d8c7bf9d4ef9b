"""Admin for documents (with an inline viewer), evidence requirements and the inbound
e-signature log. Writes go through ``documents.services``."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from core import errors
from opportunities import policies
from opportunities.admin.mixins import ReadOnlyAdmin, RevOpsReadOnlyAdmin

from . import services
from .models import Document, EvidenceRequirement, InboundEvent


def viewer(document: Document, *, height: int = 640) -> str:
    """The document shown in the page (PDF in a frame, images as images), with a link
    to download it; used by the document page and the approval queue."""
    url = reverse("documents:download", args=[document.pk])
    inline = f"{url}?inline=1"
    if document.content_type.startswith("image/"):
        body = format_html(
            '<img src="{}" alt="{}" style="max-width:100%;max-height:{}px">',
            inline,
            document.name,
            height,
        )
    else:
        body = format_html(
            '<iframe src="{}" title="{}" style="width:100%;height:{}px;border:1px solid #ccc"></iframe>',
            inline,
            document.name,
            height,
        )
    return format_html(
        '<div class="document-viewer" data-document-id="{}">{}<p><a href="{}">Download {}</a> '
        '<small style="word-break:break-all">SHA-256 {}</small></p></div>',
        document.pk,
        body,
        url,
        document.name,
        document.sha256,
    )


@admin.register(Document)
class DocumentAdmin(ReadOnlyAdmin):
    list_display = (
        "name",
        "kind",
        "opportunity",
        "source",
        "size",
        "uploaded_by",
        "uploaded_at",
        "removed_at",
    )
    list_filter = ("kind", "source", "esign_status")
    search_fields = ("name", "sha256", "esign_envelope_id", "opportunity__name")
    list_select_related = ("opportunity", "uploaded_by")
    readonly_fields = (
        "preview",
        "opportunity",
        "kind",
        "name",
        "size",
        "content_type",
        "sha256",
        "source",
        "esign_envelope_id",
        "esign_status",
        "uploaded_by",
        "uploaded_at",
        "removed_at",
        "removed_by",
    )
    exclude = ("file",)

    @admin.display(description="Document")
    def preview(self, obj: Document) -> str:
        return viewer(obj)


@admin.register(EvidenceRequirement)
class EvidenceRequirementAdmin(admin.ModelAdmin):
    list_display = ("kind", "min_amount", "created_by", "created_at")
    fields = ("kind", "min_amount")

    def has_module_permission(self, request: HttpRequest) -> bool:
        return policies.is_revops(request.user)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return policies.is_revops(request.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return policies.is_revops(request.user)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # delete and add again: a requirement is one fact

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return policies.is_revops(request.user)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        try:
            created = services.evidence_requirement_create(
                actor=request.user, kind=obj.kind, min_amount=obj.min_amount
            )
        except errors.DomainError as exc:
            messages.error(request, exc.detail)
            return
        obj.pk = created.pk

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        services.evidence_requirement_delete(actor=request.user, requirement=obj)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for row in queryset:
            services.evidence_requirement_delete(actor=request.user, requirement=row)


@admin.register(InboundEvent)
class InboundEventAdmin(RevOpsReadOnlyAdmin):
    list_display = (
        "received_at",
        "scheme",
        "event_id",
        "verified",
        "status",
        "event_type",
        "envelope_id",
        "opportunity",
    )
    list_filter = ("scheme", "status", "verified")
    search_fields = ("event_id", "envelope_id")
    list_select_related = ("opportunity",)
