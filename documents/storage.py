"""The ``documents`` storage, looked up on every use.

``FileField`` resolves its storage once, at import; this proxy resolves
``storages["documents"]`` (the ``STORAGES`` setting) each time instead, so a changed
setting (tests switching between the local folder and S3) takes effect at once.
"""

from __future__ import annotations

from typing import Any

from django.core.files.storage import Storage, storages
from django.utils.deconstruct import deconstructible

ALIAS = "documents"


def documents_storage() -> Storage:
    return storages[ALIAS]


@deconstructible(path="documents.storage.DocumentStorage")
class DocumentStorage(Storage):
    def _target(self) -> Storage:
        return storages[ALIAS]

    def open(self, name: str, mode: str = "rb") -> Any:
        return self._target().open(name, mode)

    def save(self, name: str | None, content: Any, max_length: int | None = None) -> str:
        return self._target().save(name, content, max_length=max_length)

    def delete(self, name: str) -> None:
        self._target().delete(name)

    def exists(self, name: str) -> bool:
        return self._target().exists(name)

    def size(self, name: str) -> int:
        return self._target().size(name)

    def url(self, name: str | None) -> str:
        return self._target().url(name)

    def path(self, name: str) -> str:
        return self._target().path(name)

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        return self._target().listdir(path)

    def get_valid_name(self, name: str) -> str:
        return self._target().get_valid_name(name)

    def get_available_name(self, name: str, max_length: int | None = None) -> str:
        return self._target().get_available_name(name, max_length=max_length)

    def generate_filename(self, filename: Any) -> str:
        return self._target().generate_filename(filename)
