"""Which objects the change feed carries, and how each is serialised.

The feed's ``data`` is the object exactly as the API shows it, but the domain services
that record events must not import the API layer. So the API layer registers, at app
ready, one entry per model::

    registry.register(Opportunity, "opportunity", lambda obj: OpportunitySerializer(obj).data)

and :func:`events.services.event_record` looks the model up here. A model that was never
registered cannot be recorded (``LookupError``): every synced object has one serialiser.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db.models import Model

Serialize = Callable[[Any], dict[str, Any]]
SerializeMany = Callable[[list[Any]], list[dict[str, Any]]]


@dataclass(frozen=True)
class Entry:
    name: str
    serialize: Serialize
    serialize_many: SerializeMany | None = None

    def serialize_all(self, instances: list[Any]) -> list[dict[str, Any]]:
        """``serialize`` of each instance; one pass when the model registered
        ``serialize_many`` (a DRF serializer builds its fields once instead of per row)."""
        if self.serialize_many is not None:
            return self.serialize_many(instances)
        return [dict(self.serialize(instance)) for instance in instances]


_entries: dict[type[Model], Entry] = {}


def register(
    model: type[Model], name: str, serialize: Serialize, serialize_many: SerializeMany | None = None
) -> None:
    """Carry ``model`` in the feed as ``object=name`` with ``data=serialize(instance)``;
    ``serialize_many`` (optional) gives the same dicts for a list, for bulk writes."""
    _entries[model] = Entry(name=name, serialize=serialize, serialize_many=serialize_many)


def entry_for(model: type[Model]) -> Entry:
    try:
        return _entries[model]
    except KeyError:
        raise LookupError(
            f"{model.__name__} is not registered with events.registry.register()"
        ) from None


def object_names() -> list[str]:
    return sorted(entry.name for entry in _entries.values())
