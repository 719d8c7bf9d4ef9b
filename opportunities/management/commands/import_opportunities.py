"""``import_opportunities FILE --user USERNAME [--batch N] [--report OUT.csv]``.

The admin's opportunity import from the command line, in the same CSV format (an export
of the admin or of ``export_opportunities`` whose ``id``, stage, contract and PO columns
are cleared imports back as new deals). Every row goes through the import service
(``opportunities.services.imports.import_rows``: batches of new deals checked in memory
and bulk-inserted, every other row through the gated services one at a time) as
``--user``, a RevOps user. Progress goes to stderr; each refused row is reported with its
line number, field and error code; the exit status is 1 when any row failed.
"""

from __future__ import annotations

import csv
import sys
import time
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from opportunities.services import imports


class Command(BaseCommand):
    help = "Import opportunities from a CSV file through the import service."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="CSV file (the admin's export format); - for stdin.")
        parser.add_argument("--user", required=True, help="RevOps username to import as.")
        parser.add_argument("--batch", type=int, default=imports.BATCH_SIZE)
        parser.add_argument("--report", help="Write every failed row's errors to this CSV.")

    def handle(self, *args: Any, **options: Any) -> None:
        User = get_user_model()
        actor = User.objects.filter(username=options["user"], is_active=True).first()
        if actor is None:
            raise CommandError(f"There is no active user {options['user']!r}.")
        lines: dict[int, int] = {}
        failures: list[tuple[int, dict[str, str]]] = []
        started = time.monotonic()

        def on_row(outcome: imports.RowOutcome) -> None:
            line = lines.pop(outcome.number, outcome.number + 1)
            for error in outcome.errors:
                self.stdout.write(
                    f"line {line} (row {outcome.number}): {error.get('code')} "
                    f"on {error.get('field')}: {error.get('message')}"
                )
                if options["report"]:
                    failures.append((line, error))

        def progress(done: int) -> None:
            rate = done / max(time.monotonic() - started, 1e-6)
            self.stderr.write(f"\r  {done} rows ({rate:,.0f}/s)", ending="")
            self.stderr.flush()

        if options["file"] == "-":
            report = imports.import_rows(
                kind="opportunities",
                actor=actor,
                rows=imports.csv_rows(sys.stdin, lines),
                progress=progress,
                batch_size=options["batch"],
                on_row=on_row,
                keep_failed=0,
            )
        else:
            try:
                handle = open(options["file"], encoding="utf-8-sig", newline="")  # noqa: SIM115
            except OSError as exc:
                raise CommandError(f"Cannot read {options['file']}: {exc.strerror}.") from None
            with handle:
                report = imports.import_rows(
                    kind="opportunities",
                    actor=actor,
                    rows=imports.csv_rows(handle, lines),
                    progress=progress,
                    batch_size=options["batch"],
                    on_row=on_row,
                    keep_failed=0,
                )
        self.stderr.write("")
        if options["report"]:
            with open(options["report"], "w", encoding="utf-8", newline="") as out:
                writer = csv.writer(out)
                writer.writerow(["line", "code", "field", "message"])
                for line, error in failures:
                    writer.writerow(
                        [line, error.get("code"), error.get("field"), error.get("message")]
                    )
        elapsed = time.monotonic() - started
        self.stdout.write(
            f"{report.rows} rows in {elapsed:.1f} s: {report.new} new, {report.updated} updated, "
            f"{report.skipped} unchanged, {report.failures} failed."
        )
        if report.failures:
            sys.exit(1)
