"""The amendment list's filters (``?status=&opportunity=``), strict like every list."""

from __future__ import annotations

import django_filters

from api.filters import IdFilter, StrictFilterSet

from .models import Amendment, AmendmentKind, AmendmentStatus


class AmendmentFilter(StrictFilterSet):
    status = django_filters.ChoiceFilter(choices=AmendmentStatus.choices)
    kind = django_filters.ChoiceFilter(choices=AmendmentKind.choices)
    opportunity = IdFilter(field_name="opportunity_id")

    class Meta:
        model = Amendment
        fields = ("status", "kind", "opportunity")
