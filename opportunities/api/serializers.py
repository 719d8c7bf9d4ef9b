"""Shapes of the sales resources in the API.

Output serializers read what the selectors loaded (no query per row). Input serializers
check shape and type only — required, strings, numbers, dates, ids that exist — and hand
the values to the services, which own every rule (permissions, locks, versions, gates).
"""

from __future__ import annotations

from typing import Any, cast

import pycountry
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import EmailValidator
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.fields import MoneyField
from api.strict import StrictInputMixin
from approvals import selectors as approval_selectors
from core.money import currency_codes, money_text
from opportunities.models import (
    Account,
    Approval,
    Contact,
    LineItem,
    Opportunity,
    Product,
    StageChange,
)
from opportunities.stages import FORECAST_CATEGORY, LossReason, OpportunityType

MAX_ID = 2**63 - 1


def _money(**kwargs: Any) -> serializers.DecimalField:
    """Money in: a decimal string, never negative, with at most the deal currency's minor
    units (ISO 4217: JPY 0, USD 2, KWD 3; checked by the services, ``invalid`` beyond)."""
    return MoneyField(**kwargs)


@extend_schema_field(
    {
        "type": "string",
        "format": "decimal",
        "pattern": r"^\d+(\.\d{1,4})?$",
        "nullable": True,
        "description": "Decimal string with exactly the currency's minor units "
        "(ISO 4217): `120000.00` USD, `1000000` JPY, `1000.125` KWD.",
    }
)
class MoneyOutField(serializers.Field):
    """Money out, with exactly the minor units of the opportunity's currency."""

    def __init__(self, *, currency_of: str = "currency", **kwargs: Any) -> None:
        self.currency_of = currency_of
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def get_attribute(self, instance: Any) -> Any:
        currency = instance
        for part in self.currency_of.split("."):
            currency = getattr(currency, part)
        return (super().get_attribute(instance), currency)

    def to_representation(self, value: Any) -> str | None:
        amount, currency = value
        return money_text(amount, currency)


# The codes the model validators accept (ISO 4217 money, ISO 3166), as enums in the schema.
# The model validates them (with every other field's rule, all reported at once).
CURRENCIES = sorted(currency_codes())
COUNTRIES = sorted(c.alpha_2 for c in pycountry.countries)


@extend_schema_field({"type": "string", "enum": CURRENCIES})
class CurrencyField(serializers.CharField):
    pass


@extend_schema_field({"type": "string", "enum": ["", *COUNTRIES]})
class CountryOrBlankField(serializers.CharField):
    pass


def _id_field(**kwargs: Any) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=1, max_value=MAX_ID, **kwargs)


def _related(queryset: Any, **kwargs: Any) -> serializers.PrimaryKeyRelatedField:
    # pk_field makes true/false or 1.5 an error instead of the id 1.
    return serializers.PrimaryKeyRelatedField(
        queryset=queryset,
        pk_field=serializers.IntegerField(min_value=1, max_value=MAX_ID),
        **kwargs,
    )


# Email fields may be blank: say so in the schema ("" is not a valid "email" format).
_EMAIL_OR_BLANK = {
    "type": "string",
    "maxLength": 254,
    "anyOf": [{"format": "email"}, {"enum": [""]}],
}


@extend_schema_field(_EMAIL_OR_BLANK)
class EmailOrBlankField(serializers.CharField):
    """An email address or "". Validated here rather than with a validator, which
    drf-spectacular would turn into a plain ``format: email`` that forbids ""."""

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        if value:
            try:
                EmailValidator()(value)
            except DjangoValidationError:
                raise serializers.ValidationError(
                    "Enter a valid email address.", code="invalid"
                ) from None
        return value


def _active_users() -> Any:
    return get_user_model().objects.filter(is_active=True)


# --- accounts, contacts, products -----------------------------------------------------------


