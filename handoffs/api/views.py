"""Handoffs over HTTP: thin callers of ``handoffs.selectors`` and ``handoffs.services``."""

from __future__ import annotations

import uuid
from typing import Any

from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from api.filters import StrictOrderingFilter
from api.views import ApiView
from core import errors
from handoffs import selectors, services
from handoffs.models import Handoff

from . import examples
from .filters import HandoffFilter
from .serializers import HandoffCompleteSerializer, HandoffSerializer


def _handoff_or_404(pk: uuid.UUID) -> Handoff:
    handoff = selectors.handoff_get(pk)
    if handoff is None:
        raise errors.NotFound("No such handoff.")
    return handoff


class HandoffListView(ApiView):
    """The handoffs of approved deals, newest first. RevOps see all; a rep sees the
    handoffs of their own deals only (payloads carry commission rates and credits)."""

    read_model = Handoff
    filter_backends = [DjangoFilterBackend, StrictOrderingFilter]
    filterset_class = HandoffFilter
    ordering_fields = ("created_at", "updated_at", "next_attempt_at", "kind", "status")

    def get_queryset(self) -> Any:
        return selectors.handoffs_visible_to(self.request.user, selectors.handoff_list())

    @extend_schema(
        operation_id="handoffs_list",
        responses=HandoffSerializer(many=True),
        tags=["handoffs"],
        examples=examples.HANDOFF_LIST,
    )
    def get(self, request: Request) -> Response:
        return self.paginated(self.get_queryset(), HandoffSerializer)


class HandoffRetryView(ApiView):
    read_model = Handoff

    @extend_schema(
        operation_id="handoffs_retry",
        request=None,
        responses={200: HandoffSerializer},
        tags=["handoffs"],
        description="RevOps: re-drive a `retrying` or `dead` handoff now (same id and "
        "payload). 409 `transition_not_allowed` from any other status.",
        examples=examples.HANDOFF_RETRY,
    )
    def post(self, request: Request, pk: uuid.UUID) -> Response:
        handoff = services.handoff_retry(handoff=_handoff_or_404(pk), actor=request.user)
        return Response(HandoffSerializer(_handoff_or_404(handoff.pk)).data)


class HandoffCompleteView(ApiView):
    read_model = Handoff

    @extend_schema(
        operation_id="handoffs_complete",
        request=HandoffCompleteSerializer,
        responses={200: HandoffSerializer},
        tags=["handoffs"],
        description="Downstream confirms a `delivered` handoff: → `completed`. Repeating the "
        "same confirmation is harmless.",
        examples=examples.HANDOFF_COMPLETE,
    )
    def post(self, request: Request, pk: uuid.UUID) -> Response:
        serializer = HandoffCompleteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        handoff = services.handoff_complete(
            handoff=_handoff_or_404(pk),
            actor=request.user,
            external_ref=serializer.validated_data["external_ref"],
        )
        return Response(HandoffSerializer(_handoff_or_404(handoff.pk)).data)
