"""The amendment events match their JSON Schemas (the ones docs/handoffs.md shows)."""

from __future__ import annotations

import jsonschema
import pytest

from amendments.services import amendment_decide, amendment_request
from handoffs import events
from handoffs.models import Handoff
from tests.amendments.conftest import won_opportunity

pytestmark = pytest.mark.django_db
CHECKER = jsonschema.Draft202012Validator.FORMAT_CHECKER


def _validate_all(opportunity, suffix, subscriber):
    rows = list(
        Handoff.outbox.filter(
            opportunity=opportunity, event_type__endswith=suffix, endpoint=subscriber
        )
    )
    assert len(rows) == 5
    for row in rows:
        jsonschema.validate(
            row.payload, events.event_schema(row.event_type), format_checker=CHECKER
        )
    return {r.event_type: r.payload for r in rows}


def test_amended_payloads_match_their_schemas(rep, revops, revops2, subscriber):
    opportunity = won_opportunity(rep, revops)
    amendment = amendment_request(
        opportunity=opportunity,
        actor=rep,
        kind="change",
        reason="More seats",
        changes={"amount": "3000.00"},
        line_items=[{"product": opportunity.seat.pk, "seats": 30, "unit_price": "100.00"}],
    )
    amendment_decide(amendment=amendment, actor=revops2, decision="approve")
    payloads = _validate_all(opportunity, ".amended", subscriber)
    assert payloads["deal.amended"]["data"]["delta"]["amount"] == "500.00"


def test_cancelled_payloads_match_their_schemas(rep, revops, revops2, subscriber):
    opportunity = won_opportunity(rep, revops)
    amendment = amendment_request(
        opportunity=opportunity, actor=revops, kind="cancellation", reason="Churn"
    )
    amendment_decide(amendment=amendment, actor=revops2, decision="approve")
    payloads = _validate_all(opportunity, ".cancelled", subscriber)
    data = payloads["handoff.commission.cancelled"]["data"]
    assert data["after"] is None and data["delta"]["amount"] == "-2500.00"
    assert (
        data["commission"]["kind"] == "clawback"
        and data["commission"]["credit_amount"] == "-250.00"
    )
    assert payloads["deal.cancelled"]["data"]["to_stage"] == "cancelled"
