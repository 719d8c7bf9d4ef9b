"""Database plumbing the services share.

:func:`update_by_pk`, :func:`select_by_pk` and :func:`insert_returning_pks` write the
webhook worker's per-approval statements without the ORM's query compiler (see their
section below).

:func:`instances_from_rows` builds model instances of rows read with ``values_list``
without ``Model.__init__`` (for the rows a hot path reads many of).

:func:`bound_parameters` makes the bulk INSERTs of a block send their values to
PostgreSQL as bound parameters, arrays in binary, instead of quoting them into the SQL
text.

Why: Django 5.2 inserts several rows at once as ``INSERT … SELECT * FROM UNNEST(%s::type[],
…)``, one array per column. Django's default psycopg cursor (ours with
``DATABASE_PREPARED_STATEMENTS=off``) binds on the client: it renders each array as a text
literal, escaping every element with a regular expression (the JSON of a ``jsonb[]``
column at every quote), then quotes that literal again into the statement. A cursor that
binds on the server (the default here) still sends lists in the text array format, with
the same escaping. For a bulk import, or the handoff payloads of an approval, that
quoting was the largest single cost, and it grows with every byte of JSON. Bound binary
arrays are copied element by element with no escaping.

Only the statements issued inside the block are affected (the connection's cursor class
is swapped back on exit); other databases are left as they are.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, migrations
from django.db.models import DEFERRED, Model
from django.db.models.base import ModelState
from django.db.models.signals import post_init, pre_init
from django.utils import timezone


@functools.cache
def _binary_array_cursor() -> type:
    # Imported here: the PostgreSQL backend module needs psycopg, which a SQLite
    # deployment may not load.
    from django.db.backends.postgresql.base import ServerBindingCursor
    from psycopg.types.array import ListBinaryDumper

    class BinaryArrayCursor(ServerBindingCursor):  # type: ignore[misc,valid-type]
        """Binds on the server and sends lists (the UNNEST arrays) in binary. psycopg
        prefers its text array format for ``%s`` because it accepts lists of mixed types;
        the ORM's column arrays never mix types, and the text format is the escaping this
        cursor exists to avoid."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.adapters.register_dumper(list, ListBinaryDumper)  # type: ignore[attr-defined]

    return BinaryArrayCursor


