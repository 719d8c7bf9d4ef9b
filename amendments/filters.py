"""The amendment list's filters (``?status=&kind=&opportunity=&mine=``), strict like every
list."""

from __future__ import annotations

from typing import Any

import django_filters

from api.filters import BooleanFilter, IdFilter, StrictFilterSet

from .models import Amendment, AmendmentKind, AmendmentStatus


class AmendmentFilter(StrictFilterSet):
    status = django_filters.ChoiceFilter(choices=AmendmentStatus.choices)
    kind = django_filters.ChoiceFilter(choices=AmendmentKind.choices)
    opportunity = IdFilter(field_name="opportunity_id")
    mine = BooleanFilter(
        method="filter_mine",
        help_text="`true`: only those whose current step the caller may decide; "
        "`false`: all the others; absent: all.",
    )

    class Meta:
        model = Amendment
        fields = ("status", "kind", "opportunity", "mine")

    def filter_mine(self, queryset: Any, name: str, value: bool | None) -> Any:
        from .selectors import decidable_by

        if value is None:
            return queryset
        return decidable_by(queryset, self.request.user if self.request else None, mine=bool(value))
