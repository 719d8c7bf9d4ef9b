"""What every API view shares: idempotent POSTs, problem responses, the 404 catch-all,
and the schema and Swagger UI views."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db import transaction
from django.http.response import HttpResponseBase
from django.urls import Resolver404, resolve
from drf_spectacular.renderers import OpenApiJsonRenderer, OpenApiYamlRenderer
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework import generics
from rest_framework.exceptions import ErrorDetail, NotFound, ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from . import idempotency
from .models import IdempotencyKey


class IdempotentPostMixin:
    """Runs POST handlers under ``Idempotency-Key`` (see ``api.idempotency``).

    DRF's ``dispatch`` is repeated here for POST because the key must be reserved after
    authentication (the key belongs to a user) and the handler's work must commit in the
    same transaction as its stored response — neither fits DRF's hooks.
    """

    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> HttpResponseBase:
        view: Any = self
        if request.method != "POST" or not hasattr(view, "post"):
            return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]
        view.args, view.kwargs = args, kwargs
        request = view.initialize_request(request, *args, **kwargs)
        view.request = request
        view.headers = view.default_response_headers
        try:
            view.initial(request, *args, **kwargs)
            key = idempotency.key_of(request)
            if key is None:
                response = view.post(request, *args, **kwargs)
            else:
                reservation = idempotency.reserve(request, key)
                if reservation.replay is not None:
                    response = reservation.replay
                else:
                    assert reservation.row is not None
                    return self._post_reserved(reservation.row, request, *args, **kwargs)
        except Exception as exc:
            response = view.handle_exception(exc)
        view.response = view.finalize_response(request, response, *args, **kwargs)
        return view.response

    def _post_reserved(
        self, row: IdempotencyKey, request: Request, *args: Any, **kwargs: Any
    ) -> HttpResponseBase:
        view: Any = self
        try:
            with transaction.atomic():
                try:
                    with transaction.atomic():
                        response = view.post(request, *args, **kwargs)
                except Exception as exc:
                    response = view.handle_exception(exc)
                response = view.finalize_response(request, response, *args, **kwargs)
                idempotency.complete(row, response)
        except Exception as exc:
            # The work rolled back (or was never stored); free the key if it is still ours.
            IdempotencyKey.objects.filter(
                pk=row.pk, locked_at=row.locked_at, response_status__isnull=True
            ).delete()
            response = view.finalize_response(request, view.handle_exception(exc), *args, **kwargs)
        view.response = response
        return response


def _filter_params(filterset_class: Any) -> set[str]:
    names: set[str] = set()
    for name, flt in filterset_class.base_filters.items():
        if isinstance(flt, django_filters.DateFromToRangeFilter):
            names |= {f"{name}_after", f"{name}_before"}
        else:
            names.add(name)
    return names


class ApiView(IdempotentPostMixin, generics.GenericAPIView):
    # No docstring on purpose: the schema would show it as every subclass's description.

    # For ReadWithViewPermission: the model whose view permission GETs need.
    read_model: Any = None
    # Views whose writes honour If-Match (documented 412).
    honours_if_match = False
    # Query parameters this view takes besides its filters, ordering and pages.
    query_params_allowed: tuple[str, ...] = ()

    def allowed_query_params(self) -> set[str]:
        allowed = set(self.query_params_allowed)
        filterset_class = getattr(self, "filterset_class", None)
        if filterset_class is not None:
            allowed |= _filter_params(filterset_class)
        if any(hasattr(b, "get_ordering") for b in self.filter_backends or ()):
            allowed.add("ordering")
        if self.pagination_class is not None and self.request.method == "GET":
            allowed |= {"cursor", "limit"}
        return allowed

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        """After authentication, permissions and throttling: a query parameter the view
        does not take is a 400 (``unknown_parameter``), never silently ignored — a typo
        in ``updated_since`` must not return everything."""
        super().initial(request, *args, **kwargs)
        unknown = sorted(set(request.query_params) - self.allowed_query_params())
        if unknown:
            raise ValidationError(
                {
                    name: [ErrorDetail("Unknown query parameter.", code="unknown_parameter")]
                    for name in unknown
                }
            )

    def paginated(self, queryset: Any, serializer_class: Any, **context: Any) -> Response:
        queryset = self.filter_queryset(queryset)
        page = self.paginate_queryset(queryset)
        serializer = serializer_class(
            page, many=True, context={**self.get_serializer_context(), **context}
        )
        return self.get_paginated_response(serializer.data)


class EndpointNotFound(APIView):
    """Everything under /api/v1/ that no route matches: a 404 problem, not an HTML page.
    Anonymous callers get 401 first, as on every other endpoint: the API's shape is not
    shown to them."""

    permission_classes = (IsAuthenticated,)
    schema = None

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        detail = f"There is no API endpoint at {request.path}."
        if not request.path.endswith("/"):
            try:
                match = resolve(request.path + "/")
            except Resolver404:
                match = None
            if (
                match is not None
                and getattr(match.func, "view_class", None) is not EndpointNotFound
            ):
                detail += f" Did you mean {request.path}/ ?"
        raise NotFound(detail)


class ProblemAsJSONMixin:
    """Views with non-JSON renderers (YAML schema, Swagger HTML) still answer errors as
    JSON problems."""

    def finalize_response(self, request: Any, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]
        if isinstance(response, Response) and response.status_code >= 400:
            response.accepted_renderer = JSONRenderer()
            response.accepted_media_type = "application/json"
            response.renderer_context = self.get_renderer_context()  # type: ignore[attr-defined]
        return response


class SchemaView(ProblemAsJSONMixin, SpectacularAPIView):
    """The OpenAPI 3 schema: JSON by default, ``?format=yaml`` for YAML."""

    permission_classes = (IsAuthenticated,)
    renderer_classes = [OpenApiJsonRenderer, OpenApiYamlRenderer]


class SwaggerView(ProblemAsJSONMixin, SpectacularSwaggerView):
    """Swagger UI from drf-spectacular-sidecar's static files: no CDN, works offline."""

    permission_classes = (IsAuthenticated,)