class AccountSerializer(serializers.ModelSerializer):
    class Meta:
        model = Account
        fields = (
            "id",
            "name",
            "domain",
            "billing_country",
            "owner",
            "external_id",
            "created_at",
            "updated_at",
        )
        read_only_fields = fields


class AccountWriteSerializer(StrictInputMixin, serializers.Serializer):
    read_only_names = ("id", "created_at", "updated_at")
    name = serializers.CharField(max_length=200)
    domain = serializers.CharField(max_length=253, allow_blank=True, required=False)
    billing_country = CountryOrBlankField(
        max_length=2,
        allow_blank=True,
        required=False,
        help_text="ISO 3166 alpha-2 (`US`, `DE`), or empty.",
    )
    owner = _related(_active_users(), required=False, allow_null=True)
    external_id = serializers.CharField(
        max_length=100,
        allow_blank=True,
        allow_null=True,
        required=False,
        help_text="Your system's id for the account (unique), for CRM sync.",
    )


class ContactSerializer(serializers.ModelSerializer):
    email = EmailOrBlankField(read_only=True)

    class Meta:
        model = Contact
        fields = (
            "id",
            "account",
            "first_name",
            "last_name",
            "email",
            "phone",
            "title",
            "created_at",
            "updated_at",
        )
        read_only_fields = fields


class ContactWriteSerializer(StrictInputMixin, serializers.Serializer):
    read_only_names = ("id", "created_at", "updated_at")
    account = _related(Account.objects.all())
    first_name = serializers.CharField(max_length=100, allow_blank=True, required=False)
    last_name = serializers.CharField(max_length=100)
    email = EmailOrBlankField(max_length=254, allow_blank=True, required=False)
    phone = serializers.CharField(max_length=50, allow_blank=True, required=False)
    title = serializers.CharField(max_length=100, allow_blank=True, required=False)


class ProductSerializer(serializers.ModelSerializer):
    class Meta:
        model = Product
        fields = ("id", "sku", "name", "active", "created_at", "updated_at")
        read_only_fields = fields


class ProductWriteSerializer(StrictInputMixin, serializers.Serializer):
    read_only_names = ("id", "created_at", "updated_at")
    sku = serializers.CharField(max_length=64)
    name = serializers.CharField(max_length=200)
    active = serializers.BooleanField(required=False)


# --- opportunities ---------------------------------------------------------------------------


# Today's exchange rates read for one response, shared by every line it renders (the
# list's serializer reads them for the whole page at once).
_RATES = "line_item_rates"
_LINE_PRICES = "line_item_prices"
PERCENT_PATTERN = r"^-?\d+\.\d{2}$"


def _response_rates(field: serializers.Field) -> dict[Any, Any]:
    # The root serializer's context dict, shared by every field of one response.
    context = cast(dict[str, Any], field.context)
    return cast(dict[Any, Any], context.setdefault(_RATES, {}))


def _price_of(field: serializers.Field, line: LineItem) -> approval_selectors.LinePrice:
    """The line's list price and discount (``approvals.selectors.line_prices``, with the
    rates of this response: no query once today's rate of its currency is read).

    Worked out once per line and response: the first line of a deal asked for prices
    every loaded line of that deal in one pass (two fields show each line's figures)."""
    context = cast(dict[str, Any], field.context)
    known = cast(dict[int, approval_selectors.LinePrice], context.setdefault(_LINE_PRICES, {}))
    pk = line.id  # the primary key (``pk`` goes through a property: once per line here)
    if pk is not None:
        found = known.get(pk)
        if found is not None:
            return found
    opportunity = line.opportunity
    loaded = getattr(opportunity, "_prefetched_objects_cache", {}).get("line_items")
    rows = list(loaded) if loaded is not None and line in loaded else [line]
    prices = approval_selectors.line_prices(opportunity, rows, rates=_response_rates(field))
    known.update(
        (row.id, price) for row, price in zip(rows, prices, strict=True) if row.id is not None
    )
    return prices[rows.index(line)] if pk is None else known[pk]


