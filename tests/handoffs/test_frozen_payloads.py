"""What RevOps approved is what is handed off: the payloads are built from the values frozen
when the deal was submitted, never from rows someone edited while the request waited; the
approval freezes the amount in the reporting currency and the rate; billing receives the
evidence documents with their SHA-256 and a working signed link."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from currencies.models import ExchangeRate
from documents.samples import sample_pdf
from documents.services import document_attach
from handoffs.models import Handoff
from opportunities import services
from opportunities.models import Approval
from opportunities.stages import Source
from tests.factories import ready_opportunity

pytestmark = pytest.mark.django_db


def submit(opportunity, rep):
    services.opportunity_transition(
        opportunity=opportunity, name="submit_for_approval", actor=rep, source=Source.API
    )


def approve(opportunity, revops):
    services.opportunity_transition(
        opportunity=opportunity, name="approve", actor=revops, source=Source.API
    )
    return {h.kind: h.payload["data"] for h in Handoff.objects.filter(opportunity=opportunity)}


def test_edits_made_while_pending_do_not_reach_billing(rep, revops):
    # Given alice's deal waiting for approval with pat@customer.example as primary contact
    opportunity = ready_opportunity(rep)
    contact, account = opportunity.primary_contact, opportunity.account
    original_email, original_account = contact.email, account.name
    submit(opportunity, rep)
    # When its contact and account are edited before RevOps decide (still allowed: they
    # are not the deal's gated fields)
    services.contact_update(
        contact=contact, actor=rep, data={"email": "someone.else@attacker.example"}
    )
    services.account_update(account=account, actor=rep, data={"name": "Renamed Ltd"})
    # Then the handoffs carry what RevOps approved: the values as submitted
    data = approve(opportunity, revops)
    assert data["billing"]["billing"]["bill_to"]["email"] == original_email
    assert (
        data["customer_success"]["customer_success"]["primary_contact"]["email"] == original_email
    )
    assert data["billing"]["primary_contact"]["email"] == original_email
    assert data["billing"]["account"]["name"] == original_account
    approval = Approval.objects.get(opportunity=opportunity)
    assert approval.snapshot["contact"]["email"] == original_email
    # and no payload differs from the snapshot on what it carries
    for section in data.values():
        assert section["opportunity"]["amount"] == approval.snapshot["amount"]
        assert [li["sku"] for li in section["line_items"]] == [
            li["sku"] for li in approval.snapshot["line_items"]
        ]


def test_line_items_carry_sku_and_product_name_as_submitted(rep, revops):
    opportunity = ready_opportunity(rep, lines=2)
    submit(opportunity, rep)
    product = opportunity.line_items.first().product
    product.name = "Renamed after submission"
    product.save()
    data = approve(opportunity, revops)
    names = {li["name"] for li in data["provisioning"]["line_items"]}
    assert "Renamed after submission" not in names
    assert all(row["name"] for row in data["provisioning"]["provisioning"]["seats_by_sku"])


def test_approval_freezes_the_reporting_amount_and_the_rate(rep, revops, settings):
    settings.REPORTING_CURRENCY = "USD"
    ExchangeRate.objects.create(
        currency="EUR", rate=Decimal("1.10"), valid_from=timezone.localdate() - dt.timedelta(days=3)
    )
    opportunity = ready_opportunity(rep, currency="EUR", seats=10, unit_price=Decimal("100.00"))
    submit(opportunity, rep)
    data = approve(opportunity, revops)
    approval = Approval.objects.get(opportunity=opportunity)
    assert (approval.reporting_currency, approval.reporting_amount, approval.reporting_rate) == (
        "USD",
        Decimal("1100.00"),
        Decimal("1.10"),
    )
    assert data["billing"]["opportunity"]["reporting"] == {
        "currency": "USD",
        "amount": "1100.00",
        "rate": "1.100000000000",
    }
    # A later rate changes nothing already approved.
    ExchangeRate.objects.create(currency="EUR", rate=Decimal("2"), valid_from=timezone.localdate())
    approval.refresh_from_db()
    assert approval.reporting_amount == Decimal("1100.00")


def test_without_a_rate_the_reporting_amount_stays_unknown(rep, revops, settings):
    settings.REPORTING_CURRENCY = "USD"
    opportunity = ready_opportunity(rep, currency="JPY", seats=10, unit_price=Decimal("1000"))
    submit(opportunity, rep)
    approve(opportunity, revops)
    approval = Approval.objects.get(opportunity=opportunity)
    assert approval.reporting_amount is None and approval.reporting_rate is None
    # JPY has no minor units: the snapshot says so
    assert approval.snapshot["amount"] == "10000"


def test_billing_receives_each_document_with_its_hash_and_a_working_link(
    rep, revops, settings, tmp_path
):
    settings.STORAGES = {
        **settings.STORAGES,
        "documents": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path)},
        },
    }
    opportunity = ready_opportunity(rep)
    pdf = sample_pdf(["Signed by both parties"])
    document = document_attach(
        opportunity=opportunity,
        actor=rep,
        kind="signed_contract",
        file=io.BytesIO(pdf),
        name="contract.pdf",
    )
    submit(opportunity, rep)
    data = approve(opportunity, revops)
    [frozen] = data["billing"]["billing"]["documents"]
    assert (frozen["kind"], frozen["name"], frozen["sha256"]) == (
        "signed_contract",
        "contract.pdf",
        document.sha256,
    )
    response = Client().get(frozen["url"])  # no session: the signed link is the key
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == pdf


def test_each_payload_is_stored_as_the_text_json_makes_of_it(rep, revops, monkeypatch):
    """The shared part of the four payloads is encoded once and spliced into each: the
    stored text must be exactly what json.dumps makes of the whole payload."""
    import json

    from core.fields import EncodedJSON
    from handoffs import payloads

    built: list[dict] = []
    original = payloads.build_payload

    def keep(**kwargs):
        payload = original(**kwargs)
        built.append(payload)
        return payload

    monkeypatch.setattr(payloads, "build_payload", keep)
    opportunity = ready_opportunity(rep, lines=3)
    submit(opportunity, rep)
    approve(opportunity, revops)

    encoder = Handoff._meta.get_field("payload").encoder
    assert len(built) == 4
    for payload in built:
        assert isinstance(payload, EncodedJSON)
        assert payload.text == json.dumps(dict(payload), cls=encoder)
        assert list(payload["data"])[-1] == payload["type"].removeprefix("handoff.")
        assert Handoff.objects.get(pk=payload["id"]).payload == json.loads(payload.text)


def test_a_request_frozen_without_line_item_names_gets_the_products_names(rep, revops):
    # A request submitted before the snapshot kept each line's product name.
    opportunity = ready_opportunity(rep, lines=2)
    submit(opportunity, rep)
    approval = Approval.objects.get(opportunity=opportunity)
    for item in approval.snapshot["line_items"]:
        del item["name"]
    approval.save(update_fields=["snapshot"])

    data = approve(opportunity, revops)

    products = {li.product.sku: li.product.name for li in opportunity.line_items.all()}
    assert {li["sku"]: li["name"] for li in data["billing"]["line_items"]} == products
