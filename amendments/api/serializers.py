"""Amendments over HTTP: what clients send (strict) and what they get back."""

from __future__ import annotations

import contextlib
from decimal import Decimal, InvalidOperation
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.fields import MoneyField
from api.strict import StrictInputMixin
from approvals import selectors as approval_selectors
from core.money import money_text
from core.parsing import ascii_int
from opportunities.api.serializers import CurrencyField, LineItemWriteSerializer
from opportunities.stages import OpportunityType

from ..models import Amendment, AmendmentDecision, AmendmentKind

MAX_ID = 2**63 - 1


def _id(**kwargs: Any) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=1, max_value=MAX_ID, **kwargs)


class AmendmentChangesSerializer(StrictInputMixin, serializers.Serializer):
    """The proposed values of the gated fields; send only those that change."""

    account = _id(required=False)
    type = serializers.ChoiceField(choices=OpportunityType.choices, required=False)
    amount = MoneyField(required=False, allow_null=True)
    currency = CurrencyField(required=False, help_text="Must stay the deal's currency.")
    close_date = serializers.DateField(required=False, allow_null=True)
    contract_id = serializers.CharField(required=False, allow_blank=True, max_length=100)
    po_number = serializers.CharField(required=False, allow_blank=True, max_length=100)
    primary_contact = _id(required=False, allow_null=True)
    contract_start_date = serializers.DateField(required=False, allow_null=True)
    term_months = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=32767
    )


class AmendmentLineItemSerializer(LineItemWriteSerializer):
    """A line item of the proposed list (the whole new list replaces the deal's)."""

    read_only_names = ("id", *LineItemWriteSerializer.read_only_names)
    id = None  # type: ignore[assignment]


class AmendmentRequestSerializer(StrictInputMixin, serializers.Serializer):
    kind = serializers.ChoiceField(choices=AmendmentKind.choices)
    reason = serializers.CharField(max_length=10000, allow_blank=True)
    changes = AmendmentChangesSerializer(required=False)
    line_items = AmendmentLineItemSerializer(
        many=True,
        required=False,
        allow_null=True,
        help_text="The whole new list of line items; omit to keep them.",
    )


class AmendmentDecideSerializer(StrictInputMixin, serializers.Serializer):
    reason = serializers.CharField(
        max_length=10000, allow_blank=True, required=False, help_text="Required by `reject`."
    )


class AmendmentDecisionSerializer(serializers.ModelSerializer):
    class Meta:
        model = AmendmentDecision
        fields = (
            "step",
            "decision",
            "actor",
            "source",
            "reason",
            "from_version",
            "to_version",
            "at",
        )
        read_only_fields = fields


def _line_shown(item: Any, currency: str) -> Any:
    """A proposed line item with ``product`` and ``seats`` as numbers and ``unit_price``
    in the currency's decimals (ISO 4217); a value that is none of these is kept as is."""
    if not isinstance(item, dict):
        return item
    shown = dict(item)
    for key in ("product", "seats"):
        whole = ascii_int(str(shown.get(key, "")))
        if whole is not None:
            shown[key] = whole
    price = shown.get("unit_price")
    if price not in (None, "") and currency:
        with contextlib.suppress(InvalidOperation, ValueError, ArithmeticError):
            number = Decimal(str(price))
            if number.is_finite():
                shown["unit_price"] = money_text(number, currency)
    return shown


class AmendmentSerializer(serializers.ModelSerializer):
    decisions = AmendmentDecisionSerializer(many=True, read_only=True)
    current_step = serializers.SerializerMethodField(
        help_text="The route step now waiting, `{group, rule, mode, count, sla_hours, why, "
        "index}` (null once decided)."
    )
    step_decisions = serializers.SerializerMethodField(
        help_text="Each step decision, as on an approval: `{step_index, group, decision, "
        "decided_by, decided_at, comment, policy_version}`."
    )
    after = serializers.JSONField(
        allow_null=True,
        read_only=True,
        help_text="The deal's values after the amendment; null for a cancellation (no "
        "state after it).",
    )

    class Meta:
        model = Amendment
        fields = (
            "id",
            "opportunity",
            "kind",
            "status",
            "reason",
            "changes",
            "line_items",
            "requested_by",
            "requested_at",
            "route",
            "policy_version",
            "step_index",
            "current_step",
            "step_decisions",
            "before",
            "after",
            "delta",
            "decided_by",
            "decided_at",
            "decision_reason",
            "applied_version",
            "decisions",
        )
        read_only_fields = fields

    def to_representation(self, instance: Amendment) -> dict[str, Any]:
        data = super().to_representation(instance)
        if data.get("line_items"):
            # As sent (a form sends text): shown like the deal's own line items — whole
            # seats, the currency's decimals.
            currency = (instance.before or {}).get("currency", "")
            data["line_items"] = [_line_shown(item, currency) for item in data["line_items"]]
        return data

    # The return annotation is the schema: an object, or null once decided.
    def get_current_step(self, obj: Amendment) -> dict[str, Any] | None:
        return approval_selectors.current_step(obj)

    @extend_schema_field(serializers.ListField(child=serializers.DictField()))
    def get_step_decisions(self, obj: Amendment) -> list[dict[str, Any]]:
        # The prefetched rows of the list selector (no query per amendment).
        return approval_selectors.decision_dicts(obj.step_decisions.all())


class AmendmentDryRunSerializer(serializers.Serializer):
    passes = serializers.BooleanField()
    unmet = serializers.ListField(child=serializers.DictField())
    route = serializers.ListField(
        child=serializers.DictField(),
        help_text="The steps the proposed values would need: `{group, rule, mode, count, "
        "sla_hours, why}`, RevOps first.",
    )
    route_label = serializers.CharField(help_text='e.g. "RevOps → Finance (amount ≥ 100,000)".')
    policy_version = serializers.IntegerField(allow_null=True)
    before = serializers.DictField()
    after = serializers.DictField(allow_null=True, help_text="null for a cancellation.")
    delta = serializers.DictField()
