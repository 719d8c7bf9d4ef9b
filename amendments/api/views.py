"""Amendments over HTTP: thin callers of ``amendments.services`` and ``.selectors``."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from api.views import ApiView
from core import errors
from opportunities.stages import Source

from .. import selectors, services
from ..filters import AmendmentFilter
from ..models import Amendment
from . import examples
from .serializers import (
    AmendmentDecideSerializer,
    AmendmentDryRunSerializer,
    AmendmentRequestSerializer,
    AmendmentSerializer,
)

CODES = (
    "403 `permission_denied`, 404 `not_found`, 409 `transition_not_allowed` (not Closed-Won), "
    "409 `amendment_pending`, 422 `reason_required`, 422 `gate_failed` with every unmet "
    "requirement of the proposed values, 422 `amendment_invalid` "
    "(`currency_change_refused`, `no_change`, an unknown product or contact)."
)


def _validated(data: Any) -> dict[str, Any]:
    serializer = AmendmentRequestSerializer(data=data)
    serializer.is_valid(raise_exception=True)
    body = dict(serializer.validated_data)
    return {
        "kind": body["kind"],
        "reason": body.get("reason", ""),
        "changes": dict(body.get("changes") or {}),
        "line_items": [dict(li) for li in body["line_items"]]
        if body.get("line_items") is not None
        else None,
    }


def _one(pk: int) -> Amendment:
    amendment = selectors.amendment_list().filter(pk=pk).first()
    if amendment is None:
        raise errors.NotFound("No such amendment.")
    return amendment


class OpportunityAmendmentsView(ApiView):
    read_model = Amendment
    filter_backends: list[Any] = []

    @extend_schema(
        operation_id="opportunities_amendments_list",
        responses=AmendmentSerializer(many=True),
        tags=["amendments"],
        examples=examples.OPPORTUNITY_AMENDMENTS_LIST,
    )
    def get(self, request: Request, pk: int) -> Response:
        return self.paginated(
            selectors.amendment_list().filter(opportunity_id=pk), AmendmentSerializer
        )

    @extend_schema(
        operation_id="opportunities_amendments_create",
        request=AmendmentRequestSerializer,
        responses={201: AmendmentSerializer},
        examples=examples.CREATE,
        tags=["amendments"],
        description="Request a change (owner or RevOps) or a cancellation (RevOps) of a "
        "Closed-Won deal. " + CODES,
    )
    def post(self, request: Request, pk: int) -> Response:
        amendment = services.amendment_request(
            opportunity=pk, actor=request.user, **_validated(request.data)
        )
        return Response(
            AmendmentSerializer(_one(amendment.pk)).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": f"/api/v1/amendments/{amendment.pk}/"},
        )


class OpportunityAmendmentDryRunView(ApiView):
    read_model = Amendment

    @extend_schema(
        operation_id="opportunities_amendments_dry_run",
        request=AmendmentRequestSerializer,
        responses={200: AmendmentDryRunSerializer},
        examples=examples.DRY_RUN_EXAMPLES,
        tags=["amendments"],
        description="What the request would give, without writing: the gate on the "
        "proposed values (`passes`, `unmet`), the approval `route`, `before`, `after`, "
        "`delta`. The reason may be empty here.",
    )
    def post(self, request: Request, pk: int) -> Response:
        body = _validated(request.data)
        body.pop("reason")
        return Response(services.amendment_dry_run(opportunity=pk, actor=request.user, **body))


class AmendmentListView(ApiView):
    """Amendments, newest first (`?status=pending` for the queue)."""

    read_model = Amendment
    filterset_class = AmendmentFilter

    def get_queryset(self) -> Any:
        return selectors.amendment_list()

    @extend_schema(
        operation_id="amendments_list",
        responses=AmendmentSerializer(many=True),
        tags=["amendments"],
        examples=examples.LIST,
    )
    def get(self, request: Request) -> Response:
        return self.paginated(self.get_queryset(), AmendmentSerializer)


class AmendmentDetailView(ApiView):
    read_model = Amendment
    filter_backends: list[Any] = []
    pagination_class = None

    @extend_schema(
        operation_id="amendments_retrieve",
        responses=AmendmentSerializer,
        tags=["amendments"],
        examples=examples.RETRIEVE,
    )
    def get(self, request: Request, pk: int) -> Response:
        return Response(AmendmentSerializer(_one(pk)).data)


class AmendmentTransitionView(ApiView):
    read_model = Amendment
    filter_backends: list[Any] = []
    pagination_class = None

    @extend_schema(
        operation_id="amendments_transitions_run",
        request=AmendmentDecideSerializer,
        responses={200: AmendmentSerializer},
        examples=examples.DECIDE,
        parameters=[
            OpenApiParameter(
                "name", OpenApiTypes.STR, OpenApiParameter.PATH, enum=list(services.DECISIONS)
            )
        ],
        tags=["amendments"],
        description="Decide an amendment. 409 `already_decided`, 403 `permission_denied` / "
        "`self_approval_forbidden` (the requester and the deal's owner never approve), "
        "422 `reason_required` (reject), 422 `gate_failed`, 409 `transition_not_allowed` "
        "(the deal is no longer Closed-Won).",
    )
    def post(self, request: Request, pk: int, name: str) -> Response:
        if name not in services.DECISIONS:
            raise errors.NotFound(f"There is no amendment transition called {name!r}.")
        serializer = AmendmentDecideSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.amendment_decide(
            amendment=pk,
            actor=request.user,
            decision=name,
            reason=serializer.validated_data.get("reason", ""),
            source=Source.API,
        )
        return Response(AmendmentSerializer(_one(pk)).data)
