"""OpenAPI generation (drf-spectacular) with what every operation shares documented once:

* every error response as the RFC 9457 ``Problem`` schema (``application/problem+json``),
  for the statuses the operation can actually return, with examples: the shared ones of
  ``api.examples.SHARED_PROBLEMS`` (published once under ``components/examples``) and the
  operation's own (``extend_schema(examples=[problem_example(...)])``);
* whole-body response examples (``api.examples.BodyExample``) placed as given;
* the ``Idempotency-Key`` header on every POST;
* the token scheme (``Authorization: Token <key>``).
"""

from __future__ import annotations

import inspect
from typing import Any

import uritemplate
from drf_spectacular import openapi
from drf_spectacular.extensions import (
    OpenApiAuthenticationExtension,
    OpenApiSerializerFieldExtension,
)
from drf_spectacular.plumbing import ResolvedComponent, build_examples_list
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter

from . import idempotency
from .examples import SHARED_PROBLEMS, BodyExample
from .problem import CONTENT_TYPE, ProblemSerializer
from .strict import MULTILINE_NAMES

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
    410: "`cursor_expired`: the cursor is older than the oldest event kept; resync.",
    413: "`payload_too_large`: the body is over the size limit.",
    429: "`throttled`: wait `Retry-After` seconds.",
    503: "`service_unavailable`: the database is unreachable for a moment; retry after "
    "`Retry-After` seconds.",
}


class AutoSchema(openapi.AutoSchema):
    def get_description(self) -> str:  # type: ignore[override]
        """Only what the endpoint's own class (or handler) says: a docstring inherited from
        a base or a mixin describes the code, not the operation."""
        view_cls = type(self.view)
        handler = view_cls.__dict__.get(self.method.lower())
        doc = (getattr(handler, "__doc__", None) if handler else None) or view_cls.__dict__.get(
            "__doc__"
        )
        return inspect.cleandoc(doc) if doc else ""

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
        statuses = {401, 403, 429, 503}
        statuses |= set(getattr(self.view, "extra_problem_statuses", ()))
        if uritemplate.variables(self.path):
            statuses.add(404)
        # Every view refuses unknown query parameters (and bad filters) with 400.
        statuses.add(400)
        if self.method in ("POST", "PATCH", "PUT"):
            statuses |= {400, 413, 415}
        if self.method == "POST":
            statuses |= {409, 422}
        if self.method in ("PATCH", "PUT", "DELETE"):
            statuses.add(409)  # record_locked, or a race lost (concurrent_update)
        if self.method in ("POST", "PATCH") and getattr(self.view, "honours_if_match", False):
            statuses.add(412)
        return sorted(statuses)

    def _get_examples(
        self,
        serializer: Any,
        direction: Any,
        media_type: Any,
        status_code: Any = None,
        extras: Any = None,
    ) -> dict[str, Any]:
        examples = super()._get_examples(serializer, direction, media_type, status_code, extras)
        if direction != "response":
            return examples
        whole = [
            example
            for example in self.get_examples()
            if isinstance(example, BodyExample)
            and example.media_type == media_type
            and str(status_code) in (example.status_codes or ())
        ]
        return {**examples, **build_examples_list(whole)}

    def _problem_examples(self, status: int) -> dict[str, Any]:
        """The shared examples of ``status`` (as references to ``components/examples``)
        that apply to this method, then the operation's own."""
        examples: dict[str, Any] = {}
        for name, methods, value in SHARED_PROBLEMS.get(status, ()):
            if methods is not None and self.method not in methods:
                continue
            component = ResolvedComponent(
                name=name,
                type=ResolvedComponent.EXAMPLE,
                schema={"summary": f"{value['code']} ({status})", "value": value},
                object=name,
            )
            self.registry.register_on_missing(component)
            examples[name] = component.ref
        own = self._get_examples(ProblemSerializer(), "response", CONTENT_TYPE, str(status))
        return {**examples, **own}

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        problem_ref = self.resolve_serializer(ProblemSerializer, "response").ref
        for status in self._problem_statuses():
            media: dict[str, Any] = {"schema": problem_ref}
            examples = self._problem_examples(status)
            if examples:
                media["examples"] = examples
            entry: dict[str, Any] = {
                "description": PROBLEM_DESCRIPTIONS[status],
                "content": {CONTENT_TYPE: media},
            }
            if status in (429, 503):
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


