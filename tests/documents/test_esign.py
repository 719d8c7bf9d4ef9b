"""POST /api/v1/inbound/esign/: both signature schemes, replay, bad signatures, and a
declined envelope withdrawing the pending request that relied on it."""

from __future__ import annotations

import base64
import json

import pytest
from rest_framework.test import APIClient

from documents.models import Document, InboundEvent
from opportunities import services
from opportunities.models import Approval
from tests.api.conftest import problem
from tests.documents.conftest import (
    docusign_headers,
    simple_event,
    standard_headers,
    stored_files,
)
from tests.factories import ready_opportunity

pytestmark = pytest.mark.django_db

URL = "/api/v1/inbound/esign/"


def post(body: bytes, headers: dict[str, str]):
    return APIClient().post(URL, data=body, content_type="application/json", **headers)


def test_a_completed_envelope_attaches_the_signed_contract(opportunity, pdf):
    body = simple_event("env-1", "completed", opportunity.pk, pdf)
    response = post(body, standard_headers(body, "msg_1"))
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "processed"
    doc = Document.objects.get()
    assert (doc.kind, doc.source, doc.esign_envelope_id, doc.esign_status) == (
        "signed_contract",
        "esign",
        "env-1",
        "completed",
    )
    assert doc.opportunity_id == opportunity.pk
    assert doc.uploaded_by is None
    event = InboundEvent.objects.get()
    assert (event.scheme, event.event_id, event.verified, event.status, event.document_id) == (
        "standard_webhooks",
        "msg_1",
        True,
        "processed",
        doc.pk,
    )


def test_a_replayed_webhook_id_does_nothing_twice(opportunity, pdf):
    body = simple_event("env-2", "completed", opportunity.pk, pdf)
    headers = standard_headers(body, "msg_2")
    assert post(body, headers).json()["status"] == "processed"
    again = post(body, headers)
    assert again.status_code == 200
    assert again.json()["status"] == "duplicate"
    assert Document.objects.count() == 1
    assert list(InboundEvent.objects.order_by("id").values_list("status", flat=True)) == [
        "processed",
        "duplicate",
    ]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {
            "HTTP_WEBHOOK_ID": "m",
            "HTTP_WEBHOOK_TIMESTAMP": "1",
            "HTTP_WEBHOOK_SIGNATURE": "v1,AAAA",
        },
        {"HTTP_WEBHOOK_ID": "m", "HTTP_WEBHOOK_TIMESTAMP": "nan", "HTTP_WEBHOOK_SIGNATURE": "junk"},
        {"HTTP_X_DOCUSIGN_SIGNATURE_1": "bm90IHRoZSByaWdodCBobWFj"},
    ],
)
def test_bad_signatures_are_401_and_store_nothing_but_the_call(
    opportunity, pdf, local_documents, headers
):
    body = simple_event("env-3", "completed", opportunity.pk, pdf)
    problem(post(body, headers), 401, "not_authenticated")
    assert Document.objects.count() == 0
    assert stored_files(local_documents) == []
    event = InboundEvent.objects.get()
    assert (event.verified, event.status) == (False, "rejected")
    assert event.document_id is None and event.opportunity_id is None


def test_a_signature_by_another_secret_is_401(opportunity, pdf):
    body = simple_event("env-4", "completed", opportunity.pk, pdf)
    other = "whsec_" + base64.b64encode(b"someone-else-entirely-0123456789").decode()
    problem(post(body, standard_headers(body, "msg_4", secret=other)), 401, "not_authenticated")
    problem(post(body + b" ", standard_headers(body, "msg_4")), 401, "not_authenticated")
    assert Document.objects.count() == 0


