"""A rep uploads a purchase order on the deal page (real headless Chromium)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from documents.models import Document
from documents.samples import sample_pdf
from tests.factories import make_user, ready_deal

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-for-tests-123"


@pytest.fixture(autouse=True)
def _documents_in_tmp(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "documents": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "documents")},
        },
    }


def test_a_rep_uploads_a_po_on_the_deal_page(page: Page, live_server, tmp_path):
    rep = make_user("rep", "rep_paula")
    deal = ready_deal(rep, name="Globex renewal")
    po = tmp_path / "PO-4711.pdf"
    po.write_bytes(sample_pdf(["Purchase order 4711"]))
    base = live_server.url

    page.goto(f"{base}/opportunities/{deal.pk}/")
    page.get_by_label("Username").fill("rep_paula")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Documents")).to_be_visible()
    expect(page.locator("[data-documents-empty]")).to_be_visible()

    page.get_by_label("Kind").select_option("purchase_order")
    page.locator("#document-file").set_input_files(str(po))
    page.get_by_role("button", name="Upload").click()

    item = page.locator('[data-document-kind="purchase_order"]')
    expect(item).to_contain_text("PO-4711.pdf")
    expect(item).to_contain_text("Purchase order")
    doc = Document.objects.get()
    assert doc.opportunity_id == deal.pk and doc.uploaded_by_id == rep.pk

    with page.expect_download() as download:
        item.get_by_role("link", name="PO-4711.pdf").click()
    assert download.value.suggested_filename == "PO-4711.pdf"
    with open(download.value.path(), "rb") as saved:
        assert saved.read() == po.read_bytes()
