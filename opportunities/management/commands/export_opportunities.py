"""``export_opportunities [-o FILE]``: every opportunity as the admin's CSV export.

The same columns and cell values as the admin's export page (the admin's
``OpportunityResource``), formula-like cells escaped, streamed with a server-side cursor
in chunks (line items prefetched per chunk): memory stays flat however many deals. To
stdout by default; with ``-o`` to a file, with progress on stderr.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from core.export_formats import stream_resource
from opportunities.admin.resources import OpportunityResource


class Command(BaseCommand):
    help = "Export every opportunity as CSV (the admin's format), streamed."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("-o", "--output", help="File to write (default: stdout).")

    def handle(self, *args: Any, **options: Any) -> None:
        resource = OpportunityResource()
        body = stream_resource(resource, resource.get_queryset())
        if not options["output"]:
            for chunk in body:
                self.stdout.write(chunk, ending="")
            self.stdout.flush()
            return
        started = time.monotonic()
        size = 0
        with open(options["output"], "w", encoding="utf-8", newline="") as out:
            for chunk in body:
                out.write(chunk)
                size += len(chunk)
                self.stderr.write(f"\r  {size / 1e6:.1f} MB written", ending="")
        rows = resource.get_queryset().count()
        self.stderr.write("")
        self.stdout.write(
            f"{rows} opportunities to {options['output']} in {time.monotonic() - started:.1f} s."
        )
