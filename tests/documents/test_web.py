"""The deal page's documents panel, the signed-in download and the signed links."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from documents.models import Document
from documents.selectors import documents_snapshot
from documents.signing import signed_download_url
from tests.documents.conftest import stored_files
from tests.factories import ready_opportunity

pytestmark = pytest.mark.django_db


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def web_upload(client, opportunity, data, name="po.pdf", kind="purchase_order"):
    return client.post(
        f"/documents/opportunity/{opportunity.pk}/upload/",
        {"kind": kind, "file": SimpleUploadedFile(name, data)},
    )


def test_the_owner_sees_the_upload_form_and_uploads(rep, opportunity, pdf):
    client = signed_in(rep)
    page = client.get(f"/opportunities/{opportunity.pk}/").content.decode()
    assert 'id="sec-documents"' in page and 'name="file"' in page
    response = web_upload(client, opportunity, pdf, "PO-1.pdf")
    assert response.status_code == 302
    assert response["Location"] == f"/opportunities/{opportunity.pk}/#documents"
    doc = Document.objects.get()
    page = client.get(f"/opportunities/{opportunity.pk}/").content.decode()
    assert "PO-1.pdf" in page and f"/documents/{doc.pk}/download/" in page


def test_another_rep_sees_the_list_but_no_form_and_cannot_upload(rep, rep2, opportunity, pdf):
    web_upload(signed_in(rep), opportunity, pdf, "PO-1.pdf")
    client = signed_in(rep2)
    page = client.get(f"/opportunities/{opportunity.pk}/").content.decode()
    assert "PO-1.pdf" in page and 'name="file"' not in page
    web_upload(client, opportunity, pdf, "PO-2.pdf")
    assert Document.objects.count() == 1


def test_a_refused_upload_says_why_and_stores_nothing(rep, opportunity, local_documents):
    client = signed_in(rep)
    response = web_upload(client, opportunity, b"plain text", "po.pdf")
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert "not attached" in page
    assert Document.objects.count() == 0 and stored_files(local_documents) == []


def test_removal_from_the_page_is_locked_while_pending(rep, pdf):
    opportunity = ready_opportunity(rep, stage="pending_approval")
    client = signed_in(rep)
    web_upload(client, opportunity, pdf)
    doc = Document.objects.get()
    assert "Remove" not in client.get(f"/opportunities/{opportunity.pk}/").content.decode()
    client.post(f"/documents/{doc.pk}/remove/")
    doc.refresh_from_db()
    assert doc.removed_at is None


def test_download_permission_matrix(rep, rep2, revops, opportunity, pdf):
    web_upload(signed_in(rep), opportunity, pdf)
    doc = Document.objects.get()
    url = f"/documents/{doc.pk}/download/"
    for user in (rep, rep2, revops):  # owner, another rep (reps read every deal), RevOps
        response = signed_in(user).get(url)
        assert response.status_code == 200
        assert b"".join(response.streaming_content) == pdf
        assert "attachment" in response["Content-Disposition"]
        assert "no-store" in response["Cache-Control"]
    anonymous = Client().get(url)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/accounts/login/")
    inline = signed_in(revops).get(url + "?inline=1")
    assert "inline" in inline["Content-Disposition"]
    assert inline["X-Frame-Options"] == "SAMEORIGIN"  # the admin queue's viewer frames it


def test_a_signed_link_works_without_a_session_until_it_expires(rep, opportunity, pdf, settings):
    settings.SITE_URL = ""
    web_upload(signed_in(rep), opportunity, pdf)
    doc = Document.objects.get()
    link = signed_download_url(doc.pk, expires_in=dt.timedelta(hours=1))
    assert link.startswith("/documents/signed/")
    response = Client().get(link)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == pdf
    with time_machine.travel(dt.datetime.now(tz=dt.UTC) + dt.timedelta(hours=1, seconds=1)):
        assert Client().get(link).status_code == 410
    assert Client().get(link[:-3] + "abc/").status_code == 410  # tampered


def test_links_are_absolute_with_site_url(rep, opportunity, pdf, settings):
    settings.SITE_URL = "https://crm.example.com"
    web_upload(signed_in(rep), opportunity, pdf)
    [item] = documents_snapshot(opportunity.pk, with_links=True)
    assert item["url"].startswith("https://crm.example.com/documents/signed/")
    assert {k: item[k] for k in ("kind", "name", "size", "content_type")} == {
        "kind": "purchase_order",
        "name": "po.pdf",
        "size": len(pdf),
        "content_type": "application/pdf",
    }
    assert len(item["sha256"]) == 64
    assert "url" not in documents_snapshot(opportunity.pk)[0]
