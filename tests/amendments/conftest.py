"""Helpers for the amendment tests: a won deal, and an endpoint subscribed to the
amendment events."""

from __future__ import annotations

from decimal import Decimal

import pytest

from handoffs.events import EVENT_TYPES
from handoffs.models import WebhookEndpoint
from opportunities.services import opportunity_transition
from tests.factories import LineItemFactory, ProductFactory, ready_deal


def won_deal(rep, revops, *, seats: int = 25, unit_price: Decimal = Decimal("100.00"), **kw):
    """A Closed-Won deal of ``seats`` × SEAT at ``unit_price``."""
    deal = ready_deal(rep, lines=0, amount=seats * unit_price, **kw)
    product = ProductFactory(sku=f"SEAT-{deal.pk}", name="Seat")
    LineItemFactory(opportunity=deal, product=product, seats=seats, unit_price=unit_price)
    opportunity_transition(opportunity=deal, name="submit_for_approval", actor=rep)
    opportunity_transition(opportunity=deal, name="approve", actor=revops)
    deal.refresh_from_db()
    deal.seat = product  # type: ignore[attr-defined]
    return deal


@pytest.fixture
def subscriber(db) -> WebhookEndpoint:
    """One active endpoint subscribed to every event type (nothing is sent in these
    tests: the rows are only written)."""
    return WebhookEndpoint.objects.create(
        url="https://billing.example.test/hooks", event_types=list(EVENT_TYPES), active=True
    )


@pytest.fixture
def rep_client(rep):
    from django.test import Client

    client = Client()
    client.force_login(rep)
    return client


@pytest.fixture
def revops_client(revops):
    from django.test import Client

    client = Client()
    client.force_login(revops)
    return client
