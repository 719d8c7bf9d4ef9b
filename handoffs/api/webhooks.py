"""Webhook endpoints and deliveries over HTTP (RevOps): thin callers of
``handoffs.endpoints`` and ``handoffs.selectors``."""

from __future__ import annotations

import re
import uuid
from typing import Any

import django_filters
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from api.fields import StrictCharField
from api.filters import IdFilter, StrictFilterSet, StrictOrderingFilter
from api.views import ApiView
from core import errors
from handoffs import endpoints, selectors, targets
from handoffs.events import EVENT_TYPES
from handoffs.models import HandoffAttempt, HandoffStatus, WebhookDelivery, WebhookEndpoint

from . import examples


class WebhookEndpointSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    managed_by = serializers.SerializerMethodField()

    class Meta:
        model = WebhookEndpoint
        fields: tuple[str, ...] = (
            "id",
            "url",
            "description",
            "event_types",
            "active",
            "managed_by",
            "failing_since",
            "last_success_at",
            "last_failure_at",
            "last_error",
            "disabled_at",
            "disabled_reason",
            "created_at",
            "updated_at",
        )
        read_only_fields: tuple[str, ...] = fields

    def get_url(self, obj: WebhookEndpoint) -> str:
        if obj.environment_kind:
            return targets.environment_target(obj.environment_kind)[0]
        return obj.url

    def get_managed_by(self, obj: WebhookEndpoint) -> str:
        """``environment`` (HANDOFF_<KIND>_URL) or ``api`` (created by RevOps)."""
        return "environment" if obj.environment_kind else "api"


class WebhookEndpointWithSecretSerializer(WebhookEndpointSerializer):
    secret = serializers.SerializerMethodField()

    class Meta(WebhookEndpointSerializer.Meta):
        fields = (*WebhookEndpointSerializer.Meta.fields, "secret")
        read_only_fields = fields

    def get_secret(self, obj: WebhookEndpoint) -> str:
        """The new signing secret: shown in this answer only."""
        return str(self.context.get("secret", ""))


# An http(s) URL without spaces or control characters; where it may point (public https,
# or the operator's WEBHOOK_ALLOWED_NETWORKS) is checked by handoffs.urlguard.
URL_PATTERN = r"^https?://[^\s/?#\x00-\x1f\x7f-\x9f]+(/[^\s\x00-\x1f\x7f-\x9f]*)?$"


@extend_schema_field({"type": "string", "format": "uri", "maxLength": 500, "pattern": URL_PATTERN})
class EndpointUrlField(StrictCharField):
    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        if not re.match(URL_PATTERN, value):
            raise serializers.ValidationError(
                "Enter an http(s) URL such as https://billing.example.com/hooks.", code="invalid"
            )
        return value


class WebhookEndpointWriteSerializer(serializers.Serializer):
    url = EndpointUrlField(max_length=500)
    description = StrictCharField(max_length=200, required=False, allow_blank=True)
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=EVENT_TYPES), allow_empty=False, min_length=1
    )
    active = serializers.BooleanField(required=False, default=True)


class WebhookEndpointPatchSerializer(serializers.Serializer):
    url = EndpointUrlField(max_length=500, required=False)
    description = StrictCharField(max_length=200, required=False, allow_blank=True)
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=EVENT_TYPES),
        allow_empty=False,
        min_length=1,
        required=False,
    )
    active = serializers.BooleanField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        unknown = set(self.initial_data) - set(self.fields)
        if unknown:
            raise serializers.ValidationError(
                {name: "Not a field of a webhook endpoint." for name in sorted(unknown)}
            )
        return attrs


class ReplaySerializer(serializers.Serializer):
    since = serializers.DateTimeField(help_text="ISO 8601 time; deliveries created since.")


class ReplayResultSerializer(serializers.Serializer):
    replayed = serializers.IntegerField(help_text="How many deliveries were queued again.")
    ids = serializers.ListField(child=serializers.UUIDField(), help_text="Their webhook-ids.")


class AttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = HandoffAttempt
        fields = (
            "number",
            "at",
            "outcome",
            "status_code",
            "duration_ms",
            "error",
            "response_excerpt",
            "retry_after_s",
        )
        read_only_fields = fields


