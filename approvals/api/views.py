"""Approval policies over HTTP: thin callers of ``approvals.selectors`` and
``approvals.services``."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from api.strict import StrictInputMixin
from api.views import ApiView
from approvals import selectors, services
from opportunities import policies
from opportunities.stages import OpportunityType

# Shape only (types and keys; unknown keys refused): every bound, choice and group is
# checked by ``approvals.services.policy_save``, the one place the rules of a definition
# live, so the admin, commands and this API refuse the same definitions the same way.


class PolicyStepSerializer(StrictInputMixin, serializers.Serializer):
    group = serializers.CharField(help_text="An approver group (a Django group) by name.")
    mode = serializers.CharField(required=False, help_text="`any` (default) or `all`.")
    count = serializers.IntegerField(
        required=False,
        help_text=f"Members needed for `all`: 1 to {services.MAX_STEP_COUNT} (default 1).",
    )
    sla_hours = serializers.IntegerField(
        required=False,
        help_text=f"Business hours, 1 to {services.MAX_SLA_HOURS} (default 8).",
    )


def _decimal_string(help_text: str) -> serializers.RegexField:
    return serializers.RegexField(
        r"^[0-9]+(\.[0-9]+)?$", required=False, allow_null=True, help_text=help_text
    )


class PolicyConditionsSerializer(StrictInputMixin, serializers.Serializer):
    amount_gte = _decimal_string("Reporting currency, decimal string, ≥ 0, 2 decimals at most.")
    max_discount_pct_gte = _decimal_string('Percent, decimal string 0 to 100 (e.g. "20").')
    term_months_gt = serializers.IntegerField(
        required=False,
        allow_null=True,
        help_text=f"Whole months, 0 to {services.MAX_TERM_MONTHS}.",
    )
    type_in = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text=f"Opportunity types: {', '.join(OpportunityType.values)}.",
    )
    currency_not_reporting = serializers.BooleanField(required=False)
    billing_country_in = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="ISO 3166 alpha-2 codes."
    )


class PolicyRuleSerializer(StrictInputMixin, serializers.Serializer):
    name = serializers.CharField()
    conditions = PolicyConditionsSerializer(required=False)
    steps = PolicyStepSerializer(many=True)


class ApprovalPolicyWriteSerializer(StrictInputMixin, serializers.Serializer):
    name = serializers.CharField(required=False)
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
        # Rules and steps prefetched for the page: three queries for any number of rows.
        return selectors.published_policies()

    @extend_schema(
        operation_id="approval_policies_list",
        responses=ApprovalPolicySerializer(many=True),
        tags=["approval-policies"],
        description="Published versions, newest first: `{id, name, version, effective_at, "
        "rules: [{name, conditions, steps}]}`.",
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
        "`permission_denied` for anyone but RevOps (or a holder of "
        "`approvals.change_approvalpolicy`); 409 `concurrent_update` when another version "
        "was published at the same instant; 422 `unknown_group` when a step names no "
        "existing group. Pending approvals keep their route. Every bound and choice is "
        "checked by the service (the schema gives the shape).",
    )
    def post(self, request: Request) -> Response:
        # The service checks it too; asked first so that anyone else gets 403, not a
        # complaint about the body.
        denied = policies.approval_policy_permission_error(request.user)
        if denied is not None:
            raise denied
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
