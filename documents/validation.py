"""Upload checks: by content, by size, and a file name that is safe to store and show.

The type comes from the file's magic bytes (the ``filetype`` library), never from its
name or the client's Content-Type. A PDF must also be structurally a PDF: the
``%PDF-`` header and an ``%%EOF`` marker in its last kilobyte (ISO 32000-1 §7.5.5, the
file trailer), so a text file renamed and prefixed ``%PDF`` is refused too.
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from dataclasses import dataclass
from typing import IO

import filetype
from django.conf import settings

from core import errors
from core.errors import InvalidInput

from .errors import FileTooLarge, FileTypeNotAllowed

ALLOWED_TYPES: dict[str, str] = {
    "application/pdf": "pdf",
    "image/png": "png",
    "image/jpeg": "jpg",
}
NAME_MAX = 150
_CHUNK = 1024 * 1024
_UNSAFE = re.compile(r"[^\w.\- ()]+", re.UNICODE)


@dataclass(frozen=True)
class CheckedFile:
    name: str
    content_type: str
    size: int
    sha256: str


def max_bytes() -> int:
    return int(settings.DOCUMENT_MAX_BYTES)


def _field_error(code: str, message: str) -> list[errors.FieldError]:
    return [errors.FieldError(code, "file", message)]


class InvalidFileName(InvalidInput):
    title = "The file name is not acceptable"


def clean_name(raw: str, extension: str) -> str:
    """A display and storage name: at most :data:`NAME_MAX` characters, letters, digits
    and ``. _ - ( )`` and spaces only (others become ``_``), ending in the extension of
    the detected type (``Report (final).PDF`` → ``Report (final).pdf``).

    A name with a path separator (``/``, ``\\``) or a control character is refused,
    not repaired: raises :class:`InvalidFileName` (400, error code
    ``invalid_file_name``). An empty name becomes ``document.<ext>``.
    """
    text = unicodedata.normalize("NFC", str(raw or ""))
    if "/" in text or "\\" in text or any(unicodedata.category(ch)[0] == "C" for ch in text):
        raise InvalidFileName(
            "The file name contains a path separator or a control character.",
            errors=_field_error(
                "invalid_file_name", "Rename the file: no slashes or control characters."
            ),
        )
    stem = text.rsplit(".", 1)[0] if "." in text else text
    stem = _UNSAFE.sub("_", stem).strip(" ._-")
    stem = stem[: NAME_MAX - len(extension) - 1] or "document"
    return f"{stem}.{extension}"


def check_upload(file: IO[bytes], *, name: str, size: int | None = None) -> CheckedFile:
    """Check an uploaded file and return its safe name, detected type, size and SHA-256.

    ``file`` is read from the start (and rewound). Raises :class:`InvalidFileName` (400)
    for a name with a path separator or control character; :class:`FileTooLarge` (413,
    ``file_too_large``) above ``DOCUMENT_MAX_BYTES``; :class:`FileTypeNotAllowed`
    (415, ``file_type_not_allowed``) for an empty file or anything that is not a PDF,
    PNG or JPEG by content.
    """
    limit = max_bytes()
    clean_name(os.fspath(name) if name else "", "pdf")  # refuse a bad name before reading
    if size is not None and size > limit:
        raise FileTooLarge(
            f"The file is {size} bytes; the limit is {limit} bytes.",
            errors=_field_error("file_too_large", f"Attach a file of at most {limit} bytes."),
        )
    file.seek(0)
    digest = hashlib.sha256()
    head = b""
    tail = b""
    total = 0
    while chunk := file.read(_CHUNK):
        if not head:
            head = chunk[:8192]
        total += len(chunk)
        if total > limit:
            raise FileTooLarge(
                f"The file is larger than {limit} bytes.",
                errors=_field_error("file_too_large", f"Attach a file of at most {limit} bytes."),
            )
        digest.update(chunk)
        tail = (tail + chunk)[-1024:]
    file.seek(0)
    if total == 0:
        raise FileTypeNotAllowed(
            "The file is empty.",
            errors=_field_error("file_type_not_allowed", "The file is empty."),
        )
    kind = filetype.guess(head)
    mime = kind.mime if kind is not None else ""
    if mime not in ALLOWED_TYPES or (mime == "application/pdf" and not _looks_like_pdf(head, tail)):
        raise FileTypeNotAllowed(
            "The file is not a PDF, PNG or JPEG (judged by its content, not its name).",
            errors=_field_error("file_type_not_allowed", "Attach a PDF, PNG or JPEG file."),
        )
    return CheckedFile(
        name=clean_name(os.fspath(name) if name else "", ALLOWED_TYPES[mime]),
        content_type=mime,
        size=total,
        sha256=digest.hexdigest(),
    )


def _looks_like_pdf(head: bytes, tail: bytes) -> bool:
    return head.startswith(b"%PDF-") and b"%%EOF" in tail
