"""A rep uploads a purchase order on the deal page (real headless Chromium)."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from documents.models import Document
from documents.samples import sample_pdf
from tests.factories import make_user, ready_opportunity

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
    opportunity = ready_opportunity(rep, name="Globex renewal")
    po = tmp_path / "PO-4711.pdf"
    po.write_bytes(sample_pdf(["Purchase order 4711"]))
    base = live_server.url

    page.goto(f"{base}/opportunities/{opportunity.pk}/")
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
    assert doc.opportunity_id == opportunity.pk and doc.uploaded_by_id == rep.pk

    with page.expect_download() as download:
        item.get_by_role("link", name="PO-4711.pdf").click()
    assert download.value.suggested_filename == "PO-4711.pdf"
    with open(download.value.path(), "rb") as saved:
        assert saved.read() == po.read_bytes()


def test_revops_open_the_po_beside_the_values_in_the_approval_queue(
    page: Page, live_server, tmp_path
):
    from django.urls import reverse

    from documents.services import document_attach
    from opportunities import services
    from opportunities.models import Approval

    rep = make_user("rep", "rep_quinn")
    rita = make_user("revops", "revops_rhea")
    rita.is_staff = True
    rita.save()
    opportunity = ready_opportunity(rep, name="Initech expansion")
    import io

    pdf = sample_pdf(["Purchase order 815"])
    document_attach(
        opportunity=opportunity,
        actor=rep,
        kind="purchase_order",
        file=io.BytesIO(pdf),
        name="PO-815.pdf",
    )
    services.opportunity_transition(opportunity=opportunity, name="submit_for_approval", actor=rep)
    approval = Approval.objects.get(opportunity=opportunity)

    url = reverse("admin:opportunities_closedwonapproval_change", args=[approval.pk])
    page.goto(f"{live_server.url}{url}")
    page.get_by_label("Username").fill("revops_rhea")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    card = page.locator("#evidence")
    expect(card).to_contain_text("Purchase order")
    expect(card).to_contain_text("PO-815.pdf")
    frame = card.locator("iframe")
    expect(frame).to_be_visible()
    src = frame.get_attribute("src")
    response = page.request.get(f"{live_server.url}{src}")
    assert response.status == 200 and response.body() == pdf
    Path("test-artifacts").mkdir(exist_ok=True)
    page.screenshot(path="test-artifacts/queue-evidence.png", full_page=True)
