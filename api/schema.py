"""OpenAPI generation (drf-spectacular) with what every operation shares documented once:

* every error response as the RFC 9457 ``Problem`` schema (``application/problem+json``),
  for the statuses the operation can actually return;
* the ``Idempotency-Key`` header on every POST;
* the token scheme (``Authorization: Token <key>``).
"""

from __future__ import annotations

from typing import Any

import uritemplate
from drf_spectacular import openapi
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter

from . import idempotency
from .problem import CONTENT_TYPE, ProblemSerializer

PROBLEM_DESCRIPTIONS = {
    400: "`invalid` (malformed body, bad field values, bad filters or headers; `errors[]` "
    "lists every field) or `stage_read_only`.",
    401: "`not_authenticated`: no or bad credentials.",
    403: "`permission_denied`, or `self_approval_forbidden` for an approval of one's own deal.",
    404: "`not_found` (also for an unknown transition name).",
    409: "`transition_not_allowed`, `record_locked` or `concurrent_update` (a race lost, or "
    "the first request with this Idempotency-Key still running).",
    412: "`stale_version`: If-Match does not match the current ETag.",
    415: "`unsupported_media_type`: send `Content-Type: application/json`.",
    422: "`gate_failed` (`errors[]` lists every unmet requirement), `reason_required` or "
    "`idempotency_key_reused`.",
    429: "`throttled`: wait `Retry-After` seconds.",
}


class AutoSchema(openapi.AutoSchema):
    def get_override_parameters(self) -> list[Any]:
        params = list(super().get_override_parameters())
        if self.method == "POST":
            params.append(
                OpenApiParameter(
                    idempotency.HEADER,
                    {"type": "string", "maxLength": 255, "pattern": idempotency.KEY_PATTERN},
                    OpenApiParameter.HEADER,
                    required=False,
                    description=(
                        "Makes the POST safe to retry: the same key and body from the same user "
                        "within 24 h replays the first response (with `Idempotent-Replayed: "
                        "true`) without doing the work again. Use a new random key (e.g. a "
                        "UUID) per new request."
                    ),
                )
            )
            params.append(
                OpenApiParameter(
                    "Location",
                    OpenApiTypes.STR,
                    OpenApiParameter.HEADER,
                    response=["201"],
                    description="The URL of the created resource.",
                )
            )
            params.append(
                OpenApiParameter(
                    idempotency.REPLAYED_HEADER,
                    OpenApiTypes.STR,
                    OpenApiParameter.HEADER,
                    response=True,
                    description="`true` when this response is the replay of a stored one.",
                )
            )
        return params

    def _problem_statuses(self) -> list[int]:
        statuses = {401, 403, 429}
        if uritemplate.variables(self.path):
            statuses.add(404)
        if self.method == "GET" and self._is_list_view():
            statuses.add(400)
        if self.method in ("POST", "PATCH", "PUT"):
            statuses |= {400, 415}
        if self.method == "POST":
            statuses |= {409, 422}
        if self.method in ("PATCH", "PUT", "DELETE"):
            statuses.add(409)  # record_locked, or a race lost (concurrent_update)
        if self.method in ("POST", "PATCH") and getattr(self.view, "honours_if_match", False):
            statuses.add(412)
        return sorted(statuses)

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        problem_ref = self.resolve_serializer(ProblemSerializer, "response").ref
        for status in self._problem_statuses():
            entry: dict[str, Any] = {
                "description": PROBLEM_DESCRIPTIONS[status],
                "content": {CONTENT_TYPE: {"schema": problem_ref}},
            }
            if status == 429:
                entry["headers"] = {
                    "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds."}
                }
            responses.setdefault(str(status), entry)
        return responses


class TokenScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.TokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": (
                "`Authorization: Token <key>`. Get a key with "
                "`python manage.py issue_token <username>`; keys are stored hashed."
            ),
        }
