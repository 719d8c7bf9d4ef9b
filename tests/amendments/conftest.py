"""Helpers for the amendment tests: a won deal, and an endpoint subscribed to the
amendment events."""

from __future__ import annotations

from decimal import Decimal

import pytest

from handoffs.events import EVENT_TYPES
from handoffs.models import WebhookEndpoint
from opportunities.services import opportunity_transition
from tests.factories import LineItemFactory, ProductFactory, policy_author, ready_opportunity


def won_opportunity(rep, revops, *, seats: int = 25, unit_price: Decimal = Decimal("100.00"), **kw):
    """A Closed-Won deal of ``seats`` × SEAT at ``unit_price``."""
    opportunity = ready_opportunity(rep, lines=0, amount=seats * unit_price, **kw)
    product = ProductFactory(sku=f"SEAT-{opportunity.pk}", name="Seat")
    LineItemFactory(opportunity=opportunity, product=product, seats=seats, unit_price=unit_price)
    opportunity_transition(opportunity=opportunity, name="submit_for_approval", actor=rep)
    opportunity_transition(opportunity=opportunity, name="approve", actor=revops)
    opportunity.refresh_from_db()
    opportunity.seat = product  # type: ignore[attr-defined]
    return opportunity


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


# --- routed amendments: approver groups and a published policy ------------------------


@pytest.fixture
def finance_group(db):
    from django.contrib.auth.models import Group

    return Group.objects.get_or_create(name="Finance")[0]


@pytest.fixture
def fiona(finance_group):
    from tests.factories import make_user

    user = make_user("rep", "fiona")
    user.groups.add(finance_group)
    user.is_staff = True  # approvers of a group work in the admin inbox
    user.save()
    return user


@pytest.fixture
def fred(finance_group):
    from tests.factories import make_user

    user = make_user("rep", "fred")
    user.groups.add(finance_group)
    user.is_staff = True
    user.save()
    return user


def publish_policy(*, mode: str = "any", count: int = 1, amount_gte: str = "100000"):
    """Publish a policy routing amounts ≥ ``amount_gte`` to Finance (call it after the
    won deal exists: the deal's own Closed-Won request then had the RevOps step only)."""
    from approvals import services as approval_services

    return approval_services.policy_save(
        {
            "name": "Demo",
            "rules": [
                {
                    "name": "Big deals",
                    "conditions": {"amount_gte": amount_gte},
                    "steps": [{"group": "Finance", "mode": mode, "count": count, "sla_hours": 8}],
                }
            ],
        },
        actor=policy_author(),
    )


def big_change(opportunity, actor, *, seats: int = 1000, price: str = "100.00", **kw):
    """Request ``seats`` × ``price`` (1000 × 100 = 100,000: Finance's threshold)."""
    from amendments.services import amendment_request

    return amendment_request(
        opportunity=opportunity,
        actor=actor,
        kind="change",
        reason="The customer rolls out company-wide",
        changes={"amount": f"{Decimal(price) * seats:.2f}"},
        line_items=[{"product": opportunity.seat.pk, "seats": seats, "unit_price": price}],
        **kw,
    )
