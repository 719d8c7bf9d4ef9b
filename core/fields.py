"""Model fields the apps share."""

from __future__ import annotations

import functools
from typing import Any

from django.db import models


class _AsJSONB(models.Func):
    """The column as ``jsonb`` on PostgreSQL (unchanged elsewhere): what every JSON
    lookup and key transform is written for."""

    template = "%(expressions)s"

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection, template="(%(expressions)s)::jsonb", **extra)


def _as_jsonb(lhs: Any) -> _AsJSONB:
    # A JSONField with the document field's encoder and decoder: a lookup's value is
    # encoded as the document's own values are (a Decimal, a UUID, a date).
    field = getattr(lhs, "output_field", None)
    plain = field.jsonb_field if isinstance(field, JSONDocumentField) else models.JSONField()
    return _AsJSONB(lhs, output_field=plain)


@functools.cache
def _on_jsonb(lookup_class: type) -> type:
    """``lookup_class`` applied to the column cast to ``jsonb``: one class per lookup,
    named in this module, so a query using it can be pickled and compared like any."""
    name = f"JSONDocument{lookup_class.__name__}"

    def __init__(self: Any, lhs: Any, *args: Any, **kwargs: Any) -> None:
        lookup_class.__init__(self, _as_jsonb(lhs), *args, **kwargs)  # type: ignore[misc]

    made = type(name, (lookup_class,), {"__init__": __init__, "__module__": __name__})
    globals()[name] = made
    return made


class EncodedJSON(dict):  # type: ignore[type-arg]
    """A JSON object together with its text, encoded by the caller: ``text`` is exactly
    ``json.dumps(value, cls=<the field's encoder>)``. A :class:`JSONDocumentField` stores
    that text as it is on PostgreSQL instead of encoding the value again, so documents
    that share a large part (an approval's four handoff payloads list the same line items)
    can encode it once. Everywhere else it is the dict it holds."""

    __slots__ = ("text",)

    def __init__(self, value: dict[str, Any], text: str) -> None:
        super().__init__(value)
        self.text = text


class JSONDocumentField(models.JSONField):
    """A JSON document written once and read whole (a webhook payload, a change-feed
    event, a snapshot): PostgreSQL's ``json`` type instead of ``jsonb``; the same
    ``JSONField`` on every other database.

    Why: ``jsonb`` parses every value into a binary tree on insert, the costliest part
    of storing an approval's handoff payloads (every line item, four times); ``json``
    only checks the text and keeps it as written, key order included.

    What it gives up, on PostgreSQL: ``jsonb``'s operators. Every ORM lookup and key
    transform on the field (``payload__to__contains``, ``data__name``, ``has_key``) casts
    the column to ``jsonb`` first, so it works as before but parses each row it reads.
    Comparing or ordering the whole column in SQL (``order_by("payload")``,
    ``filter(payload=F(...))``, a ``Subquery`` of the column into another JSON column)
    is not supported: ``json`` has no equality or ordering. Raw SQL gets the column as
    ``json`` (psycopg decodes it): write ``payload::jsonb`` for ``jsonb`` operators and
    ``payload::text`` to read it as ``from_db_value`` expects. ``json`` also accepts a
    ``\\u0000`` escape that ``jsonb`` refuses (none of the documents stored here can hold
    one: they are built from database text).
    """

    @functools.cached_property
    def jsonb_field(self) -> models.JSONField:
        """A plain ``JSONField`` with this field's encoder and decoder: the output field
        of the column cast to ``jsonb`` in lookups."""
        return models.JSONField(encoder=self.encoder, decoder=self.decoder)

    def db_type(self, connection: Any) -> str | None:
        if connection.vendor == "postgresql":
            return "json"
        return super().db_type(connection)

    def get_db_prep_value(self, value: Any, connection: Any, prepared: bool = False) -> Any:
        """The value adapted as psycopg's ``Json`` on PostgreSQL (``Jsonb`` would be parsed
        into ``jsonb`` and back). ``None`` here is JSON ``null`` (SQL ``NULL`` never
        reaches this method: ``get_db_prep_save`` returns it first), as ``JSONField``'s."""
        if connection.vendor != "postgresql":
            return super().get_db_prep_value(value, connection, prepared)
        from django.db.backends.postgresql.operations import get_json_dumps
        from psycopg.types.json import Json

        if not prepared:
            value = self.get_prep_value(value)
        if hasattr(value, "as_sql"):
            return value
        if isinstance(value, EncodedJSON):
            text = value.text
            return Json(value, dumps=lambda _value: text)
        return Json(value, dumps=get_json_dumps(self.encoder))

    def get_lookup(self, lookup_name: str) -> Any:
        lookup: Any = super().get_lookup(lookup_name)
        if lookup is None or lookup_name == "isnull":
            return lookup
        return _on_jsonb(lookup)

    def get_transform(self, name: str) -> Any:
        transform = super().get_transform(name)
        if transform is None:
            return None
        return lambda lhs, *args, **kwargs: transform(_as_jsonb(lhs), *args, **kwargs)

    def select_format(self, compiler: Any, sql: str, params: Any) -> Any:
        if compiler.connection.vendor == "postgresql":
            # Read as text, decoded by from_db_value like a jsonb column: psycopg would
            # decode a json column itself, and a string document ("42") could then not
            # be told from text still to decode.
            return f"({sql})::text", params
        return super().select_format(compiler, sql, params)

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if value is not None and not isinstance(value, str):
            return value  # an expression psycopg decoded already
        return super().from_db_value(value, expression, connection)
