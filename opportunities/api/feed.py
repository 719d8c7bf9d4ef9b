"""What the change feed carries for the sales objects: each as its API endpoint shows it."""

from __future__ import annotations

from typing import Any

from events import registry
from opportunities import selectors
from opportunities.models import Account, Contact, Opportunity, Product

from .serializers import (
    AccountSerializer,
    ContactSerializer,
    OpportunitySerializer,
    ProductSerializer,
)


def _opportunity(obj: Opportunity) -> dict[str, Any]:
    # The write paths never prefetch line items before replacing them (a PATCH reads them
    # with plain queries), so a prefetched list here is current: reuse it, else read once.
    selectors.line_items_loaded(obj)
    return dict(OpportunitySerializer(obj).data)


def _opportunities(objs: list[Opportunity]) -> list[dict[str, Any]]:
    # Line items prefetched by the caller (a bulk import sets them on each instance).
    for obj in objs:
        selectors.line_items_loaded(obj)
    return [dict(item) for item in OpportunitySerializer(objs, many=True).data]


def register_all() -> None:
    """Called once from the opportunities app's ``ready()``."""
    registry.register(Account, "account", lambda obj: dict(AccountSerializer(obj).data))
    registry.register(Contact, "contact", lambda obj: dict(ContactSerializer(obj).data))
    registry.register(Product, "product", lambda obj: dict(ProductSerializer(obj).data))
    registry.register(Opportunity, "opportunity", _opportunity, _opportunities)
