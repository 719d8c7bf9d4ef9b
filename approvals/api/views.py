"""Approval policies over HTTP: thin callers of ``approvals.selectors`` and
``approvals.services``."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from api.fields import MoneyField
from api.strict import StrictInputMixin
from api.views import ApiView
from approvals import services
from approvals.models import ApprovalPolicy
from core import errors
from opportunities.policies import is_revops
from opportunities.stages import OpportunityType

from . import examples


class PolicyStepSerializer(StrictInputMixin, serializers.Serializer):
    group = serializers.CharField(
        max_length=150, help_text="An approver group (a Django group) by name."
    )
    mode = serializers.ChoiceField(choices=["any", "all"], required=False)
    count = serializers.IntegerField(min_value=1, max_value=50, required=False)
    sla_hours = serializers.IntegerField(
        min_value=1, max_value=1000, required=False, help_text="Business hours."
    )


class PolicyConditionsSerializer(StrictInputMixin, serializers.Serializer):
    amount_gte = MoneyField(
        required=False, allow_null=True, help_text="Reporting currency, decimal string."
    )
    max_discount_pct_gte = MoneyField(
        required=False, allow_null=True, help_text='Percent, decimal string (e.g. "20").'
    )
    term_months_gt = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=1200
    )
    type_in = serializers.ListField(
        child=serializers.ChoiceField(choices=OpportunityType.choices), required=False
    )
    currency_not_reporting = serializers.BooleanField(required=False)
    billing_country_in = serializers.ListField(
        child=serializers.RegexField(r"^[A-Za-z]{2}$", help_text="ISO 3166 alpha-2."),
        required=False,
    )


class PolicyRuleSerializer(StrictInputMixin, serializers.Serializer):
    name = serializers.CharField(max_length=200)
    conditions = PolicyConditionsSerializer(required=False)
    steps = PolicyStepSerializer(many=True)


class ApprovalPolicyWriteSerializer(StrictInputMixin, serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)
    rules = PolicyRuleSerializer(many=True)


class ApprovalPolicySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    version = serializers.IntegerField()
    effective_at = serializers.DateTimeField()
    rules = serializers.ListField(child=serializers.DictField())


class ApprovalPolicyListView(ApiView):
    """Current and past versions of the approval policy; RevOps save a new version."""

    def get_queryset(self) -> Any:
        return ApprovalPolicy.objects.filter(version__isnull=False).order_by("-version")

    @extend_schema(
        operation_id="approval_policies_list",
        responses=ApprovalPolicySerializer(many=True),
        tags=["approval-policies"],
        description="Published versions, newest first: `{id, name, version, effective_at, "
        "rules: [{name, conditions, steps}]}`.",
        examples=examples.LIST,
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        rows = [services.policy_definition(p) for p in page or []]
        return self.get_paginated_response(ApprovalPolicySerializer(rows, many=True).data)

    @extend_schema(
        operation_id="approval_policies_create",
        request=ApprovalPolicyWriteSerializer,
        responses={201: ApprovalPolicySerializer},
        tags=["approval-policies"],
        description="RevOps: save `{name, rules: [{name, conditions: {amount_gte, "
        "max_discount_pct_gte, term_months_gt, type_in, currency_not_reporting, "
        "billing_country_in}, steps: [{group, mode: any|all, count, sla_hours}]}]}` as the "
        "next version, in force now. 400 `invalid` with a field error per problem; 403 "
        "`permission_denied` for anyone else; 422 `unknown_group` when a step names no "
        "existing group. Pending approvals keep their route.",
        examples=examples.CREATE,
    )
    def post(self, request: Request) -> Response:
        if not is_revops(request.user):
            raise errors.PermissionDenied("Only RevOps edit the approval policy.")
        body = ApprovalPolicyWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        # The raw body (decimal strings as sent); the service checks what the schema cannot
        # (each group exists): 422 ``unknown_group``.
        data = request.data
        assert isinstance(data, dict)
        policy = services.policy_save(data, actor=request.user)
        return Response(
            ApprovalPolicySerializer(services.policy_definition(policy)).data,
            status=status.HTTP_201_CREATED,
        )