@extend_schema_field(
    {
        "type": "string",
        "nullable": True,
        "readOnly": True,
        "pattern": r"^-?\d+(\.\d{1,4})?$",
        "description": "The product's list price per seat for the whole term, in the "
        "reporting currency (`list_price_currency`); null when the product has none.",
    }
)
class ListPriceField(serializers.Field):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, value: LineItem) -> str | None:
        return money_text(_price_of(self, value).list_price, settings.REPORTING_CURRENCY)


@extend_schema_field(
    {
        "type": "string",
        "nullable": True,
        "readOnly": True,
        "pattern": PERCENT_PATTERN,
        "description": "The line's discount in percent, two decimals: 1 − unit_price ÷ "
        "list_price, the unit price converted to the reporting currency at today's rate — "
        "the figure approval routing compares. Negative for a price above list (a "
        "premium). Null without a list price, a unit price or an exchange rate.",
    }
)
class DiscountField(serializers.Field):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, value: LineItem) -> str | None:
        pct = _price_of(self, value).discount_pct
        return f"{pct:f}" if pct is not None else None


class LineItemSerializer(serializers.ModelSerializer):
    product = serializers.IntegerField(source="product_id", read_only=True)
    unit_price = MoneyOutField(
        currency_of="opportunity.currency", help_text="Price per seat for the whole term."
    )
    list_price = ListPriceField()
    list_price_currency = serializers.SerializerMethodField(
        help_text="The currency of `list_price` (the reporting currency); null without one."
    )
    discount_pct = DiscountField()

    class Meta:
        model = LineItem
        fields = (
            "id",
            "product",
            "seats",
            "unit_price",
            "list_price",
            "list_price_currency",
            "discount_pct",
        )
        read_only_fields = fields

    @extend_schema_field({"type": "string", "nullable": True})
    def get_list_price_currency(self, line: LineItem) -> str | None:
        listed = line.product.list_price if line.product_id else None
        return settings.REPORTING_CURRENCY if listed is not None else None

    def to_representation(self, instance: LineItem) -> dict[str, Any]:
        """The fields above, read directly: a deal's line items are serialised on every
        read, change-feed event and approval, and DRF's generic field walk was most of an
        approval's cost per line item. Same keys, order and values as the generic walk
        (pinned by a test)."""
        price = _price_of(self, instance)
        listed, discount = price.list_price, price.discount_pct
        return {
            "id": instance.id,
            "product": instance.product_id,
            "seats": instance.seats,
            "unit_price": money_text(instance.unit_price, instance.opportunity.currency),
            # One price lookup for the three fields (the generic walk made two).
            "list_price": None
            if listed is None
            else money_text(listed, settings.REPORTING_CURRENCY),
            "list_price_currency": None if listed is None else settings.REPORTING_CURRENCY,
            "discount_pct": None if discount is None else f"{discount:f}",
        }


class _OpportunityListSerializer(serializers.ListSerializer):
    """Reads today's rate of every currency on the page in one query before the lines'
    discounts need them (none when all are in the reporting currency)."""

    def to_representation(self, data: Any) -> list[Any]:
        items = list(data.all() if hasattr(data, "all") else data)
        approval_selectors.rates_today({o.currency for o in items}, _response_rates(self))
        return super().to_representation(items)


class LineItemWriteSerializer(StrictInputMixin, serializers.Serializer):
    # Shown on each line, computed from the product's list price: never sent.
    read_only_names: tuple[str, ...] = ("list_price", "list_price_currency", "discount_pct")
    id = _id_field(
        required=False,
        allow_null=True,
        help_text="An existing line item of this deal to keep (updated); omit for a new one.",
    )
    product = _id_field(help_text="Product id.")
    seats = serializers.IntegerField(min_value=1, max_value=2**31 - 1)
    unit_price = _money(
        allow_null=True,
        required=False,
        help_text="Price per seat for the whole term (decimal string).",
    )