@contextmanager
def bound_parameters(using: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    """Inside the block, new cursors of connection ``using`` bind parameters on the server
    with lists in binary (psycopg's ``Cursor``) instead of in the SQL text
    (``ClientCursor``, Django's default).

    Meant for the ORM's bulk INSERTs, whose parameters are typed column arrays. A statement
    with an untyped parameter where PostgreSQL cannot infer its type (a parameter alone in
    a ``SELECT`` list, ``GROUP BY``) may fail with bound parameters: keep such statements
    outside the block. A no-op on other databases.
    """
    connection = connections[using]
    if connection.vendor != "postgresql":
        yield
        return
    connection.ensure_connection()
    raw = connection.connection
    previous = raw.cursor_factory
    raw.cursor_factory = _binary_array_cursor()
    try:
        yield
    finally:
        raw.cursor_factory = previous


def instances_from_rows(
    model: type[Model], names: Sequence[str], rows: Iterable[Sequence[Any]], db: str
) -> list[Any]:
    """``model`` instances of rows read from database ``db``, in order: each row holds the
    value of each field attname of ``names`` (the fields left out are deferred, as with
    ``.only()``); each instance is saved (``_state.adding`` false) and equal to what
    ``Model.from_db`` returns. ``ValueError`` when a row's length is not ``len(names)``.

    Built the way Django unpickles an instance (``Model.__reduce__``): a new object whose
    ``__dict__`` gets the values, without ``Model.__init__``. Why: ``__init__`` walks every
    field and sends ``pre_init`` and ``post_init``, and for the line items and products of
    a deal, read on every approval, it was most of what reading one row cost. When
    anything listens to those signals for ``model`` (an ``ImageField`` does), the instances
    are made by ``Model.from_db`` instead, so no listener is skipped."""
    if pre_init.has_listeners(model) or post_init.has_listeners(model):
        # from_db takes the values in the model's field order, DEFERRED for the others.
        fields = [f.attname for f in model._meta.concrete_fields]
        instances = []
        for values in rows:
            given = dict(zip(names, values, strict=True))
            ordered = [given.get(name, DEFERRED) for name in fields]
            instances.append(model.from_db(db, fields, ordered))
        return instances
    new = model.__new__
    built = []
    for values in rows:
        instance = new(model)
        instance.__dict__.update(zip(names, values, strict=True))
        state = ModelState()
        state.adding = False
        state.db = db
        instance._state = state
        built.append(instance)
    return built


def history_insert_from_rows(
    objs: Sequence[Model],
    *,
    user: Any = None,
    change_reason: str | None = None,
    date: dt.datetime | None = None,
    using: str = DEFAULT_DB_ALIAS,
) -> int:
    """Write the django-simple-history "created" (``+``) record of each saved instance in
    ``objs`` (one model with an integer primary key, rows just inserted, e.g. by
    ``bulk_create``); returns how many.

    The same history rows as ``simple_history.utils.bulk_create_with_history`` (every
    tracked column as stored, ``history_user``, ``history_change_reason``,
    ``history_type="+"``), in ``objs`` order, except that the call shares one
    ``history_date`` (``date``, default now). On PostgreSQL they are one
    ``INSERT … SELECT`` from the rows themselves: building them as Python model instances
    one by one was a third of a bulk import's time. Elsewhere, simple_history's own
    ``bulk_history_create``. Call it in the transaction that inserted the rows. Raises
    ``AttributeError`` for a model without ``HistoricalRecords``.
    """
    if not objs or not getattr(settings, "SIMPLE_HISTORY_ENABLED", True):
        return 0
    model = type(objs[0])
    date = date or timezone.now()
    connection = connections[using]
    if connection.vendor != "postgresql":
        created = model.history.bulk_history_create(  # type: ignore[attr-defined]
            objs, default_user=user, default_change_reason=change_reason, default_date=date
        )
        return len(created)
    history = model.history.model  # type: ignore[attr-defined]
    quote = connection.ops.quote_name
    fields = history.tracked_fields
    source = ", ".join(f"t.{quote(field.column)}" for field in fields)
    target = [history._meta.get_field(field.name).column for field in fields]
    extra = [
        history._meta.get_field(name)
        for name in ("history_date", "history_user", "history_change_reason", "history_type")
    ]
    target += [field.column for field in extra]
    # Typed: with bound parameters a NULL user would otherwise reach PostgreSQL as text.
    values = ", ".join(f"CAST(%s AS {field.db_type(connection)})" for field in extra)
    # Only the models' own table, column and type names are formatted in (quoted); every
    # value is a parameter.
    into = f"{quote(history._meta.db_table)} ({', '.join(quote(c) for c in target)})"
    rows = (
        f"{quote(model._meta.db_table)} t JOIN unnest(%s::bigint[]) WITH ORDINALITY AS "
        f"wanted(pk, n) ON t.{quote(str(model._meta.pk.column))} = wanted.pk"
    )
    sql = f"INSERT INTO {into} SELECT {source}, {values} FROM {rows} ORDER BY wanted.n"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(
            sql, [date, getattr(user, "pk", user), change_reason, "+", [o.pk for o in objs]]
        )
        return cursor.rowcount


# --- statements on a hot path, without the query compiler ------------------------------
# The ORM builds every statement afresh: resolving lookups, joins and ordering costs about
# as much CPU as PostgreSQL spends running a short statement. The webhook worker runs the
# same few statements for every approval; these write them once, from the model's own
# table, column and type names, and still return model instances converted exactly as a
# queryset converts them (the backend's converters, then the field's).


def _prepped(model: type[Model], name: str, value: Any, connection: Any) -> Any:
    return model._meta.get_field(name).get_db_prep_save(value, connection)  # type: ignore[union-attr]


def _instances(model: type[Model], rows: Sequence[Sequence[Any]], connection: Any) -> list[Model]:
    fields = model._meta.concrete_fields
    table = model._meta.db_table
    converters = []
    for index, field in enumerate(fields):
        column = field.get_col(table)
        found = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
        if found:
            converters.append((index, found, column))
    names = [field.attname for field in fields]
    instances = []
    for row in rows:
        values = list(row)
        for index, functions, column in converters:
            for function in functions:
                values[index] = function(values[index], column, connection)
        instances.append(model.from_db(connection.alias, names, values))
    return instances


def _quoter(connection: Any) -> Any:
    return lambda name: connection.ops.quote_name(str(name))


def _columns(model: type[Model], connection: Any) -> str:
    quote = _quoter(connection)
    # Each column as the ORM selects it (a field may read its column through a cast).
    compiler: Any = SimpleNamespace(connection=connection)
    return ", ".join(
        f.select_format(compiler, quote(f.column), ())[0] for f in model._meta.concrete_fields
    )


def select_by_pk(
    model: type[Model], pks: Sequence[Any], *, using: str = DEFAULT_DB_ALIAS
) -> dict[Any, Model]:
    """The rows of ``model`` whose primary key is in ``pks``, by primary key (one
    ``SELECT``; none when ``pks`` is empty), as ``model.objects.in_bulk(pks)`` would
    return them."""
    if not pks:
        return {}
    connection = connections[using]
    pk = model._meta.pk
    assert pk is not None
    quote = _quoter(connection)
    in_list = ", ".join(["%s"] * len(pks))
    # Only the model's table and column names are formatted in; every value is a parameter.
    sql = (
        f"SELECT {_columns(model, connection)} FROM {quote(model._meta.db_table)}"  # noqa: S608
        f" WHERE {quote(pk.column)} IN ({in_list})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [pk.get_db_prep_value(v, connection) for v in pks])
        rows = cursor.fetchall()
    return {obj.pk: obj for obj in _instances(model, rows, connection)}


def update_by_pk(
    model: type[Model],
    pks: Sequence[Any],
    values: dict[str, Any],
    *,
    increment: Sequence[str] = (),
    where: str = "",
    where_values: Sequence[tuple[str, Any]] = (),
    returning: bool = False,
    using: str = DEFAULT_DB_ALIAS,
) -> Any:
    """``UPDATE model SET … WHERE pk IN pks [AND (where)] [RETURNING every column]``.

    ``values`` maps field names to new values (prepared by their fields, as
    ``QuerySet.update`` would); each name in ``increment`` is added 1. ``where`` is SQL
    over the table's column names with one ``%s`` per entry of ``where_values``, each a
    ``(field name, value)`` pair so the value is prepared by that field (a UUID on SQLite
    is 32 hex digits, a datetime is made aware). Returns the number of rows changed, or
    with ``returning`` the changed rows as model instances (their new values; order
    unspecified). RETURNING needs SQLite 3.35 or later (Django 5.2's minimum is 3.31:
    an older SQLite raises ``OperationalError``)."""
    if not pks:
        return [] if returning else 0
    connection = connections[using]
    meta = model._meta
    pk = meta.pk
    assert pk is not None
    quote = _quoter(connection)
    sets, params = [], []
    for name, value in values.items():
        sets.append(f"{quote(meta.get_field(name).column)} = %s")  # type: ignore[union-attr]
        params.append(_prepped(model, name, value, connection))
    for name in increment:
        column = quote(meta.get_field(name).column)  # type: ignore[union-attr]
        sets.append(f"{column} = {column} + 1")
    params += [pk.get_db_prep_value(v, connection) for v in pks]
    params += [_prepped(model, name, value, connection) for name, value in where_values]
    # Only the model's table and column names and the caller's condition are formatted in;
    # every value is a parameter.
    sql = (
        f"UPDATE {quote(meta.db_table)} SET {', '.join(sets)}"  # noqa: S608
        f" WHERE {quote(pk.column)} IN ({', '.join(['%s'] * len(pks))})"
    )
    if where:
        sql += f" AND ({where})"
    if returning:
        sql += f" RETURNING {_columns(model, connection)}"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        if not returning:
            return cursor.rowcount
        return _instances(model, cursor.fetchall(), connection)


def insert_returning_pks(
    model: type[Model], rows: Sequence[dict[str, Any]], *, using: str = DEFAULT_DB_ALIAS
) -> list[Any]:
    """Insert ``rows`` (dicts of field name → value, every dict with the same names; the
    model's Python defaults fill the other fields) in one ``INSERT … RETURNING`` of the
    primary key; returns the new primary keys in ``rows`` order (PostgreSQL and SQLite
    both return the rows of a multi-row ``VALUES`` in order)."""
    if not rows:
        return []
    connection = connections[using]
    meta = model._meta
    quote = _quoter(connection)
    given = list(rows[0])
    defaults = [
        f
        for f in meta.concrete_fields
        if not f.primary_key and f.name not in given and f.attname not in given
    ]
    names = [meta.get_field(n).column for n in given] + [f.column for f in defaults]  # type: ignore[union-attr]
    params: list[Any] = []
    for row in rows:
        params += [_prepped(model, n, row[n], connection) for n in given]
        params += [f.get_db_prep_save(f.get_default(), connection) for f in defaults]
    one = f"({', '.join(['%s'] * len(names))})"
    pk = meta.pk
    assert pk is not None
    # Only the model's table and column names are formatted in; every value is a parameter.
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(n) for n in names)})"  # noqa: S608
        f" VALUES {', '.join([one] * len(rows))} RETURNING {quote(pk.column)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


