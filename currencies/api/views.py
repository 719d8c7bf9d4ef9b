"""Exchange rates over HTTP: thin callers of ``currencies.selectors`` and
``currencies.services``."""

from __future__ import annotations

from typing import Any

from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from api.filters import StrictOrderingFilter
from api.views import ApiView
from core import errors
from currencies import selectors, services

from . import examples
from .filters import ExchangeRateFilter
from .serializers import ExchangeRateSerializer, ExchangeRateWriteSerializer


class ExchangeRateListView(ApiView):
    """Dated exchange rates into the reporting currency. Every signed-in user reads them
    (totals are converted with them); RevOps add them."""

    # No read_model: any signed-in, active user may read the rates.
    filter_backends = [DjangoFilterBackend, StrictOrderingFilter]
    filterset_class = ExchangeRateFilter
    ordering_fields = ("currency", "valid_from", "created_at", "id")
    ordering = ("currency", "-valid_from")

    def get_queryset(self) -> Any:
        return selectors.exchange_rate_list()

    @extend_schema(
        operation_id="exchange_rates_list",
        responses=ExchangeRateSerializer(many=True),
        tags=["exchange-rates"],
        description="Rates as `{currency, rate, valid_from}`: `rate` reporting-currency "
        "units per 1 unit of `currency`, in force from `valid_from` until the currency's "
        "next rate.",
        examples=examples.LIST,
    )
    def get(self, request: Request) -> Response:
        return self.paginated(self.get_queryset(), ExchangeRateSerializer)

    @extend_schema(
        operation_id="exchange_rates_create",
        request=ExchangeRateWriteSerializer,
        responses={201: ExchangeRateSerializer},
        tags=["exchange-rates"],
        description="RevOps: add a rate. 400 `invalid` with error code `invalid_currency` "
        "(not an ISO 4217 currency), `invalid` (the reporting currency, or a rate not "
        "above zero) or `unique` (that currency has a rate from that day already); 403 "
        "`permission_denied` for anyone else.",
        examples=examples.CREATE,
    )
    def post(self, request: Request) -> Response:
        if not services.can_manage_rates(request.user):
            # Before validation: a caller who may not add rates learns nothing from the body.
            raise errors.PermissionDenied("Only RevOps manage exchange rates.")
        serializer = ExchangeRateWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        row = services.exchange_rate_create(actor=request.user, **serializer.validated_data)
        return Response(ExchangeRateSerializer(row).data, status=status.HTTP_201_CREATED)
