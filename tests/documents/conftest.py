"""Documents test helpers: a private local storage per test, sample files, a deal."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path

import pytest
from standardwebhooks import Webhook

from documents.samples import sample_pdf
from tests.factories import ready_opportunity

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
WHSEC = "whsec_" + base64.b64encode(b"esign-test-secret-0123456789abcdef").decode()
DOCUSIGN_KEY = "docusign-connect-hmac-key-for-tests"


@pytest.fixture(autouse=True)
def local_documents(settings, tmp_path) -> Path:
    """Documents go to a fresh folder (the default filesystem storage) for each test."""
    root = tmp_path / "documents"
    settings.STORAGES = {
        **settings.STORAGES,
        "documents": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(root)},
        },
    }
    settings.ESIGN_WEBHOOK_SECRET = WHSEC
    settings.ESIGN_DOCUSIGN_HMAC_KEY = DOCUSIGN_KEY
    return root


def stored_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


@pytest.fixture
def pdf() -> bytes:
    return sample_pdf(["Purchase order 4711", "Signed"])


@pytest.fixture
def opportunity(rep):
    return ready_opportunity(rep, amount=None)


def standard_headers(body: bytes, msg_id: str, secret: str = WHSEC) -> dict[str, str]:
    import datetime as dt

    now = dt.datetime.now(tz=dt.UTC)
    signature = Webhook(secret).sign(msg_id, now, body.decode())
    return {
        "HTTP_WEBHOOK_ID": msg_id,
        "HTTP_WEBHOOK_TIMESTAMP": str(int(now.timestamp())),
        "HTTP_WEBHOOK_SIGNATURE": signature,
    }


def docusign_headers(body: bytes, key: str = DOCUSIGN_KEY) -> dict[str, str]:
    digest = hmac.new(key.encode(), body, hashlib.sha256).digest()
    return {"HTTP_X_DOCUSIGN_SIGNATURE_1": base64.b64encode(digest).decode()}


def simple_event(
    envelope_id: str, status: str, opportunity_id: int, pdf: bytes | None = None
) -> bytes:
    event: dict = {"envelope_id": envelope_id, "status": status, "opportunity_id": opportunity_id}
    if pdf is not None:
        event["document"] = {
            "name": "contract.pdf",
            "content_base64": base64.b64encode(pdf).decode(),
        }
    return json.dumps(event).encode()


@pytest.fixture
def api():
    """``api(user)`` → an APIClient with a knox token; ``api(None)`` → anonymous."""
    from tests.api.conftest import client_for

    return client_for
