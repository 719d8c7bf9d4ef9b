"""What the change feed carries for the sales objects: each as its API endpoint shows it."""

from __future__ import annotations

from typing import Any

from events import registry
from opportunities import services
from opportunities.models import Account, Contact, Opportunity, Product

from .serializers import (
    AccountSerializer,
    ContactSerializer,
    OpportunitySerializer,
    ProductSerializer,
)


def _opportunity(obj: Opportunity) -> dict[str, Any]:
    # Line items are read fresh: a PATCH may have replaced them after the instance loaded.
    getattr(obj, "_prefetched_objects_cache", {}).pop("line_items", None)
    services.line_items_loaded(obj)
    return dict(OpportunitySerializer(obj).data)


def register_all() -> None:
    """Called once from the opportunities app's ``ready()``."""
    registry.register(Account, "account", lambda obj: dict(AccountSerializer(obj).data))
    registry.register(Contact, "contact", lambda obj: dict(ContactSerializer(obj).data))
    registry.register(Product, "product", lambda obj: dict(ProductSerializer(obj).data))
    registry.register(Opportunity, "opportunity", _opportunity)