def _operations(result: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method, path): operation
        for path, item in result.get("paths", {}).items()
        for method, operation in item.items()
        if isinstance(operation, dict) and "responses" in operation
    }


def postprocess(result: dict[str, Any], generator: Any, **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: what the views cannot say one by one.

    * Request bodies take no property they do not list (``additionalProperties: false``):
      an unknown field is a 400 ``unknown_field``, so the schema says so.
    * OpenAPI links: from a created (or returned) object to the operations that take its
      ``id``: ``GET``/``PATCH`` of the object, and for a deal its transitions and history.
    """
    for name, component in result.get("components", {}).get("schemas", {}).items():
        if name.endswith("Request") and component.get("type") == "object":
            component["additionalProperties"] = False
            for prop_name, prop in component.get("properties", {}).items():
                _text_pattern(prop, prop_name)
    operations = _operations(result)
    for operation in operations.values():
        for param in operation.get("parameters", []):
            if param.get("in") == "query":
                _text_pattern(param.get("schema", {}))
    for (method, path), operation in operations.items():
        if method not in ("get", "post", "patch"):
            continue
        detail = path if path.endswith("/{id}/") else f"{path}{{id}}/"
        if method == "post" and path.endswith("/{id}/"):
            continue
        if "{id}" in path and not path.endswith("/{id}/"):
            detail = path.split("{id}/")[0] + "{id}/"
        links: dict[str, Any] = {}
        for target_method, label in (("get", "Retrieve"), ("patch", "Update")):
            target = operations.get((target_method, detail))
            if target is None or (target_method, detail) == (method, path):
                continue
            links[label] = {
                "operationId": target["operationId"],
                "parameters": {"id": "$response.body#/id"},
                "description": f"{label} the object this response returns.",
            }
        for suffix, label in (("transitions/", "Transitions"), ("history/", "History")):
            target = operations.get(("get", detail + suffix))
            if target is not None and (("get", detail + suffix) != (method, path)):
                links[label] = {
                    "operationId": target["operationId"],
                    "parameters": {"id": "$response.body#/id"},
                }
        if not links:
            continue
        for status in ("200", "201"):
            response = operation["responses"].get(status)
            if response and "content" in response and not _is_list(response):
                response["links"] = links
    return result


# Text never holds NUL (PostgreSQL cannot store it); a required text is not blank once
# surrounding whitespace is trimmed. Request bodies refuse every control character
# (api.strict), free text (reason, description…) keeps tabs and line breaks.
TEXT_PATTERN = r"^[^\x00]*$"
NON_BLANK_TEXT_PATTERN = r"^[^\x00]*[^\s\x00][^\x00]*$"
_CC = r"\x00-\x1f\x7f-\x9f"
_CC_MULTILINE = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"


def _patterns(cc: str) -> tuple[str, str]:
    return rf"^[^{cc}]*$", rf"^[^{cc}]*[^\s{cc}][^{cc}]*$"


def _text_pattern(schema: dict[str, Any], name: str | None = None) -> None:
    """Set the pattern of a text field (``name`` given: a request body property)."""
    if schema.get("type") != "string" or {"enum", "pattern", "format", "$ref"} & set(schema):
        return
    if name is None:
        any_text, non_blank = TEXT_PATTERN, NON_BLANK_TEXT_PATTERN
    else:
        any_text, non_blank = _patterns(_CC_MULTILINE if name in MULTILINE_NAMES else _CC)
    schema["pattern"] = non_blank if schema.get("minLength", 0) >= 1 else any_text


def _is_list(response: dict[str, Any]) -> bool:
    schema = response["content"].get("application/json", {}).get("schema", {})
    return (
        "results" in schema.get("properties", {})
        or "$ref" in schema
        and "Paginated" in str(schema["$ref"])
    )


class PositiveDecimalStringSchema(OpenApiSerializerFieldExtension):
    """The pattern of each :class:`api.fields.PositiveDecimalStringField`, as it checks it."""

    target_class = "api.fields.PositiveDecimalStringField"

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        return {"type": "string", "format": "decimal", "pattern": self.target.pattern}
