"""``manage.py rebuild_totals``: recompute the totals the database keeps (count and value
per stage, currency and owner; requests waiting per step group) from the deals and
approvals, and put back any missing trigger. Needed only after a write that bypassed the
triggers: a file-level restore, a ``COPY`` or bulk load with triggers disabled."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import DEFAULT_DB_ALIAS, connections

from opportunities import stage_totals


class Command(BaseCommand):
    help = "Recompute the kept stage totals and waiting counts from the deals and approvals."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS)

    def handle(self, *args: Any, **options: Any) -> None:
        if stage_totals.install(connections[options["database"]], rebuild=True):
            self.stdout.write("Totals recomputed from the deals and approvals.")
        else:
            self.stdout.write("This database keeps no totals (PostgreSQL and SQLite only).")