def test_docusign_connect_hmac_and_shape(opportunity, pdf):
    body = json.dumps(
        {
            "event": "envelope-completed",
            "apiVersion": "v2.1",
            "data": {
                "accountId": "acc",
                "envelopeId": "ds-env-1",
                "envelopeSummary": {
                    "status": "completed",
                    "customFields": {
                        "textCustomFields": [
                            {"name": "opportunity_id", "value": str(opportunity.pk)}
                        ]
                    },
                    "envelopeDocuments": [
                        {
                            "documentId": "1",
                            "name": "Order form.pdf",
                            "PDFBytes": base64.b64encode(pdf).decode(),
                        }
                    ],
                },
            },
        }
    ).encode()
    response = post(body, docusign_headers(body))
    assert response.status_code == 200, response.content
    doc = Document.objects.get()
    assert (doc.name, doc.esign_envelope_id, doc.kind) == (
        "Order form.pdf",
        "ds-env-1",
        "signed_contract",
    )
    # DocuSign retries the same notification: the envelope is not attached twice.
    assert post(body, docusign_headers(body)).json()["status"] == "duplicate"
    assert Document.objects.count() == 1
    problem(post(body, docusign_headers(body, key="wrong")), 401, "not_authenticated")


def test_a_signed_but_unusable_event_is_400_and_recorded(opportunity):
    body = json.dumps(
        {"envelope_id": "env-5", "status": "completed", "opportunity_id": opportunity.pk}
    ).encode()
    problem(post(body, standard_headers(body, "msg_5")), 400, "invalid")
    body2 = simple_event("env-5", "completed", opportunity.pk, b"not a pdf at all")
    problem(post(body2, standard_headers(body2, "msg_6")), 415, "file_type_not_allowed")
    body3 = simple_event("env-5", "completed", 99999999, b"x")
    problem(post(body3, standard_headers(body3, "msg_7")), 404, "not_found")
    assert Document.objects.count() == 0
    assert set(InboundEvent.objects.values_list("status", flat=True)) == {"invalid"}


def test_a_document_name_with_a_path_is_refused(opportunity, pdf):
    event = json.loads(simple_event("env-8", "completed", opportunity.pk, pdf))
    event["document"]["name"] = "../../etc/cron.d/x.pdf"
    body = json.dumps(event).encode()
    body_problem = problem(post(body, standard_headers(body, "msg_8")), 400, "invalid")
    assert body_problem["errors"][0]["code"] == "invalid_file_name"
    assert Document.objects.count() == 0


def _pending(rep):
    opportunity = ready_opportunity(rep)
    services.opportunity_transition(opportunity=opportunity, name="submit_for_approval", actor=rep)
    opportunity.refresh_from_db()
    assert opportunity.stage == "pending_approval"
    return opportunity


def test_a_declined_envelope_withdraws_the_pending_request_relying_on_it(rep):
    opportunity = _pending(rep)
    body = json.dumps(
        {
            "envelope_id": "env-9",
            "status": "declined",
            "opportunity_id": opportunity.pk,
            "reason": "Wrong price",
        }
    ).encode()
    response = post(body, standard_headers(body, "msg_9"))
    assert response.status_code == 200, response.content
    opportunity.refresh_from_db()
    assert opportunity.stage == "negotiation"
    approval = Approval.objects.get(opportunity=opportunity)
    assert approval.decision == "withdrawn"
    assert "env-9" in approval.reason and "declined" in approval.reason
    change = opportunity.stage_changes.order_by("-at").first()
    assert (change.transition, change.source) == ("withdraw", "system")
    # Replayed: nothing more happens.
    assert post(body, standard_headers(body, "msg_9")).json()["status"] == "duplicate"


def test_a_voided_envelope_keeps_a_request_with_another_signed_contract(rep, pdf):
    opportunity = _pending(rep)
    first = simple_event("env-10", "completed", opportunity.pk, pdf)
    assert post(first, standard_headers(first, "msg_10")).status_code == 200
    body = json.dumps(
        {"envelope_id": "env-11", "status": "voided", "opportunity_id": opportunity.pk}
    ).encode()
    assert post(body, standard_headers(body, "msg_11")).status_code == 200
    opportunity.refresh_from_db()
    assert opportunity.stage == "pending_approval"


def test_voiding_the_envelope_that_produced_the_contract_withdraws(rep, pdf):
    opportunity = _pending(rep)
    first = simple_event("env-12", "completed", opportunity.pk, pdf)
    assert post(first, standard_headers(first, "msg_12")).status_code == 200
    body = json.dumps({"envelope_id": "env-12", "status": "voided"}).encode()  # found by envelope
    assert post(body, standard_headers(body, "msg_13")).status_code == 200
    opportunity.refresh_from_db()
    assert opportunity.stage == "negotiation"
    assert Document.objects.get().esign_status == "voided"
