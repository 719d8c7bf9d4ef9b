"""Model fields the apps share."""

from __future__ import annotations

from typing import Any

from django.db import models


class _AsJSONB(models.Func):
    """The column as ``jsonb`` on PostgreSQL (unchanged elsewhere): what every JSON
    lookup and key transform is written for."""

    template = "%(expressions)s"
    output_field = models.JSONField()

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection, template="(%(expressions)s)::jsonb", **extra)


def _on_jsonb(lookup_class: type) -> type:
    class OnJSONB(lookup_class):  # type: ignore[misc,valid-type]
        def __init__(self, lhs: Any, *args: Any, **kwargs: Any) -> None:
            super().__init__(_AsJSONB(lhs), *args, **kwargs)

    OnJSONB.__name__ = OnJSONB.__qualname__ = lookup_class.__name__
    return OnJSONB


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
    event): PostgreSQL's ``json`` type instead of ``jsonb``; the same ``JSONField``
    everywhere else.

    Why: ``jsonb`` parses every value into a binary tree on insert, the costliest part
    of storing an approval's handoff payloads (every line item, four times); ``json``
    only checks the text and keeps it as written, key order included. What it loses:
    ``jsonb``'s operators, so a lookup into the document (``payload__to__contains``)
    casts the column to ``jsonb`` first (parsed then, per row read).
    """

    def db_type(self, connection: Any) -> str | None:
        if connection.vendor == "postgresql":
            return "json"
        return super().db_type(connection)

    def get_db_prep_value(self, value: Any, connection: Any, prepared: bool = False) -> Any:
        if connection.vendor != "postgresql":
            return super().get_db_prep_value(value, connection, prepared)
        from django.db.backends.postgresql.operations import get_json_dumps
        from psycopg.types.json import Json

        if not prepared:
            value = self.get_prep_value(value)
        if value is None or hasattr(value, "as_sql"):
            return value
        if isinstance(value, EncodedJSON):
            text = value.text
            return Json(value, dumps=lambda _value: text)
        return Json(value, dumps=get_json_dumps(self.encoder))

    def get_lookup(self, lookup_name: str) -> Any:
        lookup = super().get_lookup(lookup_name)
        if lookup is None or lookup_name == "isnull":
            return lookup
        return _on_jsonb(lookup)

    def get_transform(self, name: str) -> Any:
        transform = super().get_transform(name)
        if transform is None:
            return None
        return lambda lhs, *args, **kwargs: transform(_AsJSONB(lhs), *args, **kwargs)

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
