"""Every OpenAPI example of the document resources, in one place.

Deal 7 (Initech) carries its signed order form, uploaded by its owner Alice (user 1);
RevOps (user 3) require a purchase order from 250,000.00 up. Values are what the API answers.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample

from api.examples import BodyExample, page, problem_example

from ..errors import FileTooLarge, FileTypeNotAllowed

DOCUMENT: dict[str, Any] = {
    "id": 4,
    "opportunity": 7,
    "kind": "signed_contract",
    "name": "Initech order form - signed.pdf",
    "size": 48211,
    "content_type": "application/pdf",
    "sha256": "5a9ca9b7e54dcd88b9baf8eb8af3e0b793041f4a63bc5396f2eefe96905648f0",
    "source": "upload",
    "esign_envelope_id": "",
    "esign_status": "",
    "uploaded_by": 1,
    "uploaded_at": "2025-01-30T17:48:03.660215Z",
    "removed_at": None,
    "download_url": "/api/v1/documents/4/download/",
}
DOCUMENT_FROM_ESIGN: dict[str, Any] = {
    **DOCUMENT,
    "id": 5,
    "name": "Initech MSA - signed.pdf",
    "size": 91840,
    "sha256": "b3ff1efa74cefa0d5013b801cf870e1806728852bb2093176f328d0b6fdaec2d",
    "source": "esign",
    "esign_envelope_id": "env-7f3a2c",
    "esign_status": "completed",
    "uploaded_by": None,
    "uploaded_at": "2025-01-31T09:12:40.007771Z",
    "download_url": "/api/v1/documents/5/download/",
}
REQUIREMENT: dict[str, Any] = {
    "id": 2,
    "kind": "purchase_order",
    "min_amount": "250000.00",
    "created_by": 3,
    "created_at": "2025-01-02T10:00:41.669223Z",
}
ALWAYS: dict[str, Any] = {
    "id": 1,
    "kind": "signed_contract",
    "min_amount": None,
    "created_by": 3,
    "created_at": "2024-12-18T08:30:02.418083Z",
}


def _one(name: str, value: Any, status_code: int = 200) -> OpenApiExample:
    return OpenApiExample(name, value=value, response_only=True, status_codes=[str(status_code)])


_UPLOAD = "/api/v1/opportunities/7/documents/"
DOCUMENT_LIST = [
    BodyExample("The deal's documents", page(_UPLOAD, DOCUMENT, DOCUMENT_FROM_ESIGN, last=True))
]
DOCUMENT_CREATE = [
    _one("Attached", DOCUMENT, 201),
    problem_example(
        "Not a PDF, PNG or JPEG",
        FileTypeNotAllowed(
            "The file is a ZIP archive.",
            errors=[
                {
                    "code": "file_type_not_allowed",
                    "field": "file",
                    "message": "Attach a PDF, PNG or JPEG file.",
                }
            ],
        ),
        instance=_UPLOAD,
    ),
    problem_example(
        "Too large",
        FileTooLarge(
            "The file is 31457280 bytes; the limit is 20971520 bytes.",
            errors=[
                {
                    "code": "file_too_large",
                    "field": "file",
                    "message": "Attach a file of at most 20971520 bytes.",
                }
            ],
        ),
        instance=_UPLOAD,
    ),
]
DOCUMENT_RETRIEVE = [_one("A signed contract", DOCUMENT)]
# The bytes as stored; the response's Content-Type is the document's own (here a PDF).
DOCUMENT_DOWNLOAD = [
    OpenApiExample(
        "The first bytes of a PDF",
        value="%PDF-1.7\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n",
        response_only=True,
        media_type="application/octet-stream",
        status_codes=["200"],
    )
]
REQUIREMENT_LIST = [
    BodyExample(
        "The evidence rules",
        page("/api/v1/evidence-requirements/", ALWAYS, REQUIREMENT, last=True),
    )
]
REQUIREMENT_CREATE = [
    OpenApiExample(
        "A PO from 250,000.00",
        request_only=True,
        value={"kind": "purchase_order", "min_amount": "250000.00"},
    ),
    _one("Created", REQUIREMENT, 201),
]
REQUIREMENT_RETRIEVE = [_one("A PO from 250,000.00", REQUIREMENT)]
ESIGN = [
    OpenApiExample(
        "Envelope completed",
        request_only=True,
        value={
            "envelope_id": "env-7f3a2c",
            "status": "completed",
            "opportunity_id": 7,
            "document": {
                "name": "Initech MSA - signed.pdf",
                "content_base64": "JVBERi0xLjcKMSAwIG9iago8PCAvVHlwZSAvQ2F0YWxvZyA+PgplbmRvYmoK",
            },
        },
    ),
    _one("Attached", {"status": "processed", "event": 12, "document": 5}),
    _one("The same event again", {"status": "duplicate", "event": 12, "document": 5}),
]
