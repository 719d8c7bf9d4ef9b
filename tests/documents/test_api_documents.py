"""GET/POST /api/v1/opportunities/{id}/documents/, GET/DELETE /documents/{id}/ and the
download: uploads, every refusal storing nothing, the permission matrix, the locks."""

from __future__ import annotations

import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from documents.models import Document
from documents.samples import sample_pdf
from tests.api.conftest import problem
from tests.documents.conftest import PNG, stored_files
from tests.factories import make_user, ready_opportunity

pytestmark = pytest.mark.django_db


def url(opportunity) -> str:
    return f"/api/v1/opportunities/{opportunity.pk}/documents/"


def upload(client, opportunity, data: bytes, name: str = "po.pdf", kind: str = "purchase_order"):
    return client.post(
        url(opportunity), {"kind": kind, "file": SimpleUploadedFile(name, data)}, format="multipart"
    )


def test_the_owner_uploads_a_pdf(api, rep, opportunity, pdf, local_documents):
    response = upload(api(rep), opportunity, pdf, "PO 4711.pdf")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["kind"] == "purchase_order"
    assert body["name"] == "PO 4711.pdf"
    assert body["sha256"] == hashlib.sha256(pdf).hexdigest()
    assert body["size"] == len(pdf)
    assert body["content_type"] == "application/pdf"
    assert body["source"] == "upload"
    assert body["uploaded_by"] == rep.pk
    assert response["Location"] == f"/api/v1/documents/{body['id']}/"
    [stored] = stored_files(local_documents)
    assert stored.read_bytes() == pdf


def test_revops_upload_to_any_deal_and_other_reps_may_not(api, rep2, revops, opportunity, pdf):
    assert upload(api(revops), opportunity, PNG, "scan.png").status_code == 201
    problem(upload(api(rep2), opportunity, pdf), 403, "permission_denied")
    problem(upload(api(None), opportunity, pdf), 401, "not_authenticated")
    assert Document.objects.count() == 1


@pytest.mark.parametrize(
    ("data", "name", "status", "code"),
    [
        (b"just text, called a PDF", "contract.pdf", 415, "file_type_not_allowed"),
        (b"%PDF-1.7\nnot really", "contract.pdf", 415, "file_type_not_allowed"),
        (b"", "empty.pdf", 415, "file_type_not_allowed"),
    ],
)
def test_refusals_store_nothing(api, rep, opportunity, local_documents, data, name, status, code):
    body = problem(upload(api(rep), opportunity, data, name), status, code)
    assert body["errors"][0]["field"] == "file"
    assert Document.objects.count() == 0
    assert stored_files(local_documents) == []


def test_a_file_one_byte_over_20_mb_is_413_and_nothing_is_stored(
    api, rep, opportunity, local_documents
):
    limit = 20 * 1024 * 1024
    data = sample_pdf(["big"])
    data = data + b"\n" * (limit + 1 - len(data))
    problem(upload(api(rep), opportunity, data, "big.pdf"), 413, "file_too_large")
    assert Document.objects.count() == 0
    assert stored_files(local_documents) == []


def test_a_path_in_the_name_never_leaves_the_deal_folder(
    api, rep, opportunity, pdf, local_documents
):
    # Django's multipart parser reduces the name to its last component before the app
    # sees it; what is stored is that base name under the deal's own folder.
    response = upload(api(rep), opportunity, pdf, "../../../../etc/passwd.pdf")
    assert response.status_code == 201
    assert response.json()["name"] == "passwd.pdf"
    [stored] = stored_files(local_documents)
    assert stored.is_relative_to(local_documents / "opportunities" / str(opportunity.pk))


def test_control_characters_never_reach_the_stored_name(api, rep, opportunity, pdf):
    # Over multipart Django drops them; a name given any other way (an e-signature
    # event) is refused with 400 invalid_file_name (tests/documents/test_esign.py).
    response = upload(api(rep), opportunity, pdf, "bell\x07\x00.pdf")
    assert response.status_code == 201
    assert response.json()["name"] == "bell.pdf"


def test_an_unknown_kind_is_400(api, rep, opportunity, pdf):
    problem(upload(api(rep), opportunity, pdf, kind="selfie"), 400, "invalid")
    assert Document.objects.count() == 0


def test_every_reader_lists_and_downloads_anonymous_is_401(
    api, rep, rep2, revops, opportunity, pdf
):
    doc_id = upload(api(rep), opportunity, pdf).json()["id"]
    for user in (rep, rep2, revops):
        listed = api(user).get(url(opportunity))
        assert listed.status_code == 200
        assert [d["id"] for d in listed.json()["results"]] == [doc_id]
        got = api(user).get(f"/api/v1/documents/{doc_id}/download/")
        assert got.status_code == 200
        assert b"".join(got.streaming_content) == pdf
        assert got["Content-Type"] == "application/pdf"
        assert got["X-Content-Type-Options"] == "nosniff"
    problem(api(None).get(f"/api/v1/documents/{doc_id}/download/"), 401, "not_authenticated")
    problem(api(None).get(url(opportunity)), 401, "not_authenticated")
    problem(api(rep).get("/api/v1/documents/999999/download/"), 404, "not_found")


def test_removal_is_refused_while_pending_or_won(api, rep, pdf):
    for stage in ("pending_approval", "closed_won"):
        opportunity = ready_opportunity(rep, stage=stage)
        doc_id = upload(api(rep), opportunity, pdf).json()["id"]  # adding is allowed
        problem(api(rep).delete(f"/api/v1/documents/{doc_id}/"), 409, "record_locked")
        assert Document.objects.get(pk=doc_id).removed_at is None


def test_the_owner_removes_before_submitting_and_the_file_stays(
    api, rep, rep2, opportunity, pdf, local_documents
):
    doc_id = upload(api(rep), opportunity, pdf).json()["id"]
    problem(api(rep2).delete(f"/api/v1/documents/{doc_id}/"), 403, "permission_denied")
    assert api(rep).delete(f"/api/v1/documents/{doc_id}/").status_code == 204
    assert api(rep).get(url(opportunity)).json()["results"] == []
    assert Document.objects.get(pk=doc_id).removed_at is not None
    assert len(stored_files(local_documents)) == 1  # links frozen in earlier approvals work


def test_a_user_without_read_permission_gets_403(api, opportunity, pdf, rep):
    doc_id = upload(api(rep), opportunity, pdf).json()["id"]
    nobody = make_user("rep", "no_groups")
    nobody.groups.clear()
    problem(api(nobody).get(f"/api/v1/documents/{doc_id}/download/"), 403, "permission_denied")
