"""Serving a document's bytes: the one place that opens a stored file for a reader."""

from __future__ import annotations

from django.http import FileResponse, Http404
from django.utils.cache import patch_cache_control

from .models import Document


def file_response(document: Document, *, inline: bool = False) -> FileResponse:
    """The stored bytes with the type detected at upload (never the client's), as an
    attachment (or ``inline`` for the in-page viewer), private and not cached by shared
    caches. A file missing from storage is a 404, not a 500."""
    try:
        handle = document.file.open("rb")
    except (FileNotFoundError, OSError) as exc:
        raise Http404("The file is missing from storage.") from exc
    response = FileResponse(
        handle,
        as_attachment=not inline,
        filename=document.name,
        content_type=document.content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    patch_cache_control(response, private=True, no_store=True)
    return response
