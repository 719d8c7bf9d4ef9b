"""Approval policies over HTTP: thin callers of ``approvals.selectors`` and
``approvals.services``."""

from __future__ import annotations

from typing import Any, cast

from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from api.strict import StrictInputMixin
from api.views import ApiView
from approvals import routing, selectors, services
from opportunities import policies
from opportunities.stages import OpportunityType

from . import examples

# Shape only (types and keys; unknown keys refused): every bound, choice and group is
# checked by ``approvals.services.policy_save``, the one place the rules of a definition
# live, so the admin, commands and this API refuse the same definitions the same way.
# The schema still states those bounds (from the service's constants) so that clients
# know them before sending; the fields below validate the type only.


def _schema_only(
    schema: dict[str, Any], base: type[serializers.Field] = serializers.CharField
) -> Any:
    """A field of type ``base`` whose OpenAPI schema is ``schema`` (bounds, enum,
    pattern): documented here, enforced by the service."""
    return extend_schema_field(schema)(type(f"Documented{base.__name__}", (base,), {}))


def _whole(low: int, high: int, help_text: str, **kwargs: Any) -> serializers.IntegerField:
    cls = _schema_only(
        {"type": "integer", "minimum": low, "maximum": high}, serializers.IntegerField
    )
    return cast(serializers.IntegerField, cls(required=False, help_text=help_text, **kwargs))


MODE = _schema_only({"type": "string", "enum": list(routing.MODES)})
TYPE = _schema_only({"type": "string", "enum": list(OpportunityType.values)})
COUNTRY = _schema_only({"type": "string", "pattern": "^[A-Za-z]{2}$"})
AMOUNT = _schema_only(
    {"type": "string", "pattern": r"^[0-9]{1,16}(\.[0-9]{1,2})?$", "nullable": True}
)
PERCENT = _schema_only(
    {
        "type": "string",
        "pattern": r"^(100(\.0{1,2})?|[0-9]{1,2}(\.[0-9]{1,2})?)$",
        "nullable": True,
    }
)


class PolicyStepSerializer(StrictInputMixin, serializers.Serializer):
    group = serializers.CharField(help_text="An approver group (a Django group) by name.")
    mode = MODE(required=False, help_text="`any` (default) or `all`.")
    count = _whole(1, services.MAX_STEP_COUNT, "Members needed for `all` (default 1).")
    sla_hours = _whole(1, services.MAX_SLA_HOURS, "Business hours (default 8).")


class PolicyConditionsSerializer(StrictInputMixin, serializers.Serializer):
    amount_gte = AMOUNT(
        required=False, allow_null=True, help_text="Reporting currency, decimal string."
    )
    max_discount_pct_gte = PERCENT(
        required=False, allow_null=True, help_text='Percent, decimal string (e.g. "20").'
    )
    term_months_gt = _whole(0, services.MAX_TERM_MONTHS, "Whole months.", allow_null=True)
    type_in = serializers.ListField(child=TYPE(), required=False)
    currency_not_reporting = serializers.BooleanField(required=False)
    billing_country_in = serializers.ListField(
        child=COUNTRY(), required=False, help_text="ISO 3166 alpha-2 codes."
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
        "`permission_denied` for anyone but RevOps (or a holder of "
        "`approvals.change_approvalpolicy`); 409 `concurrent_update` when another version "
        "was published at the same instant; 422 `unknown_group` when a step names no "
        "existing group. Pending approvals keep their route. Every bound and choice is "
        "checked by the service (the schema gives the shape).",
        examples=examples.CREATE,
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
