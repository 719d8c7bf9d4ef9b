"""What the change feed carries for the sales objects: each as its API endpoint shows it."""

from __future__ import annotations

import threading
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

_serializers = threading.local()


def _opportunity(obj: Opportunity) -> dict[str, Any]:
    # The write paths never prefetch line items before replacing them (a PATCH reads them
    # with plain queries), so a prefetched list here is current: reuse it, else read once.
    selectors.line_items_loaded(obj)
    # One serializer per thread, kept: DRF builds a serializer's fields (the model's
    # field mapping, a copy of every declared field) on first use, and that build was a
    # sixth of the event's cost on every transition. The context holds the per-response
    # caches (today's rates, the lines' prices): emptied for each deal.
    serializer = getattr(_serializers, "opportunity", None)
    if serializer is None:
        serializer = _serializers.opportunity = OpportunitySerializer()
    serializer._context = {}
    return serializer.to_representation(obj)


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
