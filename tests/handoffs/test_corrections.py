"""The systems of the HANDOFF_<KIND>_URL variables hear of every correction of a booking
they received: a ``handoff.<kind>.amended`` / ``.cancelled`` delivery, signed with the same
secret, with no webhook endpoint to configure."""

from __future__ import annotations

import pytest

from amendments.services import amendment_decide, amendment_request
from handoffs.models import Handoff, HandoffKind, WebhookEndpoint
from handoffs.services import handoffs_deliver
from handoffs.targets import environment_endpoints_ensure
from tests.amendments.conftest import won_opportunity

pytestmark = pytest.mark.django_db


def test_billing_receives_the_signed_amendment_of_the_booking_it_received(
    rep, revops, revops2, endpoints
):
    opportunity = won_opportunity(rep, revops)
    amendment = amendment_request(
        opportunity=opportunity,
        actor=rep,
        kind="change",
        reason="The order form says 30 seats.",
        changes={"amount": "3000.00"},
        line_items=[{"product": opportunity.seat.pk, "seats": 30, "unit_price": "100.00"}],
    )
    amendment_decide(amendment=amendment, actor=revops2, decision="approve")

    rows = Handoff.outbox.filter(opportunity=opportunity, event_type__startswith="handoff.")
    amended = {r.event_type: r for r in rows.filter(event_type__endswith=".amended")}
    assert sorted(amended) == sorted(f"handoff.{k}.amended" for k in HandoffKind.values)
    handoffs_deliver(handoff_ids=[r.pk for r in amended.values()])

    (request,) = [
        r
        for r in endpoints.requests("billing")
        if r.payload and r.payload["type"] == "handoff.billing.amended"
    ]
    assert request.verified
    assert request.payload["data"]["delta"]["amount"] == "500.00"


def test_an_upgrade_subscribes_the_environment_endpoints_to_corrections(db):
    WebhookEndpoint.objects.exclude(environment_kind="").update(event_types=["handoff.billing"])
    environment_endpoints_ensure()
    billing = WebhookEndpoint.objects.get(environment_kind="billing")
    assert billing.event_types == [
        "handoff.billing",
        "handoff.billing.amended",
        "handoff.billing.cancelled",
    ]
