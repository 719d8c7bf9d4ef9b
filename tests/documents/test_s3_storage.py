"""The S3 path: django-storages against moto's S3 server (a real HTTP server on
127.0.0.1 started here), configured the way production is — DOCUMENT_STORAGE_URL."""

from __future__ import annotations

import hashlib
import socket

import boto3
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from moto.server import ThreadedMotoServer

from documents.models import Document
from tests.api.conftest import problem

pytestmark = pytest.mark.django_db

BUCKET = "closedwon-documents"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def s3_endpoint():
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3(s3_endpoint, settings, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=item["Key"])
    from closedwon.settings import _document_storage

    settings.STORAGES = {
        **settings.STORAGES,
        "documents": _document_storage(
            f"s3://{BUCKET}/evidence?endpoint_url={s3_endpoint}&region=us-east-1"
        ),
    }
    return client


def keys(client) -> list[str]:
    return [o["Key"] for o in client.list_objects_v2(Bucket=BUCKET).get("Contents", [])]


def test_uploads_and_downloads_go_through_s3(api, rep, rep2, opportunity, pdf, s3):
    response = api(rep).post(
        f"/api/v1/opportunities/{opportunity.pk}/documents/",
        {"kind": "purchase_order", "file": SimpleUploadedFile("po.pdf", pdf)},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    [key] = keys(s3)
    assert key.startswith(f"evidence/opportunities/{opportunity.pk}/") and key.endswith("/po.pdf")
    stored = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    assert hashlib.sha256(stored).hexdigest() == response.json()["sha256"]
    got = api(rep2).get(f"/api/v1/documents/{response.json()['id']}/download/")
    assert got.status_code == 200
    assert b"".join(got.streaming_content) == pdf


def test_a_refused_upload_puts_nothing_in_the_bucket(api, rep, opportunity, s3):
    response = api(rep).post(
        f"/api/v1/opportunities/{opportunity.pk}/documents/",
        {"kind": "purchase_order", "file": SimpleUploadedFile("po.pdf", b"not a pdf")},
        format="multipart",
    )
    problem(response, 415, "file_type_not_allowed")
    assert keys(s3) == [] and Document.objects.count() == 0


def test_objects_are_not_public(opportunity, pdf, s3, rep, api):
    api(rep).post(
        f"/api/v1/opportunities/{opportunity.pk}/documents/",
        {"kind": "purchase_order", "file": SimpleUploadedFile("po.pdf", pdf)},
        format="multipart",
    )
    [key] = keys(s3)
    acl = s3.get_object_acl(Bucket=BUCKET, Key=key)
    assert all("AllUsers" not in str(g.get("Grantee")) for g in acl["Grants"])