@extend_schema_field(
    {
        "type": "string",
        "enum": ["", *LossReason.values],
        "description": "Why the deal was lost; empty unless it is Closed Lost.",
    }
)
class LossReasonOrBlankField(serializers.CharField):
    pass


class OpportunitySerializer(serializers.ModelSerializer):
    def to_representation(self, instance: Opportunity) -> dict[str, Any]:
        # A line's discount reads the deal's currency: line items a caller set on the
        # instance (a bulk import) get their deal cached, so none is read back per line.
        cached = getattr(instance, "_prefetched_objects_cache", {}).get("line_items")
        if cached is not None:
            for line in cached:
                LineItem.opportunity.field.set_cached_value(line, instance)
        return dict(super().to_representation(instance))

    stage_label = serializers.CharField(read_only=True)
    probability = serializers.IntegerField(read_only=True, help_text="Percent, from the stage.")
    forecast_category = serializers.ChoiceField(
        choices=sorted(set(FORECAST_CATEGORY.values())), read_only=True
    )
    line_items = LineItemSerializer(many=True, read_only=True)
    loss_reason = LossReasonOrBlankField(read_only=True)
    amount = MoneyOutField(help_text="Total contract value.")

    class Meta:
        model = Opportunity
        list_serializer_class = _OpportunityListSerializer
        fields = (
            "id",
            "name",
            "account",
            "owner",
            "stage",
            "stage_label",
            "type",
            "amount",
            "currency",
            "close_date",
            "probability",
            "forecast_category",
            "contract_id",
            "po_number",
            "primary_contact",
            "contract_start_date",
            "term_months",
            "line_items",
            "loss_reason",
            "loss_detail",
            "version",
            "created_at",
            "updated_at",
            "closed_at",
        )
        read_only_fields = fields


_OPPORTUNITY_READ_ONLY = (
    "id",
    "stage",
    "stage_label",
    "probability",
    "forecast_category",
    "loss_reason",
    "loss_detail",
    "version",
    "created_at",
    "updated_at",
    "closed_at",
)


class OpportunityWriteSerializer(StrictInputMixin, serializers.Serializer):
    """Create (``name`` required) or PATCH (any subset). ``stage`` is not writable:
    sending it is a 400 ``stage_read_only``; use a transition."""

    read_only_names = _OPPORTUNITY_READ_ONLY

    name = serializers.CharField(max_length=200)
    account = _related(Account.objects.all(), required=False, allow_null=True)
    owner = _related(
        _active_users(),
        required=False,
        help_text="Defaults to you. Only RevOps create or reassign deals for someone else.",
    )
    type = serializers.ChoiceField(choices=OpportunityType.choices, required=False)
    amount = _money(allow_null=True, required=False, help_text="Total contract value.")
    currency = CurrencyField(max_length=3, required=False, help_text="ISO 4217, e.g. `USD`.")
    close_date = serializers.DateField(allow_null=True, required=False)
    contract_id = serializers.CharField(max_length=100, allow_blank=True, required=False)
    po_number = serializers.CharField(max_length=100, allow_blank=True, required=False)
    primary_contact = _related(Contact.objects.all(), required=False, allow_null=True)
    contract_start_date = serializers.DateField(allow_null=True, required=False)
    term_months = serializers.IntegerField(
        min_value=1, max_value=32767, allow_null=True, required=False
    )
    line_items = LineItemWriteSerializer(
        many=True,
        required=False,
        help_text="The complete list: it replaces every line item of the deal.",
    )


