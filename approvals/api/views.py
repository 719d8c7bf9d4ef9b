"""Approval policies over HTTP: thin callers of ``approvals.selectors`` and
``approvals.services``."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiTypes, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from api.views import ApiView
from approvals import services
from approvals.models import ApprovalPolicy
from core import errors
from opportunities.policies import is_revops


class ApprovalPolicyListView(ApiView):
    """Current and past versions of the approval policy; RevOps save a new version."""

    def get_queryset(self) -> Any:
        return ApprovalPolicy.objects.filter(version__isnull=False).order_by("-version")

    @extend_schema(
        operation_id="approval_policies_list",
        responses=OpenApiTypes.OBJECT,
        tags=["approval-policies"],
        description="Published versions, newest first: `{id, name, version, effective_at, "
        "rules: [{name, conditions, steps}]}`.",
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response([services.policy_definition(p) for p in page or []])

    @extend_schema(
        operation_id="approval_policies_create",
        request=OpenApiTypes.OBJECT,
        responses={201: OpenApiTypes.OBJECT},
        tags=["approval-policies"],
        description="RevOps: save `{name, rules: [{name, conditions: {amount_gte, "
        "max_discount_pct_gte, term_months_gt, type_in, currency_not_reporting, "
        "billing_country_in}, steps: [{group, mode: any|all, count, sla_hours}]}]}` as the "
        "next version, in force now. 400 `invalid` with a field error per problem; 403 "
        "`permission_denied` for anyone else. Pending approvals keep their route.",
    )
    def post(self, request: Request) -> Response:
        if not is_revops(request.user):
            raise errors.PermissionDenied("Only RevOps edit the approval policy.")
        data = request.data
        if not isinstance(data, dict):
            raise errors.InvalidInput("Send a JSON object.")
        policy = services.policy_save(data, actor=request.user)
        return Response(services.policy_definition(policy), status=status.HTTP_201_CREATED)
