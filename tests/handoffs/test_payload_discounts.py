"""The line items of the handoff payloads carry the list price and the discount frozen at
submission — the figures routing compared — and match the published JSON Schema."""

from __future__ import annotations

from decimal import Decimal

import jsonschema
import pytest

from handoffs import events
from handoffs.models import Handoff
from opportunities import services
from opportunities.models import Approval, LineItem, Product
from opportunities.stages import Source
from tests.factories import ProductFactory, ready_opportunity

pytestmark = pytest.mark.django_db


def _run(opportunity, name, actor):
    services.opportunity_transition(
        opportunity=opportunity, name=name, actor=actor, source=Source.API
    )


def test_payload_lines_carry_the_list_price_and_discount_as_submitted(rep, revops, settings):
    settings.REPORTING_CURRENCY = "USD"
    opportunity = ready_opportunity(rep, unit_price=Decimal("75.00"))
    Product.objects.filter(line_items__opportunity=opportunity).update(list_price=Decimal("100"))
    LineItem.objects.create(
        opportunity=opportunity,
        product=ProductFactory(list_price=None),
        seats=1,
        unit_price=Decimal("5"),
    )
    LineItem.objects.create(
        opportunity=opportunity,
        product=ProductFactory(list_price=Decimal("100")),
        seats=1,
        unit_price=Decimal("120"),
    )
    opportunity.amount = Decimal("875.00")  # 10 × 75 + 5 + 120: the lines add up
    opportunity.save(update_fields=["amount"])
    _run(opportunity, "submit_for_approval", rep)
    # RevOps change the price book while the request waits: the payload keeps what was
    # submitted (and routed on)
    Product.objects.update(list_price=Decimal("500"))
    _run(opportunity, "approve", revops)

    approval = Approval.objects.get(opportunity=opportunity)
    frozen = [
        (li["list_price"], li["list_price_currency"], li["discount_pct"])
        for li in approval.snapshot["line_items"]
    ]
    assert frozen == [("100.00", "USD", "25.00"), (None, None, None), ("100.00", "USD", "-20.00")]
    checker = jsonschema.Draft202012Validator.FORMAT_CHECKER
    for handoff in Handoff.objects.filter(opportunity=opportunity):
        lines = handoff.payload["data"]["line_items"]
        assert [(li["list_price"], li["discount_pct"]) for li in lines] == [
            ("100.00", "25.00"),
            (None, None),
            ("100.00", "-20.00"),
        ]
        jsonschema.validate(
            handoff.payload, events.event_schema(f"handoff.{handoff.kind}"), format_checker=checker
        )


def test_a_request_submitted_before_discounts_were_frozen_sends_nulls(rep, revops):
    opportunity = ready_opportunity(rep)
    _run(opportunity, "submit_for_approval", rep)
    approval = Approval.objects.get(opportunity=opportunity)
    snapshot = dict(approval.snapshot)
    snapshot["line_items"] = [
        {
            k: v
            for k, v in li.items()
            if k not in ("list_price", "list_price_currency", "discount_pct")
        }
        for li in snapshot["line_items"]
    ]
    Approval.objects.filter(pk=approval.pk).update(snapshot=snapshot)
    _run(opportunity, "approve", revops)
    billing = Handoff.objects.get(opportunity=opportunity, kind="billing").payload
    assert billing["data"]["line_items"][0]["discount_pct"] is None
    jsonschema.validate(billing, events.event_schema("handoff.billing"))


def test_the_schema_refuses_a_discount_that_is_not_a_two_decimal_percent():
    schema = events.event_schema("handoff.billing")
    line = schema["properties"]["data"]["properties"]["line_items"]["items"]
    jsonschema.validate({**_line(), "discount_pct": "-10.00"}, line)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**_line(), "discount_pct": "25%"}, line)


def _line():
    return {
        "sku": "A",
        "name": "A",
        "seats": 1,
        "unit_price": "1.00",
        "list_price": None,
        "list_price_currency": None,
        "discount_pct": None,
    }
