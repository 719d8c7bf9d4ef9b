"""Query filters of the sales list endpoints (django-filter). Invalid values are a 400."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import Q, QuerySet

from api.filters import BooleanFilter, IdFilter, StrictFilterSet, UpdatedSinceFilter
from opportunities.models import Account, Approval, Contact, Decision, Opportunity, Product
from opportunities.stages import OpportunityType, Stage


def _search(fields: tuple[str, ...]) -> Any:
    def apply(qs: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        value = (value or "").strip()
        if not value:
            return qs
        match = Q()
        for field in fields:
            match |= Q(**{f"{field}__icontains": value})
        return qs.filter(match)

    return apply


class AccountFilter(StrictFilterSet):
    search = django_filters.CharFilter(
        method=_search(("name", "domain", "external_id")),
        max_length=200,
        help_text="Part of the name, domain or external id (case-insensitive).",
    )
    external_id = django_filters.CharFilter(max_length=100)
    owner = IdFilter(field_name="owner_id")
    updated_since = UpdatedSinceFilter()

    class Meta:
        model = Account
        fields = ("search", "external_id", "owner", "updated_since")


class ContactFilter(StrictFilterSet):
    search = django_filters.CharFilter(
        method=_search(("first_name", "last_name", "email")),
        max_length=200,
        help_text="Part of the name or email (case-insensitive).",
    )
    account = IdFilter(field_name="account_id")
    email = django_filters.CharFilter(lookup_expr="iexact", max_length=254)
    updated_since = UpdatedSinceFilter()

    class Meta:
        model = Contact
        fields = ("search", "account", "email", "updated_since")


class ProductFilter(StrictFilterSet):
    search = django_filters.CharFilter(
        method=_search(("sku", "name")),
        max_length=200,
        help_text="Part of the SKU or name (case-insensitive).",
    )
    sku = django_filters.CharFilter(max_length=64)
    active = BooleanFilter()
    updated_since = UpdatedSinceFilter()

    class Meta:
        model = Product
        fields = ("search", "sku", "active", "updated_since")


class OpportunityFilter(StrictFilterSet):
    stage = django_filters.MultipleChoiceFilter(
        choices=Stage.choices, help_text="Repeat for several: `?stage=proposal&stage=negotiation`."
    )
    owner = IdFilter(field_name="owner_id", help_text="Owner (rep) user id.")
    account = IdFilter(field_name="account_id", help_text="Account id.")
    type = django_filters.ChoiceFilter(choices=OpportunityType.choices)
    close_date = django_filters.DateFromToRangeFilter(
        help_text="`close_date_after` / `close_date_before` (inclusive, YYYY-MM-DD)."
    )
    updated_since = UpdatedSinceFilter()
    search = django_filters.CharFilter(
        method=_search(("name", "contract_id", "po_number", "account__name")),
        max_length=200,
        help_text="Part of the deal name, contract ID, PO number or account name.",
    )

    class Meta:
        model = Opportunity
        fields = ("stage", "owner", "account", "type", "close_date", "updated_since", "search")


class ApprovalFilter(StrictFilterSet):
    decision = django_filters.ChoiceFilter(
        choices=Decision.choices, help_text="`pending` for the approval queue."
    )
    opportunity = IdFilter(field_name="opportunity_id")
    mine = BooleanFilter(
        method="filter_mine",
        help_text="`true`: only those whose current step the caller may decide; "
        "`false`: all the others; absent: all.",
    )

    class Meta:
        model = Approval
        fields = ("decision", "opportunity", "mine")

    def filter_mine(self, queryset: Any, name: str, value: bool | None) -> Any:
        from approvals.selectors import decidable_by

        if value is None:
            return queryset
        return decidable_by(queryset, self.request.user if self.request else None, mine=bool(value))
