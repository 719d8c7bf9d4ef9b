"""The built-in demo receiver, /demo/receiver/<kind>/ (on only with DEMO_RECEIVER=1)."""

from __future__ import annotations

import json

import pytest
from django.utils import timezone

from handoffs import delivery
from handoffs.models import DemoReceipt
from handoffs.services import handoff_deliver
from tests.handoffs.conftest import approve
from tests.handoffs.http_receiver import new_secret

URL = "/demo/receiver/billing/"


@pytest.fixture
def demo_on(settings):
    settings.DEMO_RECEIVER = True
    settings.DEMO_RECEIVER_SECRET = new_secret()
    return settings


def signed_post(client, url, payload, secret, webhook_id="msg_1"):
    body = delivery.encode_body(payload)
    headers = delivery.signed_headers(
        secret=secret, webhook_id=webhook_id, body=body, now=timezone.now()
    )
    return client.post(
        url,
        data=body,
        content_type="application/json",
        headers={k: v for k, v in headers.items() if k != "content-type"},
    )


@pytest.mark.django_db
def test_it_records_a_verified_receipt(client, demo_on):
    payload = {"id": "msg_1", "type": "handoff.billing", "data": {"x": 1}}

    response = signed_post(client, URL, payload, demo_on.DEMO_RECEIVER_SECRET)

    assert response.status_code == 200 and response.json()["verified"] is True
    receipt = DemoReceipt.objects.get()
    assert receipt.verified and receipt.kind == "billing" and receipt.webhook_id == "msg_1"
    assert receipt.payload == payload and not receipt.duplicate


@pytest.mark.django_db
def test_it_marks_a_repeated_webhook_id_as_duplicate(client, demo_on):
    for _ in range(2):
        signed_post(client, URL, {"id": "msg_1"}, demo_on.DEMO_RECEIVER_SECRET)

    assert list(DemoReceipt.objects.order_by("id").values_list("duplicate", flat=True)) == [
        False,
        True,
    ]


@pytest.mark.django_db
def test_it_rejects_a_wrong_signature(client, demo_on):
    response = signed_post(client, URL, {"id": "msg_1"}, new_secret())

    assert response.status_code == 401 and response.json()["verified"] is False
    receipt = DemoReceipt.objects.get()
    assert not receipt.verified and receipt.payload is None and receipt.error


@pytest.mark.django_db
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"webhook-id": "m", "webhook-timestamp": "1", "webhook-signature": "v1,AAAA"},
        {"webhook-id": "m", "webhook-timestamp": "nope", "webhook-signature": "v1,AAAA"},
        {"webhook-id": "m", "webhook-timestamp": "now", "webhook-signature": "garbage"},
        {"webhook-id": "m", "webhook-timestamp": "now", "webhook-signature": "v1,%%%"},
    ],
)
def test_it_rejects_malformed_or_stale_headers_without_a_500(client, demo_on, headers):
    headers = {
        k: (str(int(timezone.now().timestamp())) if v == "now" else v) for k, v in headers.items()
    }
    response = client.post(URL, data="{}", content_type="application/json", headers=headers)
    assert response.status_code == 401


@pytest.mark.django_db
def test_it_rejects_a_tampered_body(client, demo_on):
    body = json.dumps({"id": "msg_1", "amount": "100.00"})
    headers = delivery.signed_headers(
        secret=demo_on.DEMO_RECEIVER_SECRET, webhook_id="msg_1", body=body, now=timezone.now()
    )
    headers.pop("content-type")

    response = client.post(
        URL, data=body.replace("100.00", "1.00"), content_type="application/json", headers=headers
    )

    assert response.status_code == 401


@pytest.mark.django_db
def test_it_is_off_unless_demo_receiver_is_set(client, settings):
    settings.DEMO_RECEIVER = False
    response = signed_post(client, URL, {"id": "m"}, settings.DEMO_RECEIVER_SECRET)
    assert response.status_code == 404
    assert not DemoReceipt.objects.exists()


@pytest.mark.django_db
def test_it_knows_only_the_four_kinds_and_post(client, demo_on):
    assert client.post("/demo/receiver/payroll/", data="{}", content_type="x").status_code == 404
    assert client.get(URL).status_code == 405


@pytest.mark.django_db(transaction=True)
def test_the_embedded_flow_delivers_four_verified_receipts(rep, revops, live_server, demo_on):
    """As ``make run`` wires it: the four endpoints point at the demo receiver."""
    demo_on.HANDOFF_ENDPOINTS = {
        kind: {
            "url": f"{live_server.url}/demo/receiver/{kind}/",
            "secret": demo_on.DEMO_RECEIVER_SECRET,
        }
        for kind in ("billing", "provisioning", "customer_success", "commission")
    }
    _, handoffs = approve(rep, revops)

    for handoff in handoffs.values():
        assert handoff_deliver(handoff_id=handoff.pk).status == "delivered"

    receipts = DemoReceipt.objects.filter(verified=True)
    assert sorted(receipts.values_list("kind", flat=True)) == sorted(handoffs)
    assert {r.webhook_id for r in receipts} == {str(h.pk) for h in handoffs.values()}
