"""Cells that are safe to open in a spreadsheet (CSV / formula injection).

Excel, LibreOffice and Google Sheets run a cell that begins with ``=``, ``+``, ``-`` or
``@`` as a formula, and some treat a leading tab or carriage return the same way. A
value a customer or rep typed (``=HYPERLINK("http://x.example","y")``, ``+1+1``) would run
on the RevOps machine that opens the export. Following the OWASP "CSV Injection"
guidance, such a cell is written with a leading apostrophe, which every spreadsheet shows
as text and hides; the rest of the value is kept as it was.

Only text is escaped: numbers, dates and booleans written by the exporter cannot be
formulas (a negative Decimal stays ``-5``). Text that merely looks like a number
(``"-5"``, a phone ``"+1 555 0100"``) is escaped too: the rule is the first character.

Importing reverses it (:func:`unescape_cell`): an apostrophe followed by one of those
characters is the escape, so an export imports back unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
ESCAPE = "'"


def escape_cell(value: Any) -> Any:
    """``value`` made safe for a spreadsheet cell: text beginning with ``=``, ``+``, ``-``,
    ``@``, tab or carriage return gets a leading ``'``; anything else is returned as is.

    ``escape_cell("=1+1") == "'=1+1"``, ``escape_cell("Acme") == "Acme"``,
    ``escape_cell(Decimal("-5")) == Decimal("-5")``."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return ESCAPE + value
    return value


def escape_row(row: Iterable[Any]) -> list[Any]:
    """Every cell of ``row`` through :func:`escape_cell` (for ``csv.writer.writerow``)."""
    return [escape_cell(cell) for cell in row]


def unescape_cell(value: Any) -> Any:
    """The inverse of :func:`escape_cell` for a cell read from an import: a leading ``'``
    before one of the formula characters is dropped; anything else is returned as is."""
    if (
        isinstance(value, str)
        and value.startswith(ESCAPE)
        and value[1:].startswith(FORMULA_PREFIXES)
    ):
        return value[1:]
    return value