class WebhookDeliverySerializer(serializers.ModelSerializer):
    attempt_rows = AttemptSerializer(many=True, read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = (
            "id",
            "event_type",
            "event_id",
            "endpoint",
            "opportunity",
            "kind",
            "status",
            "attempts",
            "next_attempt_at",
            "last_status_code",
            "last_error",
            "delivered_at",
            "completed_at",
            "retried_at",
            "payload",
            "created_at",
            "updated_at",
            "attempt_rows",
        )
        read_only_fields = fields


class WebhookDeliveryFilter(StrictFilterSet):
    endpoint = django_filters.UUIDFilter(field_name="endpoint_id")
    event_type = django_filters.ChoiceFilter(choices=[(t, t) for t in EVENT_TYPES])
    status = django_filters.ChoiceFilter(choices=HandoffStatus.choices)
    opportunity = IdFilter(field_name="opportunity_id", help_text="Opportunity id.")

    class Meta:
        model = WebhookDelivery
        fields = ("endpoint", "event_type", "status", "opportunity")


def _endpoint_or_404(pk: uuid.UUID) -> WebhookEndpoint:
    endpoint = WebhookEndpoint.objects.filter(pk=pk).first()
    if endpoint is None:
        raise errors.NotFound("No such webhook endpoint.")
    return endpoint


def _require_view(request: Request) -> None:
    if not request.user.has_perm("handoffs.view_webhookendpoint"):
        raise errors.PermissionDenied("Only RevOps can see webhook endpoints.")


class WebhookEndpointListView(ApiView):
    read_model = WebhookEndpoint
    filter_backends = [StrictOrderingFilter]
    ordering_fields = ("created_at",)

    def get_queryset(self) -> Any:
        return WebhookEndpoint.objects.order_by("environment_kind", "created_at", "pk")

    @extend_schema(
        operation_id="webhook_endpoints_list",
        responses=WebhookEndpointSerializer(many=True),
        tags=["webhooks"],
        examples=examples.ENDPOINT_LIST,
    )
    def get(self, request: Request) -> Response:
        return self.paginated(self.get_queryset(), WebhookEndpointSerializer)

    @extend_schema(
        operation_id="webhook_endpoints_create",
        request=WebhookEndpointWriteSerializer,
        responses={201: WebhookEndpointWithSecretSerializer},
        tags=["webhooks"],
        description="RevOps: a new endpoint; the answer carries its signing `secret`, shown "
        "once. 400 `url_not_allowed` for a non-https URL or one resolving to a private, "
        "loopback or link-local address outside WEBHOOK_ALLOWED_NETWORKS.",
        examples=examples.ENDPOINT_CREATE,
    )
    def post(self, request: Request) -> Response:
        _require_view(request)
        serializer = WebhookEndpointWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        endpoint, secret = endpoints.webhook_endpoint_create(
            actor=request.user, **serializer.validated_data
        )
        body = WebhookEndpointWithSecretSerializer(endpoint, context={"secret": secret}).data
        return Response(body, status=status.HTTP_201_CREATED)


class WebhookEndpointDetailView(ApiView):
    read_model = WebhookEndpoint

    @extend_schema(
        operation_id="webhook_endpoints_retrieve",
        responses=WebhookEndpointSerializer,
        tags=["webhooks"],
        examples=examples.ENDPOINT_RETRIEVE,
    )
    def get(self, request: Request, pk: uuid.UUID) -> Response:
        return Response(WebhookEndpointSerializer(_endpoint_or_404(pk)).data)

    @extend_schema(
        operation_id="webhook_endpoints_partial_update",
        request=WebhookEndpointPatchSerializer,
        responses=WebhookEndpointSerializer,
        tags=["webhooks"],
        examples=examples.ENDPOINT_UPDATE,
    )
    def patch(self, request: Request, pk: uuid.UUID) -> Response:
        _require_view(request)
        endpoint = _endpoint_or_404(pk)
        serializer = WebhookEndpointPatchSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        endpoint = endpoints.webhook_endpoint_update(
            endpoint=endpoint, actor=request.user, **serializer.validated_data
        )
        return Response(WebhookEndpointSerializer(endpoint).data)

    @extend_schema(
        operation_id="webhook_endpoints_destroy",
        responses={204: None},
        tags=["webhooks"],
    )
    def delete(self, request: Request, pk: uuid.UUID) -> Response:
        _require_view(request)
        endpoints.webhook_endpoint_delete(endpoint=_endpoint_or_404(pk), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookEndpointRotateView(ApiView):
    read_model = WebhookEndpoint

    @extend_schema(
        operation_id="webhook_endpoints_rotate_secret",
        request=None,
        responses={200: WebhookEndpointWithSecretSerializer},
        tags=["webhooks"],
        description="A new signing secret (shown once); the previous one stays valid and "
        "keeps signing for 24 h.",
        examples=examples.ENDPOINT_ROTATE,
    )
    def post(self, request: Request, pk: uuid.UUID) -> Response:
        _require_view(request)
        endpoint = _endpoint_or_404(pk)
        secret = endpoints.webhook_endpoint_rotate_secret(endpoint=endpoint, actor=request.user)
        return Response(
            WebhookEndpointWithSecretSerializer(endpoint, context={"secret": secret}).data
        )


class WebhookEndpointReplayView(ApiView):
    read_model = WebhookEndpoint

    @extend_schema(
        operation_id="webhook_endpoints_replay",
        request=ReplaySerializer,
        responses={202: ReplayResultSerializer},
        tags=["webhooks"],
        description="Send again this endpoint's deliveries created since `since` (same "
        'webhook-ids): `{"replayed": n, "ids": [...]}`.',
        examples=examples.ENDPOINT_REPLAY,
    )
    def post(self, request: Request, pk: uuid.UUID) -> Response:
        _require_view(request)
        endpoint = _endpoint_or_404(pk)
        serializer = ReplaySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        ids = endpoints.webhook_endpoint_replay(
            endpoint=endpoint, actor=request.user, since=serializer.validated_data["since"]
        )
        return Response(
            {"replayed": len(ids), "ids": [str(i) for i in ids]},
            status=status.HTTP_202_ACCEPTED,
        )


class WebhookDeliveryListView(ApiView):
    """Every webhook delivery (the four handoffs among them), newest first."""

    read_model = WebhookDelivery
    filter_backends = [DjangoFilterBackend, StrictOrderingFilter]
    filterset_class = WebhookDeliveryFilter
    ordering_fields = ("created_at", "updated_at", "next_attempt_at", "status")

    def get_queryset(self) -> Any:
        return selectors.webhook_delivery_list()

    @extend_schema(
        operation_id="webhook_deliveries_list",
        responses=WebhookDeliverySerializer(many=True),
        tags=["webhooks"],
        examples=examples.DELIVERY_LIST,
    )
    def get(self, request: Request) -> Response:
        return self.paginated(self.get_queryset(), WebhookDeliverySerializer)
