"""Background imports and exports in the admin: submit one, watch its progress (the list
refreshes itself while a job runs), download the export or the import's error report."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html

from core import errors
from core.parsing import ascii_id
from opportunities import policies

from . import services
from .models import BulkJob, Kind, Status


class BulkJobForm(forms.ModelForm):
    class Meta:
        model = BulkJob
        fields = ("kind", "input")
        help_texts = {
            "input": "For an import: a CSV in the format of the opportunity export (UTF-8).",
        }

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("kind") == Kind.IMPORT_OPPORTUNITIES and not data.get("input"):
            self.add_error("input", "Choose a CSV file to import.")
        if data.get("kind") == Kind.EXPORT_OPPORTUNITIES:
            data["input"] = None
        return data


@admin.register(BulkJob)
class BulkJobAdmin(admin.ModelAdmin):
    form = BulkJobForm
    list_display = ("__str__", "status", "progress", "counts", "created_by", "created_at", "file")
    list_filter = ("kind", "status")
    readonly_fields = (
        "kind",
        "status",
        "progress",
        "counts",
        "created_by",
        "created_at",
        "started_at",
        "finished_at",
        "file",
        "error",
    )
    change_list_template = "admin/jobs/bulkjob/change_list.html"

    # --- RevOps only; a job is submitted, never edited ------------------------------------
    def has_module_permission(self, request: HttpRequest) -> bool:
        return policies.is_revops(request.user)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return policies.is_revops(request.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return policies.is_revops(request.user)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return policies.is_revops(request.user) and (obj is None or obj.status != Status.RUNNING)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ("kind", "input") if obj is None else self.readonly_fields

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return () if obj is None else self.readonly_fields

    def save_model(self, request: HttpRequest, obj: BulkJob, form: Any, change: bool) -> None:
        try:
            services.job_submit(job=obj, actor=request.user)
        except errors.DomainError as exc:
            raise PermissionDenied(exc.detail) from exc

    def response_add(self, request: HttpRequest, obj: BulkJob, post_url_continue: Any = None):
        self.message_user(
            request, f"{obj} is queued: this list shows its progress.", messages.SUCCESS
        )
        return HttpResponseRedirect(reverse("admin:jobs_bulkjob_changelist"))

    # --- progress and files ----------------------------------------------------------------
    @admin.display(description="progress")
    def progress(self, job: BulkJob) -> str:
        if job.status == Status.QUEUED:
            return "waiting for a worker"
        percent = job.percent
        total = job.total if job.total is not None else "?"
        if percent is None:
            return f"{job.done} / {total} rows"
        return format_html(
            '<progress max="100" value="{}"></progress> {} / {} rows ({}%)',
            percent,
            job.done,
            total,
            percent,
        )

    @admin.display(description="result")
    def counts(self, job: BulkJob) -> str:
        if job.kind != Kind.IMPORT_OPPORTUNITIES:
            return "—"
        return f"{job.new} new, {job.updated} updated, {job.skipped} unchanged, {job.failed} failed"

    @admin.display(description="download")
    def file(self, job: BulkJob) -> str:
        if not job.output:
            return "—"
        label = "error report" if job.kind == Kind.IMPORT_OPPORTUNITIES else "CSV"
        url = reverse("admin:jobs_bulkjob_download", args=[job.pk])
        return format_html('<a href="{}">Download {}</a>', url, label)

    def get_urls(self) -> list[Any]:
        return [
            path(
                "<path:object_id>/download/",
                self.admin_site.admin_view(self.download_view),
                name="jobs_bulkjob_download",
            ),
            *super().get_urls(),
        ]

    def download_view(self, request: HttpRequest, object_id: str) -> FileResponse:
        if not policies.is_revops(request.user):
            raise PermissionDenied
        pk = ascii_id(unquote(object_id))
        job = BulkJob.objects.filter(pk=pk).first() if pk else None
        if job is None or not job.output:
            raise Http404("No such file.")
        return FileResponse(
            job.output.open("rb"),
            as_attachment=True,
            filename=str(job.output.name).rsplit("/", 1)[-1],
            content_type="text/csv",
        )

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> Any:
        running = BulkJob.objects.filter(status__in=[Status.QUEUED, Status.RUNNING]).exists()
        return super().changelist_view(
            request, {**(extra_context or {}), "refresh_seconds": 3 if running else None}
        )
