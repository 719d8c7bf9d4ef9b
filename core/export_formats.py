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

import csv
import io
from collections.abc import Iterable, Iterator
from typing import Any

from django.db.models import QuerySet
from django.http import StreamingHttpResponse
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


STREAM_CHUNK = 2000


def iter_chunked(queryset: Any, chunk_size: int = STREAM_CHUNK) -> Iterator[Any]:
    """Every object of ``queryset`` with memory bounded by ``chunk_size`` rows: a
    server-side cursor on PostgreSQL (``QuerySet.iterator``), with ``prefetch_related``
    lookups done once per chunk; no COUNT and no OFFSET, so the cost per row stays the
    same however deep the export goes."""
    if not isinstance(queryset, QuerySet):
        yield from queryset
        return
    if not queryset.query.order_by and not queryset.model._meta.ordering:
        queryset = queryset.order_by("pk")
    yield from queryset.iterator(chunk_size=chunk_size)


def stream_delimited(
    headers: Iterable[Any], rows: Iterable[Iterable[Any]], *, tab: bool = False
) -> Iterator[str]:
    """``headers`` then ``rows`` as CSV (or TSV) text, a chunk of lines at a time, every
    cell through :func:`core.csv_safety.escape_cell`; ``None`` is an empty cell. The same
    bytes as :class:`SafeCSV` / :class:`SafeTSV` write for the whole file at once."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, dialect="excel-tab" if tab else "excel")
    writer.writerow([escape_cell(h) for h in headers])
    for count, row in enumerate(rows, start=1):
        writer.writerow([escape_cell(cell) for cell in row])
        if count % 500 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def row_exporter(resource: Any, export_fields: list[str] | None = None) -> Any:
    """``obj → row`` equal to ``resource.export_resource(obj, selected_fields=…)``, with
    the per-field lookups (which field, which ``dehydrate_*`` method) done once instead of
    for every cell: the library repeats them per row, which dominates a large export."""
    cells = []
    for field in resource.get_export_fields(export_fields):
        dehydrate = field.get_dehydrate_method(resource.get_field_name(field))
        method = dehydrate if callable(dehydrate) else getattr(resource, dehydrate, None)
        cells.append(method if method is not None else field.export)
    return lambda obj: [cell(obj) for cell in cells]


def stream_resource(
    resource: Any,
    queryset: Any,
    *,
    export_fields: list[str] | None = None,
    tab: bool = False,
) -> Iterator[str]:
    """A django-import-export ``resource``'s export of ``queryset`` as CSV/TSV text,
    streamed (:func:`iter_chunked` + :func:`stream_delimited`): the columns and cell
    values of the admin's export page, memory flat however many rows."""
    if queryset is None:
        queryset = resource.get_queryset()
    queryset = resource.filter_export(queryset, export_fields=export_fields)
    headers = resource.get_export_headers(selected_fields=export_fields)
    return stream_delimited(headers, resource_rows(resource, queryset, export_fields), tab=tab)


def resource_rows(
    resource: Any, queryset: Any, export_fields: list[str] | None = None
) -> Iterator[list[Any]]:
    """The export rows of ``queryset``: the resource's own ``export_rows`` when it has one
    (a values-based fast path yielding the same cells), else each object through the
    resource's columns (:func:`row_exporter`) over :func:`iter_chunked`."""
    if hasattr(resource, "export_rows"):
        yield from resource.export_rows(queryset, export_fields)
        return
    export_row = row_exporter(resource, export_fields)
    for obj in iter_chunked(queryset, resource.get_chunk_size() or STREAM_CHUNK):
        yield export_row(obj)


class StreamedExportMixin:
    """For an ``ImportExportModelAdmin``: CSV and TSV exports (the export page and the
    "export selected" action) are streamed with :func:`stream_resource` instead of built
    in memory: a server-side cursor in chunks with prefetches per chunk, escaped cell by
    cell, memory flat however many rows. Other formats are the library's."""

    def _do_file_export(self, file_format, request, queryset, export_form=None):  # type: ignore[no-untyped-def]
        if not isinstance(file_format, (SafeCSV, SafeTSV)):
            return super()._do_file_export(file_format, request, queryset, export_form)  # type: ignore[misc]
        resource_class = self.choose_export_resource_class(export_form, request)  # type: ignore[attr-defined]
        resource = resource_class(
            **self.get_export_resource_kwargs(request, export_form=export_form)  # type: ignore[attr-defined]
        )
        fields = self.get_export_resource_fields_from_form(export_form)  # type: ignore[attr-defined]
        body = stream_resource(
            resource, queryset, export_fields=fields, tab=isinstance(file_format, SafeTSV)
        )
        encoding = getattr(self, "to_encoding", None) or "utf-8"
        response = StreamingHttpResponse(
            (chunk.encode(encoding) for chunk in body),
            content_type=file_format.get_content_type(),
        )
        filename = self.get_export_filename(request, queryset, file_format)  # type: ignore[attr-defined]
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response
