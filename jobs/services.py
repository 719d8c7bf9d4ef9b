"""Background imports and exports of opportunities on the Celery worker.

A file too large for a web request (gunicorn's timeout is 60 s) is submitted as a
:class:`~jobs.models.BulkJob`: the row is written with the uploaded file, the task is
enqueued when the transaction commits, and the worker runs the same code as the
``import_opportunities`` / ``export_opportunities`` commands — the batched import service
(every row through the same gate and services, a bad row reported with its line number
and codes) and the streamed, formula-safe export — updating ``done`` about once a second
so the admin shows progress. The import's per-row error report and the export's CSV are
saved in the private ``documents`` storage and downloaded from the admin.
"""

from __future__ import annotations

import csv
import io
import logging
import tempfile
import time
from typing import Any

from django.core.files import File
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core import errors
from core.export_formats import resource_rows, stream_delimited
from opportunities import policies
from opportunities.services import imports

from . import tasks
from .models import BulkJob, Kind, Status

logger = logging.getLogger(__name__)

# Seconds a job may run: under the Redis broker's one-hour visibility timeout, so a
# running job is never handed to a second worker.
PROGRESS_EVERY = 1.0


def job_submit(*, job: BulkJob, actor: Any) -> BulkJob:
    """Save ``job`` (its ``kind`` set; ``input`` an uploaded CSV for an import) as queued by
    ``actor`` and enqueue it when the transaction commits. Raises ``permission_denied``
    for anyone but RevOps and ``invalid`` (on ``input``) for an import without a file."""
    if not policies.is_revops(actor):
        raise errors.PermissionDenied("Background imports and exports are RevOps tools.")
    if job.kind == Kind.IMPORT_OPPORTUNITIES and not job.input:
        raise errors.InvalidInput(
            errors=[errors.FieldError("required", "input", "Choose a CSV file to import.")]
        )
    job.created_by = actor
    job.status = Status.QUEUED
    job.save()
    transaction.on_commit(lambda: tasks.run.delay(job.pk))
    return job


def job_run(*, job_id: int) -> None:
    """Run a queued job once (a redelivered message for a job already claimed does
    nothing). A job that raises is ``failed`` with the error kept; rows already imported
    stay (each batch is its own transaction)."""
    claimed = BulkJob.objects.filter(pk=job_id, status=Status.QUEUED).update(
        status=Status.RUNNING, started_at=timezone.now()
    )
    if not claimed:
        return
    job = BulkJob.objects.select_related("created_by").get(pk=job_id)
    try:
        if job.kind == Kind.IMPORT_OPPORTUNITIES:
            _run_import(job)
        else:
            _run_export(job)
    except Exception as exc:
        logger.exception("Background job %s failed", job_id)
        BulkJob.objects.filter(pk=job_id).update(
            status=Status.FAILED, finished_at=timezone.now(), error=f"{type(exc).__name__}: {exc}"
        )
        return
    BulkJob.objects.filter(pk=job_id).update(status=Status.DONE, finished_at=timezone.now())


class _Progress:
    """Writes ``done`` (and the counts) to the job row at most once a second."""

    def __init__(self, job: BulkJob) -> None:
        self.job, self.last = job, 0.0

    def __call__(
        self, done: int, counts: dict[str, int] | None = None, final: bool = False
    ) -> None:
        now = time.monotonic()
        if final or now - self.last >= PROGRESS_EVERY:
            self.last = now
            BulkJob.objects.filter(pk=self.job.pk).update(done=done, **(counts or {}))


def _text(job: BulkJob) -> io.TextIOWrapper:
    """The uploaded CSV as text, from a file object of its own (a BOM is ignored)."""
    raw = job.input.storage.open(str(job.input.name), "rb")
    return io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")


def _run_import(job: BulkJob) -> None:
    with _text(job) as text:
        total = sum(1 for _ in csv.DictReader(text))
    BulkJob.objects.filter(pk=job.pk).update(total=total)
    progress = _Progress(job)
    lines: dict[int, int] = {}
    with tempfile.TemporaryFile("w+", encoding="utf-8", newline="") as report_file:
        writer = csv.writer(report_file)
        writer.writerow(["line", "row", "code", "field", "message"])

        def on_row(outcome: imports.RowOutcome) -> None:
            line = lines.pop(outcome.number, outcome.number + 1)
            for error in outcome.errors:
                writer.writerow(
                    [
                        line,
                        outcome.number,
                        error.get("code"),
                        error.get("field"),
                        error.get("message"),
                    ]
                )

        counts: dict[str, int] = {}

        def on_progress(done: int) -> None:
            progress(done, counts)

        with _text(job) as text:
            report = imports.import_rows(
                kind="opportunities",
                actor=job.created_by,
                rows=imports.csv_rows(text, lines),
                progress=on_progress,
                on_row=on_row,
                keep_failed=0,
            )
        counts = {
            "new": report.new,
            "updated": report.updated,
            "skipped": report.skipped,
            "failed": report.failures,
        }
        progress(report.rows, counts, final=True)
        report_file.seek(0)
        job.output.save(f"import-{job.pk}-report.csv", File(report_file), save=False)
        BulkJob.objects.filter(pk=job.pk).update(output=job.output.name)


def _run_export(job: BulkJob) -> None:
    # The admin's export resource: the same columns and cells as the export page.
    from opportunities.admin.resources import OpportunityResource

    resource = OpportunityResource()
    queryset = resource.get_queryset()
    BulkJob.objects.filter(pk=job.pk).update(total=queryset.count())
    progress = _Progress(job)
    done = 0

    def rows() -> Any:
        nonlocal done
        for row in resource_rows(resource, queryset):
            yield row
            done += 1
            progress(done)

    with tempfile.TemporaryFile("w+", encoding="utf-8", newline="") as out:
        for chunk in stream_delimited(resource.get_export_headers(), rows()):
            out.write(chunk)
        out.seek(0)
        job.output.save(f"opportunities-{job.pk}.csv", File(out), save=False)
    BulkJob.objects.filter(pk=job.pk).update(output=job.output.name, done=F("total"))
