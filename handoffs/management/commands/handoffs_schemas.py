"""Print the JSON Schema of every event type, or write it into docs/handoffs.md."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from handoffs.events import DOCS_BEGIN, DOCS_END, docs_section

DOCS = Path(settings.BASE_DIR) / "docs" / "handoffs.md"


def docs_with_schemas(text: str) -> str:
    """``text`` (docs/handoffs.md) with its generated block replaced by the current one."""
    start, end = text.find(DOCS_BEGIN), text.find(DOCS_END)
    if start < 0 or end < 0:
        raise CommandError(f"{DOCS} has no {DOCS_BEGIN!r} … {DOCS_END!r} block.")
    return text[:start] + docs_section() + text[end + len(DOCS_END) :]


class Command(BaseCommand):
    help = "Print the event payload JSON Schemas; --write updates docs/handoffs.md."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--write", action="store_true", help="Update docs/handoffs.md.")
        parser.add_argument(
            "--check", action="store_true", help="Fail when docs/handoffs.md is out of date."
        )

    def handle(self, *args: Any, write: bool = False, check: bool = False, **options: Any) -> None:
        if not (write or check):
            self.stdout.write(docs_section())
            return
        current = DOCS.read_text()
        wanted = docs_with_schemas(current)
        if check:
            if wanted != current:
                raise CommandError("docs/handoffs.md is out of date: run handoffs_schemas --write")
            return
        DOCS.write_text(wanted)
        self.stdout.write(f"Wrote the event schemas into {DOCS}.")
