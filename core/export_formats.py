"""django-import-export formats whose exports are safe to open in a spreadsheet.

django-import-export's own ``IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT`` (4.x) only strips
the first ``=`` of a cell (``==1+1`` still runs, ``+``, ``-``, ``@``, tab and carriage
return are not handled) and writes empty cells as the text ``None``; it stays off. These
formats escape every text cell with :func:`core.csv_safety.escape_cell` instead, and undo
the escape when the same file is imported, so an export re-imports unchanged. Settings
``EXPORT_FORMATS`` / ``IMPORT_FORMATS`` list them, so every admin export (the export page
and the "export selected" action of every ``ImportExportModelAdmin``) goes through them.
"""

from __future__ import annotations

from typing import Any

from import_export.formats import base_formats

from .csv_safety import escape_cell, unescape_cell


def _map_cells(dataset: Any, transform: Any) -> Any:
    rows = [[transform(cell) for cell in row] for row in dataset]
    headers, title = dataset.headers, dataset.title
    dataset.wipe()
    dataset.headers, dataset.title = headers, title
    for row in rows:
        dataset.append(row)
    return dataset


class _SpreadsheetSafe:
    def export_data(self, dataset: Any, **kwargs: Any) -> Any:
        return super().export_data(_map_cells(dataset, escape_cell), **kwargs)  # type: ignore[misc]

    def create_dataset(self, in_stream: Any, **kwargs: Any) -> Any:
        dataset = super().create_dataset(in_stream, **kwargs)  # type: ignore[misc]
        return _map_cells(dataset, unescape_cell)


class SafeCSV(_SpreadsheetSafe, base_formats.CSV):
    """CSV with formula-like cells escaped on export and unescaped on import."""


class SafeTSV(_SpreadsheetSafe, base_formats.TSV):
    """TSV with formula-like cells escaped on export and unescaped on import."""


# JSON and YAML carry values, not formulas: nothing to escape. HTML is left out because
# spreadsheets open an HTML table and run its formulas.
EXPORT_FORMATS = [SafeCSV, SafeTSV, base_formats.JSON, base_formats.YAML]
IMPORT_FORMATS = [SafeCSV, SafeTSV, base_formats.JSON, base_formats.YAML]