class TransitionOptionSerializer(serializers.Serializer):
    name = serializers.CharField()
    target = serializers.CharField(help_text="The stage it leads to.")
    # DRF's metaclass pops declared fields, so this does not clash with Field.label.
    label = serializers.CharField()  # type: ignore[assignment]
    permitted = serializers.BooleanField(help_text="You may run it (role, ownership).")
    allowed = serializers.BooleanField(
        help_text="It would succeed now: available from the current stage, permitted, "
        "and no requirement unmet."
    )
    available = serializers.BooleanField(help_text="It leads out of the current stage.")
    denied_code = serializers.CharField(
        allow_null=True, help_text="Why not permitted: `permission_denied`, …"
    )
    needs = serializers.ListField(
        child=serializers.CharField(), help_text="Body fields it takes (`reason`, …)."
    )
    unmet = serializers.ListField(
        child=serializers.DictField(child=serializers.CharField()),
        help_text="Every unmet requirement: `{code, field, message}`.",
    )
    approval_route = serializers.ListField(
        child=serializers.DictField(),
        required=False,
        help_text="`submit_for_approval` only: the steps it would need, in order: "
        "`{group, rule, mode, count, sla_hours, why}` (RevOps first).",
    )


class TransitionRequestSerializer(StrictInputMixin, serializers.Serializer):
    # The deal's own fields: a transition changes them, a client does not.
    read_only_names = _OPPORTUNITY_READ_ONLY + (
        "name",
        "account",
        "owner",
        "type",
        "amount",
        "currency",
        "close_date",
        "line_items",
    )
    reason = serializers.CharField(
        allow_blank=True,
        required=False,
        max_length=10000,
        help_text="Required by `reject`.",
    )
    loss_reason = serializers.ChoiceField(
        choices=["", *LossReason.values],
        allow_blank=True,
        required=False,
        help_text="Required by `mark_lost`: price, competitor, no_budget, no_decision, "
        "timing, product_fit or other.",
    )
    loss_detail = serializers.CharField(
        allow_blank=True,
        required=False,
        max_length=10000,
        help_text="Required by `mark_lost` with `other`.",
    )


class StageChangeSerializer(serializers.ModelSerializer):
    actor_username = serializers.SerializerMethodField()

    class Meta:
        model = StageChange
        fields = (
            "id",
            "transition",
            "from_stage",
            "to_stage",
            "actor",
            "actor_username",
            "source",
            "reason",
            "gate_snapshot",
            "at",
        )
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.STR)
    def get_actor_username(self, obj: StageChange) -> str | None:
        return obj.actor.get_username() if obj.actor_id and obj.actor else None


class ApprovalSerializer(serializers.ModelSerializer):
    opportunity_name = serializers.CharField(source="opportunity.name", read_only=True)
    account = serializers.IntegerField(
        source="opportunity.account_id", read_only=True, allow_null=True
    )
    owner = serializers.IntegerField(source="opportunity.owner_id", read_only=True)
    amount = MoneyOutField(source="opportunity.amount", currency_of="opportunity.currency")
    currency = serializers.CharField(source="opportunity.currency", read_only=True)
    age_seconds = serializers.SerializerMethodField(
        help_text="Seconds since the deal was submitted for approval."
    )
    current_step = serializers.SerializerMethodField(
        help_text="The step of `route` now waiting (`index` into it), or null once decided."
    )
    decisions = serializers.SerializerMethodField(
        help_text="Each step decision: `{step_index, group, decision, decided_by, decided_at, comment}`."
    )

    def get_current_step(self, obj: Approval) -> dict[str, Any] | None:
        return approval_selectors.current_step(obj)

    def get_decisions(self, obj: Approval) -> list[dict[str, Any]]:
        return approval_selectors.decision_dicts(obj.decisions.all())

    class Meta:
        model = Approval
        fields = (
            "id",
            "opportunity",
            "opportunity_name",
            "account",
            "owner",
            "amount",
            "currency",
            "submitted_by",
            "submitted_at",
            "decided_by",
            "decided_at",
            "decision",
            "reason",
            "age_seconds",
            "snapshot",
            "route",
            "policy_version",
            "current_step",
            "decisions",
        )
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.INT)
    def get_age_seconds(self, obj: Approval) -> int:
        now = self.context.get("now") or timezone.now()
        return max(0, int((now - obj.submitted_at).total_seconds()))
