"""What the database was sent, for tests about SQL text."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connection


@contextmanager
def statements_sent() -> Iterator[list[str]]:
    """The text of each statement psycopg sent in the block, in order: values inlined by a
    client-side cursor, ``$n`` placeholders with parameters bound on the server. (Django's
    query log renders bound parameters into the text, so it cannot tell the two apart.)"""
    sent: list[str] = []

    def record(execute: Any, sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
        try:
            return execute(sql, params, many, context)
        finally:
            query = getattr(context["cursor"].cursor, "_query", None)
            sent.append(query.query.decode() if query is not None and query.query else sql)

    with connection.execute_wrapper(record):
        yield sent
