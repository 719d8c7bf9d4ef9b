"""Count and value of the deals per stage, currency and owner, kept by the database.

The board's column totals, the dashboard's pipeline and the deal list's count used to
aggregate every deal on every page: at a million deals that is a scan of the table
(~325 ms on PostgreSQL) however few deals a page shows. :class:`~opportunities.models.StageTotal`
holds the same sums, maintained on write, so those pages read a few hundred rows instead.

How the rows stay right:

* **Triggers, not signals.** Every write to a deal's stage, currency, owner or amount —
  a form, the API, the admin, a bulk action's ``UPDATE``, an import's ``bulk_create``, a
  data migration, raw SQL — goes through the database, so the database appends the change.
  PostgreSQL aggregates a whole ``INSERT`` or ``DELETE`` statement in one trigger call
  (transition tables) and appends two rows per deal whose stage, currency, owner or amount
  an ``UPDATE`` changed (a ``WHEN`` clause skips every other update); SQLite appends per row.
* **Append-only deltas.** A trigger only ever INSERTs (−1 and the old amount for the old
  key, +1 and the new amount for the new one). Concurrent transactions never update the
  same row, so they neither wait on each other nor deadlock, and a rolled-back write rolls
  its deltas back with it. A reader sums the rows of a key.
* **Compaction.** :func:`compact` folds the rows into one per key (Celery beat, every
  minute; ``make run`` and the compose file run beat), in a single statement on PostgreSQL
  so a delta committed meanwhile is never lost.
* **Self-healing install.** :func:`install` creates the triggers; it runs in the migration
  that added the table and after every ``migrate``. On SQLite a later migration that
  rebuilds the deals table drops its triggers; when any trigger is found missing the
  totals are recomputed from the deals.

What bypasses the triggers, and the cure: ``TRUNCATE`` of the deals or approvals on
PostgreSQL empties their totals (a trigger of its own); a flush is followed by a
recomputation; a ``loaddata`` that loads totals rows (a dump holding them would count the
loaded deals twice) recomputes them when it commits; ``manage.py rebuild_totals``
recomputes everything after any other bypass.

For later migrations: changing a trigger's SQL here reaches an existing database only
through a migration that calls ``install(connection, replace=True, rebuild=True)``.
PostgreSQL ties the update triggers to the columns they watch (``stage``, ``currency``,
``owner_id``, ``amount``; ``decision``, ``step_index``, ``route``): a migration that alters
the type of, renames or drops one of them calls ``uninstall`` before and
``install(connection, rebuild=True)`` after (PostgreSQL refuses the ``ALTER`` otherwise,
and a renamed column would break every write). On SQLite a migration that rebuilds a
totals table should ``uninstall`` first (the deals' triggers name it).

``priced`` counts the deals that have an amount, so a key whose deals have none reads as
"no amount" (``None``), exactly as ``SUM(amount)`` over those deals would.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from approvals.routing import REVOPS_GROUP
from approvals.selectors import step_group_sql


@dataclass(frozen=True)
class _Kept:
    """A table of totals kept from ``source`` by triggers. SQL fragments name a row of
    ``source`` as ``{r}`` (``NEW``, ``OLD`` or a table alias)."""

    table: str
    source: str
    # Key columns of the totals and, per database, the SQL of each from a source row.
    keys: tuple[str, ...]
    key_sql: dict[str, tuple[str, ...]]
    # (column, aggregate over rows, value of one row) of each summed measure.
    measures: tuple[tuple[str, str, str], ...]
    # Source columns whose change moves a row between keys or changes a measure.
    watched: tuple[str, ...]
    # Rows of ``source`` that count (SQL on ``{r}``), or "" for every row.
    where: str = ""

    @property
    def triggers(self) -> tuple[str, str, str]:
        return (f"{self.table}_insert", f"{self.table}_update", f"{self.table}_delete")

    def triggers_on(self, vendor: str) -> tuple[str, ...]:
        # SQLite has no TRUNCATE; PostgreSQL's fires no row trigger, so it has its own.
        truncate = (f"{self.table}_truncate",) if vendor == "postgresql" else ()
        return (*self.triggers, *truncate)

    @property
    def columns(self) -> str:
        return ", ".join((*self.keys, *(m[0] for m in self.measures)))

    def _where(self, r: str) -> str:
        return f" WHERE {self.where.format(r=r)}" if self.where else ""

    def _keys(self, vendor: str, r: str) -> str:
        return ", ".join(k.format(r=r) for k in self.key_sql[vendor])

    def aggregated(self, vendor: str, rows: str, *, sign: str = "") -> str:
        """Totals of the rows of table ``rows`` (alias ``r``), grouped by key."""
        keys = self._keys(vendor, "r")
        sums = ", ".join(f"{sign}{m[1].format(r='r')}" for m in self.measures)
        return f"SELECT {keys}, {sums} FROM {rows} r{self._where('r')} GROUP BY {keys}"

    def one(self, vendor: str, r: str, *, sign: str = "") -> str:
        """The totals of one row ``r`` (nothing when it does not count)."""
        values = ", ".join(f"{sign}{m[2].format(r=r)}" for m in self.measures)
        return f"SELECT {self._keys(vendor, r)}, {values}{self._where(r)}"

    def changed(self, vendor: str) -> str:
        op = "IS DISTINCT FROM" if vendor == "postgresql" else "IS NOT"
        return " OR ".join(f"OLD.{c} {op} NEW.{c}" for c in self.watched)

    def folded(self, source: str) -> str:
        """The rows of ``source`` folded per key; keys left holding nothing dropped."""
        keys = ", ".join(self.keys)
        sums = ", ".join(f"sum({m[0]})" for m in self.measures)
        nothing = " OR ".join(f"sum({m[0]}) <> 0" for m in self.measures)
        return f"SELECT {keys}, {sums} FROM {source} GROUP BY {keys} HAVING {nothing}"

    def install_sql(self, vendor: str) -> list[str]:
        insert, update, delete = self.triggers
        into = f"INSERT INTO {self.table} ({self.columns})"
        moved = f"{into} {self.one(vendor, 'OLD', sign='-')} UNION ALL {self.one(vendor, 'NEW')}"
        watched = ", ".join(self.watched)
        if vendor == "postgresql":

            def function(name: str, body: str) -> str:
                return (
                    f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql"
                    f" AS $$ BEGIN {body}; RETURN NULL; END $$"
                )

            return [
                function(insert, f"{into} {self.aggregated(vendor, 'new_rows')}"),
                function(delete, f"{into} {self.aggregated(vendor, 'old_rows', sign='-')}"),
                function(update, moved),
                function(f"{self.table}_truncate", f"DELETE FROM {self.table}"),
                *(f"DROP TRIGGER IF EXISTS {t} ON {self.source}" for t in self.triggers_on(vendor)),
                # A whole INSERT or DELETE statement (an import, a bulk load) in one call.
                f"CREATE TRIGGER {insert} AFTER INSERT ON {self.source}"
                f" REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {insert}()",
                f"CREATE TRIGGER {delete} AFTER DELETE ON {self.source}"
                f" REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION {delete}()",
                f"CREATE TRIGGER {update} AFTER UPDATE OF {watched} ON {self.source}"
                f" FOR EACH ROW WHEN ({self.changed(vendor)}) EXECUTE FUNCTION {update}()",
                f"CREATE TRIGGER {self.table}_truncate AFTER TRUNCATE ON {self.source}"
                f" FOR EACH STATEMENT EXECUTE FUNCTION {self.table}_truncate()",
            ]
        return [
            *(f"DROP TRIGGER IF EXISTS {t}" for t in self.triggers),
            f"CREATE TRIGGER {insert} AFTER INSERT ON {self.source}"
            f" BEGIN {into} {self.one(vendor, 'NEW')}; END",
            f"CREATE TRIGGER {delete} AFTER DELETE ON {self.source}"
            f" BEGIN {into} {self.one(vendor, 'OLD', sign='-')}; END",
            f"CREATE TRIGGER {update} AFTER UPDATE OF {watched} ON {self.source}"
            f" WHEN {self.changed(vendor)} BEGIN {moved}; END",
        ]

    def drop_sql(self, vendor: str) -> list[str]:
        if vendor == "postgresql":
            names = self.triggers_on(vendor)
            return [f"DROP TRIGGER IF EXISTS {t} ON {self.source}" for t in names] + [
                f"DROP FUNCTION IF EXISTS {t}()" for t in names
            ]
        return [f"DROP TRIGGER IF EXISTS {t}" for t in self.triggers]

    def rebuild_sql(self, vendor: str) -> list[str]:
        return [
            f"DELETE FROM {self.table}",
            f"INSERT INTO {self.table} ({self.columns}) {self.aggregated(vendor, self.source)}",
        ]


_PRICED = "CASE WHEN {r}.amount IS NULL THEN 0 ELSE 1 END"

STAGE_TOTALS = _Kept(
    table="opportunities_stagetotal",
    source="opportunities_opportunity",
    keys=("stage", "currency", "owner_id"),
    key_sql=dict.fromkeys(("postgresql", "sqlite"), ("{r}.stage", "{r}.currency", "{r}.owner_id")),
    measures=(
        ("count", "count(*)", "1"),
        ("amount", "coalesce(sum({r}.amount), 0)", "coalesce({r}.amount, 0)"),
        ("priced", "count({r}.amount)", _PRICED),
    ),
    watched=("stage", "currency", "owner_id", "amount"),
)

# The Closed-Won requests waiting, per group of their current step (the expression of
# ``approvals.selectors.with_step_group``: RevOps for a request from before routing).
WAITING_TOTALS = _Kept(
    table="opportunities_waitingtotal",
    source="opportunities_approval",
    keys=("step_group",),
    key_sql={
        vendor: (
            f"coalesce({step_group_sql(vendor, '{r}.route', '{r}.step_index')}, '{REVOPS_GROUP}')",
        )
        for vendor in ("postgresql", "sqlite")
    },
    measures=(("count", "count(*)", "1"),),
    watched=("decision", "step_index", "route"),
    where="{r}.decision = 'pending'",
)

KEPT = (STAGE_TOTALS, WAITING_TOTALS)
TABLE = STAGE_TOTALS.table
TRIGGERS = tuple(t for kept in KEPT for t in kept.triggers_on("postgresql"))
# Every compaction and rebuild holds this PostgreSQL advisory lock (per transaction).
_LOCK = "SELECT pg_advisory_xact_lock(hashtext(%s))"
_TRY_LOCK = "SELECT pg_try_advisory_xact_lock(hashtext(%s))"


def _installed(connection: BaseDatabaseWrapper) -> set[str]:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
        else:
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        return {row[0] for row in cursor.fetchall()} & set(TRIGGERS)


def install(
    connection: BaseDatabaseWrapper, *, rebuild: bool | None = None, replace: bool = False
) -> bool:
    """Create the triggers of every kept total on ``connection`` (PostgreSQL or SQLite;
    other databases are left alone) — those missing, or every one with ``replace`` (a
    migration that changes their SQL) — and, when ``rebuild`` is true — or, by default, when
    any of a table's triggers was missing — recompute that table's totals from its
    source, in the same transaction with the source's writers held back (PostgreSQL:
    ``SHARE`` lock; SQLite: one writer at a time), so no write falls between. Returns
    whether any totals were recomputed."""
    vendor = connection.vendor
    if vendor not in ("postgresql", "sqlite"):
        return False
    rebuilt = False
    with transaction.atomic(using=connection.alias):
        installed = _installed(connection)
        with connection.cursor() as cursor:
            if vendor == "postgresql" and rebuild is not False:
                # A compaction committing during the rebuild would add its folded rows to
                # the recomputed ones: wait for it, and keep the next one out.
                cursor.execute(_LOCK, [TABLE])
            for kept in KEPT:
                missing = set(kept.triggers_on(vendor)) - installed
                again = bool(missing) if rebuild is None else rebuild
                if missing or replace:
                    for statement in kept.install_sql(vendor):
                        cursor.execute(statement)
                if again:
                    if vendor == "postgresql":
                        # Writers wait until the recomputed totals commit: a deal written
                        # between the DELETE and the INSERT would count twice.
                        cursor.execute(f"LOCK TABLE {kept.source} IN SHARE MODE")
                    for statement in kept.rebuild_sql(vendor):
                        cursor.execute(statement)
                    rebuilt = True
    return rebuilt


def uninstall(connection: BaseDatabaseWrapper) -> None:
    """Drop the triggers (the migration's reverse)."""
    if connection.vendor not in ("postgresql", "sqlite"):
        return
    with connection.cursor() as cursor:
        for kept in KEPT:
            for statement in kept.drop_sql(connection.vendor):
                cursor.execute(statement)


def compact(using: str = "default") -> int:
    """Fold the rows of each key into one and drop keys that hold nothing, in every kept
    table. Returns the number of rows removed. On PostgreSQL one statement per table under
    a transaction-level advisory lock (a second compaction running at the same time
    returns 0 at once): the rows it deletes and the sums it inserts come from the same
    snapshot, so a delta committed meanwhile stays for the next run. On SQLite the write
    transaction excludes every other writer."""
    connection = connections[using]
    removed = 0
    with transaction.atomic(using=using), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(_TRY_LOCK, [TABLE])
            if not cursor.fetchone()[0]:
                return 0
        for kept in KEPT:
            table, columns = kept.table, kept.columns
            cursor.execute(
                f"SELECT (SELECT count(*) FROM {table}),"
                f" (SELECT count(*) FROM ({kept.folded(table)}) folded)"
            )
            rows, keys = cursor.fetchone()
            if rows == keys:
                continue  # one row per key already, none empty: nothing to fold
            if connection.vendor == "postgresql":
                cursor.execute(
                    f"WITH gone AS (DELETE FROM {table} RETURNING {columns}),"
                    f" kept AS (INSERT INTO {table} ({columns}) {kept.folded('gone')}"
                    " RETURNING 1)"
                    " SELECT (SELECT count(*) FROM gone) - (SELECT count(*) FROM kept)"
                )
                removed += int(cursor.fetchone()[0])
                continue
            cursor.execute(f"SELECT max(id) FROM {table}")
            last = cursor.fetchone()[0] or 0
            cursor.execute(
                f"INSERT INTO {table} ({columns}) "
                + kept.folded(f"(SELECT * FROM {table} WHERE id <= %s)"),
                [last],
            )
            cursor.execute(
                f"SELECT count(*) - %s FROM {table} WHERE id <= %s", [cursor.rowcount, last]
            )
            removed += int(cursor.fetchone()[0])
            cursor.execute(f"DELETE FROM {table} WHERE id <= %s", [last])
    return removed


@dataclass(frozen=True)
class Row:
    """Deals of one stage and currency: how many, and the sum of their amounts (``None``
    when none of them has an amount)."""

    stage: str
    currency: str
    count: int
    amount: Decimal | None


def rows(*, owner_id: int | None = None, stages: Iterable[str] | None = None) -> list[Row]:
    """Per stage and currency, the deals of ``owner_id`` (everyone's when ``None``) in
    ``stages`` (every stage when ``None``), the keys that hold a deal only. One query."""
    from django.db.models import Sum

    from .models import StageTotal

    qs: Any = StageTotal.objects.all()
    if owner_id is not None:
        qs = qs.filter(owner_id=owner_id)
    if stages is not None:
        qs = qs.filter(stage__in=list(stages))
    out = []
    for r in (
        qs.order_by()
        .values("stage", "currency")
        .annotate(n=Sum("count"), total=Sum("amount"), priced=Sum("priced"))
    ):
        if r["n"]:
            out.append(
                Row(r["stage"], r["currency"], int(r["n"]), r["total"] if r["priced"] else None)
            )
    return out


def count(*, owner_id: int | None = None, stages: Iterable[str] | None = None) -> int:
    """How many deals of ``owner_id`` (everyone's when ``None``) are in ``stages`` (any
    stage when ``None``). One query."""
    return sum(r.count for r in rows(owner_id=owner_id, stages=stages))
