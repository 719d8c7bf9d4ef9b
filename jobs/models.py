"""One background import or export: what was asked, how far it got, what it produced."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from documents.storage import DocumentStorage


class Kind(models.TextChoices):
    IMPORT_OPPORTUNITIES = "import_opportunities", "Import opportunities (CSV)"
    EXPORT_OPPORTUNITIES = "export_opportunities", "Export opportunities (CSV)"


class Status(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


def job_path(job: BulkJob, filename: str) -> str:
    return f"jobs/{timezone.now():%Y/%m}/{filename}"


class BulkJob(models.Model):
    """``total`` and ``done`` count rows (``total`` is known once the input is read);
    ``input`` is the uploaded CSV of an import, ``output`` the exported CSV or the import's
    per-row error report. Files live in the private ``documents`` storage and are served
    only through the admin's download view."""

    kind = models.CharField(max_length=32, choices=Kind.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="bulk_jobs"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    total = models.PositiveIntegerField(null=True, blank=True)
    done = models.PositiveIntegerField(default=0)
    new = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    input = models.FileField(
        upload_to=job_path, storage=DocumentStorage(), max_length=500, blank=True
    )
    output = models.FileField(
        upload_to=job_path, storage=DocumentStorage(), max_length=500, blank=True
    )
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "background import / export"
        verbose_name_plural = "background imports and exports"

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"

    @property
    def percent(self) -> int | None:
        if self.status == Status.DONE:
            return 100
        if not self.total:
            return None
        return min(100, int(100 * self.done / self.total))
