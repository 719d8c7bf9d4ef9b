"""Errors of the documents app, in the domain error shape (code, status, field errors)."""

from __future__ import annotations

from core.errors import DomainError


class FileTypeNotAllowed(DomainError):
    code = "file_type_not_allowed"
    status = 415
    title = "Only PDF, PNG and JPEG files can be attached"


class FileTooLarge(DomainError):
    code = "file_too_large"
    status = 413
    title = "The file is too large"


class InvalidSignature(DomainError):
    code = "not_authenticated"
    status = 401
    title = "The webhook signature is missing or wrong"