def lz4_compression(
    app_label: str, model_name: str, *field_names: str, reverse: str = "DEFAULT"
) -> migrations.RunPython:
    """A migration operation: PostgreSQL compresses the large values of these JSON columns
    with lz4 instead of its default pglz (PostgreSQL 14+, the oldest Django 5.2 supports;
    the server built with lz4).

    Why: an approval stores a frozen copy of every line item in each handoff payload, the
    change-feed event and the gate snapshot; pglz compressing those documents was a
    measurable part of what an approval spends per line item, and lz4 does the same work in
    a fraction of the time. A server built without lz4 keeps pglz (nothing fails); other
    databases are left alone. Values already stored keep their compression. Reversed: the
    server's default again, or ``reverse="lz4"`` for a migration that changes the column's
    type (which rewrites it with the default): one such operation on each side of the
    change keeps lz4 both ways."""

    def apply(method: str) -> Any:
        def run(apps: Any, schema_editor: Any) -> None:
            if schema_editor.connection.vendor != "postgresql":
                return
            model = apps.get_model(app_label, model_name)
            table = schema_editor.quote_name(model._meta.db_table)
            for name in field_names:
                column = schema_editor.quote_name(model._meta.get_field(name).column)
                schema_editor.execute(
                    "DO $$ BEGIN "
                    f"ALTER TABLE {table} ALTER COLUMN {column} SET COMPRESSION {method}; "
                    "EXCEPTION WHEN feature_not_supported THEN NULL; END $$"
                )

        return run

    return migrations.RunPython(apply("lz4"), apply(reverse), elidable=False)


def lz4_kept(
    app_label: str, model_name: str, field_names: Sequence[str], *operations: Any
) -> list[Any]:
    """Migration operations: ``operations`` (type changes of the ``field_names`` columns of
    one model) with lz4 compression kept on those columns, applied and reversed. Changing a
    column's type rewrites it with the server's default compression, so lz4 is set again
    after the change on the way forward and after its reversal on the way back."""
    keep = (app_label, model_name, *field_names)
    return [
        lz4_compression(*keep, reverse="lz4"),
        *operations,
        lz4_compression(*keep, reverse="lz4"),
    ]
