"""RFC 9457 problem details: the one shape of every API error.

``{"type", "title", "status", "detail", "code", "errors": [{"code", "field", "message"}]}``
served as ``application/problem+json``. ``code`` is the stable, documented value clients
match on; ``errors`` lists every field-level problem at once.

:func:`exception_handler` is DRF's ``EXCEPTION_HANDLER``: validation errors, the domain
errors of ``core.errors`` (mapped 1:1: their own code and status), 401/403/404/
405/415/429, malformed bodies, database conflicts and, last, anything unexpected (a 500
problem, logged). Nothing escapes as an HTML error page.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import (
    ObjectDoesNotExist,
    PermissionDenied,
    RequestDataTooBig,
    SuspiciousOperation,
)
from django.core.exceptions import (
    ValidationError as DjangoValidationError,
)
from django.db import DatabaseError, DataError, IntegrityError, OperationalError
from django.http import Http404
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.settings import api_settings

from core.errors import DomainError

logger = logging.getLogger(__name__)

CONTENT_TYPE = "application/problem+json"
NON_FIELD = api_settings.NON_FIELD_ERRORS_KEY
TYPE_PREFIX = "urn:closedwon:problem:"

# Codes and titles for DRF's own exceptions (DomainError carries its own).
_API_EXCEPTIONS: tuple[tuple[type[exceptions.APIException], str, str], ...] = (
    (exceptions.NotAuthenticated, "not_authenticated", "Authentication required"),
    (exceptions.AuthenticationFailed, "not_authenticated", "Authentication failed"),
    (exceptions.PermissionDenied, "permission_denied", "You may not do this"),
    (exceptions.NotFound, "not_found", "Not found"),
    (exceptions.MethodNotAllowed, "method_not_allowed", "Method not allowed"),
    (exceptions.NotAcceptable, "not_acceptable", "Not acceptable"),
    (exceptions.UnsupportedMediaType, "unsupported_media_type", "Unsupported media type"),
    (exceptions.Throttled, "throttled", "Too many requests"),
    (exceptions.ParseError, "invalid", "Malformed request body"),
    (exceptions.ValidationError, "invalid", "Some fields are invalid"),
)
# The answer while the database is unreachable (shared with the schema's example).
SERVICE_UNAVAILABLE: dict[str, Any] = {
    "status": 503,
    "code": "service_unavailable",
    "title": "Service unavailable",
    "detail": "The database is unavailable; try again shortly.",
}
# SQLSTATEs of "lost a race": serialization failure, deadlock, lock not available.
_CONFLICT_SQLSTATES = {"40001", "40P01", "55P03"}


class ProblemErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable machine-readable code, e.g. `amount_required`.")
    field = serializers.CharField(
        help_text="The field concerned (`line_items[0].seats` for nested ones; "
        "`non_field_errors` when it concerns the whole request)."
    )
    message = serializers.CharField(help_text="For people: what to do about it.")


class ProblemSerializer(serializers.Serializer):
    """RFC 9457 problem details."""

    type = serializers.CharField(
        help_text="A URI naming the problem: `urn:closedwon:problem:<code>`."
    )
    title = serializers.CharField(help_text="Short summary of the problem type.")
    status = serializers.IntegerField(help_text="The HTTP status code.")
    detail = serializers.CharField(help_text="What happened in this occurrence.")
    code = serializers.CharField(
        help_text="Stable code clients match on: `invalid`, `stage_read_only`, "
        "`not_authenticated`, `permission_denied`, `self_approval_forbidden`, `not_found`, "
        "`method_not_allowed`, `not_acceptable`, `unsupported_media_type`, "
        "`transition_not_allowed`, `record_locked`, `concurrent_update`, `stale_version`, "
        "`gate_failed`, `reason_required`, `idempotency_key_reused`, `throttled`, "
        "`service_unavailable`, `server_error`."
    )
    instance = serializers.CharField(required=False, help_text="The request path.")

    def get_fields(self) -> dict[str, serializers.Field]:
        # "errors" cannot be a class attribute: it would shadow Serializer.errors.
        fields = super().get_fields()
        fields["errors"] = ProblemErrorSerializer(
            many=True, help_text="Every problem with a field, all at once (may be empty)."
        )
        return fields


def problem(
    *,
    status: int,
    code: str,
    title: str,
    detail: str = "",
    errors: Iterable[Mapping[str, Any]] = (),
    headers: Mapping[str, str] | None = None,
    instance: str | None = None,
) -> Response:
    body = problem_body(
        status=status, code=code, title=title, detail=detail, errors=errors, instance=instance
    )
    return Response(body, status=status, headers=dict(headers or {}), content_type=CONTENT_TYPE)


def problem_body(
    *,
    status: int,
    code: str,
    title: str,
    detail: str = "",
    errors: Iterable[Mapping[str, Any]] = (),
    instance: str | None = None,
) -> dict[str, Any]:
    """The JSON body of a problem response (also what the schema's examples show)."""
    body: dict[str, Any] = {
        "type": TYPE_PREFIX + code,
        "title": str(title),
        "status": status,
        "detail": str(detail or title),
        "code": code,
        "errors": [
            {
                "code": str(e.get("code") or code),
                "field": str(e.get("field") or NON_FIELD),
                "message": str(e.get("message") or ""),
            }
            for e in errors
        ],
    }
    if instance:
        body["instance"] = instance
    return body


def flatten_errors(detail: Any, prefix: str = "") -> list[dict[str, str]]:
    """DRF's nested error structure → ``[{"code", "field", "message"}]`` with dotted paths
    (``line_items[1].seats``)."""
    out: list[dict[str, str]] = []
    if isinstance(detail, Mapping):
        for key, value in detail.items():
            name = str(key)
            if isinstance(key, int):  # ListField / DictField errors are keyed by index
                name = f"{prefix}[{key}]"
            elif key == NON_FIELD and prefix:
                name = prefix
            elif prefix:
                name = f"{prefix}.{key}"
            out += flatten_errors(value, name)
    elif isinstance(detail, list | tuple):
        if detail and all(isinstance(v, Mapping | list) for v in detail):
            for index, value in enumerate(detail):
                out += flatten_errors(value, f"{prefix}[{index}]")
        else:
            for value in detail:
                out += flatten_errors(value, prefix)
    elif detail is not None:
        out.append(
            {
                "code": str(getattr(detail, "code", None) or "invalid"),
                "field": prefix or NON_FIELD,
                "message": str(detail),
            }
        )
    return out


def _django_validation_errors(exc: DjangoValidationError) -> list[dict[str, str]]:
    if hasattr(exc, "error_dict"):
        return [
            {"code": err.code or "invalid", "field": name, "message": " ".join(err.messages)}
            for name, errs in exc.error_dict.items()
            for err in errs
        ]
    return [
        {"code": err.code or "invalid", "field": NON_FIELD, "message": " ".join(err.messages)}
        for err in exc.error_list
    ]


def _sqlstate(exc: BaseException) -> str | None:
    cause = exc.__cause__
    return getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)


