"""Example values for the OpenAPI schema, the parts every app shares.

* :class:`BodyExample`: a response example that is the whole body of a list response.
* :func:`page`: the cursor envelope ``{"results", "next", "previous"}`` around rows.
* :func:`problem_example`: a problem response as the exception handler renders it, from
  the exception a view would raise (so the example cannot drift from the real answer).
* :data:`SHARED_PROBLEMS`: one problem example per status that every operation can return;
  :class:`api.schema.AutoSchema` publishes them once under ``components/examples`` and
  refers to them from every operation.

Each app keeps its own examples in one module (``<app>/api/examples.py``) and attaches them
with ``extend_schema(examples=[...])``; ``tests/api/test_schema_examples.py`` checks that
every operation has them and that each one is valid against its own schema.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

from drf_spectacular.utils import OpenApiExample
from rest_framework import exceptions
from rest_framework.exceptions import ErrorDetail

from core import errors

from .idempotency import HEADER as IDEMPOTENCY_HEADER
from .idempotency import IdempotencyKeyReused
from .parsers import PayloadTooLarge
from .problem import CONTENT_TYPE, SERVICE_UNAVAILABLE, exception_handler, problem_body

# Where the examples' links point: a documentation host, never a real one.
ORIGIN = "https://closedwon.example.com"
# A `next` cursor as the server signs it (opaque to clients; this one is not valid).
CURSOR = (
    "eyJiIjpmYWxzZSwibyI6WyItdXBkYXRlZF9hdCIsIi1pZCJdLCJwIjpbIjIwMjYtMTEtMjdUMTQ6MDU6MTIu"
    "NDgxMDAwKzAwOjAwIiwxOTddfQ%3A1xYBKP%3Acv1WGsWJp3rCLK9DowC7XgbTnD3rXrwG7y2tIU2ABG4"
)


class BodyExample(OpenApiExample):
    """A response example given as the whole body (a page envelope, or every element of a
    plain list), shown as it is.

    drf-spectacular would wrap a plain example of a list operation as the list's only
    element. Both ``request_only`` and ``response_only`` are set so that its own matching
    skips this example everywhere; ``api.schema.AutoSchema`` places it on the response
    with the given status code (200 by default) and media type (JSON by default).
    """

    def __init__(
        self,
        name: str,
        value: Any,
        *,
        status_codes: Sequence[int | str] = (200,),
        media_type: str = "application/json",
        summary: str = "",
        description: str = "",
    ) -> None:
        super().__init__(
            name,
            value=value,
            summary=summary,
            description=description,
            request_only=True,
            response_only=True,
            media_type=media_type,
            status_codes=[str(code) for code in status_codes],
        )


def page(path: str, *rows: Any, last: bool = False) -> dict[str, Any]:
    """A page of ``path`` (e.g. ``/api/v1/accounts/``) holding ``rows``, first of several
    (``next`` set, ``previous`` null) or, with ``last``, the only one (both null)."""
    return {
        "results": list(rows),
        "next": None if last else f"{ORIGIN}{path}?cursor={CURSOR}",
        "previous": None,
    }


def problem_value(exc: Exception, *, instance: str | None = None) -> dict[str, Any]:
    """The problem body the API answers with when a view raises ``exc`` at ``instance``."""
    request = SimpleNamespace(path=instance) if instance else None
    response = exception_handler(exc, {"request": request})
    return dict(response.data)


def problem_example(
    name: str, exc: Exception, *, instance: str | None = None, summary: str = ""
) -> OpenApiExample:
    """An example of the problem response to ``exc``, for the operation that raises it
    (attach it with ``extend_schema(examples=[...])`` next to the 2xx examples)."""
    value = problem_value(exc, instance=instance)
    return OpenApiExample(
        name,
        value=value,
        summary=summary,
        response_only=True,
        media_type=CONTENT_TYPE,
        status_codes=[str(value["status"])],
    )


def _invalid(field_errors: dict[str, tuple[str, str]]) -> exceptions.ValidationError:
    return exceptions.ValidationError(
        {
            field: [ErrorDetail(message, code=code)]
            for field, (code, message) in field_errors.items()
        }
    )


# Shared problem examples: component name → (methods it applies to, or None for all; body).
# Kept to what any operation of those methods may answer; the errors particular to one
# operation (gate_failed, record_locked…) are in its app's examples.
SHARED_PROBLEMS: dict[int, list[tuple[str, frozenset[str] | None, dict[str, Any]]]] = {
    400: [
        (
            "ProblemUnknownParameter",
            frozenset({"GET", "DELETE"}),
            problem_value(
                _invalid({"updated_sinse": ("unknown_parameter", "Unknown query parameter.")})
            ),
        ),
        (
            "ProblemInvalid",
            frozenset({"POST", "PATCH", "PUT"}),
            problem_value(
                _invalid(
                    {
                        "amount": ("invalid", "A valid number is required."),
                        "close_date": (
                            "invalid",
                            "Date has wrong format. Use one of these formats instead: YYYY-MM-DD.",
                        ),
                    }
                )
            ),
        ),
    ],
    401: [("ProblemNotAuthenticated", None, problem_value(exceptions.NotAuthenticated()))],
    403: [("ProblemPermissionDenied", None, problem_value(exceptions.PermissionDenied()))],
    404: [("ProblemNotFound", None, problem_value(exceptions.NotFound()))],
    409: [
        (
            "ProblemConcurrentUpdate",
            None,
            problem_value(
                errors.ConcurrentUpdate(
                    "Someone else changed this deal at the same moment; reload and try again."
                )
            ),
        )
    ],
    412: [
        (
            "ProblemStaleVersion",
            None,
            problem_value(errors.StaleVersion("The deal is at version 4, not 3.")),
        )
    ],
    413: [("ProblemPayloadTooLarge", None, problem_value(PayloadTooLarge()))],
    415: [
        (
            "ProblemUnsupportedMediaType",
            None,
            problem_value(exceptions.UnsupportedMediaType("text/plain")),
        )
    ],
    422: [
        (
            "ProblemIdempotencyKeyReused",
            frozenset({"POST"}),
            problem_value(
                IdempotencyKeyReused(
                    "The key '6f1c2a4e-5b7d-4e8f-9a0b-1c2d3e4f5a6b' was first used for POST "
                    "/api/v1/opportunities/ with another body. Use a new key for a new request.",
                    errors=[
                        {
                            "code": "idempotency_key_reused",
                            "field": IDEMPOTENCY_HEADER,
                            "message": "Use a new Idempotency-Key for a different request.",
                        }
                    ],
                )
            ),
        )
    ],
    429: [("ProblemThrottled", None, problem_value(exceptions.Throttled(wait=12)))],
    503: [("ProblemServiceUnavailable", None, problem_body(**SERVICE_UNAVAILABLE))],
}
