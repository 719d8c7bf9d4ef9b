"""Background imports and exports: submitted in the admin, run by a real Celery worker,
progress on the job row, the export and the import's error report downloaded."""

from __future__ import annotations

import csv
import io
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from core import errors
from jobs import services
from jobs.models import BulkJob, Kind, Status
from opportunities.models import Opportunity
from tests.admin.conftest import client_for
from tests.celery_worker import CeleryWorker, purge_queues
from tests.factories import AccountFactory, ContactFactory, ProductFactory

HEADER = "name,account_external_id,owner,amount,close_date,primary_contact_email,line_items"


def csv_file(owner: str, count: int, bad: int | None = None) -> bytes:
    lines = [HEADER]
    for n in range(count):
        who = "nobody" if n == bad else owner
        lines.append(
            f"Job deal {n},crm-1,{who},1000.00,2030-01-31,pat@acme.example,CW-CORE x 2 @ 500.00"
        )
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture
def storage(settings, tmp_path):
    root = tmp_path / "documents"
    settings.STORAGES = {
        **settings.STORAGES,
        "documents": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(root)},
        },
    }
    return root


@pytest.fixture
def worker(storage, tmp_path, django_db_setup):
    purge_queues()
    worker = CeleryWorker(
        env={"DOCUMENT_ROOT": str(storage)}, log_dir=tmp_path, beat=False, name="jobs"
    ).start()
    yield worker
    worker.stop()
    purge_queues()


def wait_for(job: BulkJob, worker: CeleryWorker, timeout: float = 60) -> BulkJob:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.status in (Status.DONE, Status.FAILED):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job still {job.status}:\n{worker.log()[-3000:]}")


@pytest.mark.django_db(transaction=True)
def test_an_import_and_an_export_run_on_the_worker_with_progress_and_downloads(rep, revops, worker):
    account = AccountFactory(external_id="crm-1")
    ContactFactory(account=account, email="pat@acme.example")
    ProductFactory(sku="CW-CORE")
    client = client_for(revops)

    response = client.post(
        reverse("admin:jobs_bulkjob_add"),
        {
            "kind": Kind.IMPORT_OPPORTUNITIES,
            "input": SimpleUploadedFile(
                "deals.csv", csv_file(rep.username, 1200, bad=700), content_type="text/csv"
            ),
        },
    )
    assert response.status_code == 302, response.content[:2000]
    job = wait_for(BulkJob.objects.get(kind=Kind.IMPORT_OPPORTUNITIES), worker)

    assert job.status == Status.DONE, job.error
    assert (job.total, job.done, job.new, job.failed) == (1200, 1200, 1199, 1)
    assert Opportunity.objects.filter(name__startswith="Job deal").count() == 1199
    listing = client.get(reverse("admin:jobs_bulkjob_changelist")).content.decode()
    assert "1200 / 1200 rows" in listing and "Download error report" in listing
    report = client.get(reverse("admin:jobs_bulkjob_download", args=[job.pk]))
    rows = list(csv.reader(io.StringIO(report.getvalue().decode())))
    assert rows[1][:4] == ["702", "701", "does_not_exist", "owner"]

    client.post(reverse("admin:jobs_bulkjob_add"), {"kind": Kind.EXPORT_OPPORTUNITIES})
    export = wait_for(BulkJob.objects.get(kind=Kind.EXPORT_OPPORTUNITIES), worker)
    assert export.status == Status.DONE, export.error
    assert export.done == export.total == 1199
    body = client.get(reverse("admin:jobs_bulkjob_download", args=[export.pk])).getvalue()
    exported = list(csv.DictReader(io.StringIO(body.decode())))
    assert len(exported) == 1199 and exported[0]["line_items"] == "CW-CORE x 2 @ 500.00"


@pytest.mark.django_db
def test_only_revops_submit_jobs_or_download_their_files(rep, revops, storage):
    with pytest.raises(errors.DomainError) as refused:
        services.job_submit(job=BulkJob(kind=Kind.EXPORT_OPPORTUNITIES), actor=rep)
    assert getattr(refused.value, "code", None) == "permission_denied"
    job = services.job_submit(job=BulkJob(kind=Kind.EXPORT_OPPORTUNITIES), actor=revops)
    services.job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == Status.DONE and job.output
    assert client_for(rep).get(
        reverse("admin:jobs_bulkjob_download", args=[job.pk])
    ).status_code in (302, 403)
    assert (
        client_for(revops).get(reverse("admin:jobs_bulkjob_download", args=[job.pk])).status_code
        == 200
    )
    assert (
        client_for(revops).get(reverse("admin:jobs_bulkjob_download", args=[999999])).status_code
        == 404
    )


@pytest.mark.django_db
def test_an_import_without_a_file_is_refused_and_a_job_runs_once(revops, storage):
    with pytest.raises(errors.DomainError) as refused:
        services.job_submit(job=BulkJob(kind=Kind.IMPORT_OPPORTUNITIES), actor=revops)
    assert getattr(refused.value, "code", None) == "invalid"
    job = services.job_submit(job=BulkJob(kind=Kind.EXPORT_OPPORTUNITIES), actor=revops)
    services.job_run(job_id=job.pk)
    finished = BulkJob.objects.get(pk=job.pk).finished_at
    services.job_run(job_id=job.pk)  # a redelivered message
    assert BulkJob.objects.get(pk=job.pk).finished_at == finished