def exception_handler(exc: Exception, context: Mapping[str, Any]) -> Response:
    request = context.get("request")
    instance = getattr(request, "path", None)

    if isinstance(exc, DomainError):
        return problem(
            status=exc.status,
            code=exc.code,
            title=exc.title,
            detail=exc.detail,
            errors=[e.as_dict() for e in exc.errors],
            instance=instance,
        )

    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(*exc.args)

    if isinstance(exc, exceptions.APIException):
        headers: dict[str, str] = {}
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = str(exc.auth_header)  # type: ignore[attr-defined]
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait or 1))  # type: ignore[attr-defined]
        code = str(exc.default_code)
        title = str(getattr(exc, "problem_title", "Request failed"))
        for klass, klass_code, klass_title in _API_EXCEPTIONS:
            if isinstance(exc, klass):
                code, title = klass_code, klass_title
                break
        errors: list[dict[str, str]] = []
        if isinstance(exc, exceptions.ValidationError):
            errors = flatten_errors(exc.detail)
            detail = errors[0]["message"] if len(errors) == 1 else "Some fields are invalid."
        else:
            detail = str(exc.detail)
            if isinstance(exc, exceptions.ParseError):
                errors = [{"code": "parse_error", "field": NON_FIELD, "message": detail}]
        return problem(
            status=exc.status_code,
            code=code,
            title=title,
            detail=detail,
            errors=errors,
            headers=headers,
            instance=instance,
        )

    if isinstance(exc, DjangoValidationError):
        return problem(
            status=400,
            code="invalid",
            title="Some fields are invalid",
            errors=_django_validation_errors(exc),
            instance=instance,
        )
    if isinstance(exc, RequestDataTooBig):
        return problem(
            status=413,
            code="payload_too_large",
            title="Payload too large",
            detail="The request body is too large.",
            instance=instance,
        )
    if isinstance(exc, SuspiciousOperation):
        # Oversized bodies, too many fields, a bad Host: the request itself is malformed.
        return problem(
            status=400,
            code="invalid",
            title="Malformed request",
            detail="The request is malformed.",
            instance=instance,
        )
    if isinstance(exc, ObjectDoesNotExist):
        return problem(status=404, code="not_found", title="Not found", instance=instance)
    if isinstance(exc, DataError):
        return problem(
            status=400,
            code="invalid",
            title="Some fields are invalid",
            detail="A value does not fit the field it is meant for.",
            instance=instance,
        )
    if isinstance(exc, IntegrityError) or (
        isinstance(exc, OperationalError) and _sqlstate(exc) in _CONFLICT_SQLSTATES
    ):
        return problem(
            status=409,
            code="concurrent_update",
            title="Conflicting change",
            detail="Someone else changed the same data at the same moment; reload and try again.",
            headers={"Retry-After": "1"},
            instance=instance,
        )
    if isinstance(exc, DatabaseError):
        logger.exception("Database unavailable during an API request")
        return problem(**SERVICE_UNAVAILABLE, headers={"Retry-After": "5"}, instance=instance)

    logger.exception("Unexpected error in an API request", exc_info=exc)
    return problem(
        status=500,
        code="server_error",
        title="Internal error",
        detail="Something went wrong on our side; it has been logged.",
        instance=instance,
    )
