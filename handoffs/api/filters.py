"""Query filters of GET /handoffs/."""

from __future__ import annotations

import django_filters

from api.filters import IdFilter, StrictFilterSet, UpdatedSinceFilter
from handoffs.models import Handoff, HandoffKind, HandoffStatus


class HandoffFilter(StrictFilterSet):
    opportunity = IdFilter(field_name="opportunity_id", help_text="Opportunity id.")
    kind = django_filters.ChoiceFilter(choices=HandoffKind.choices)
    status = django_filters.ChoiceFilter(choices=HandoffStatus.choices)
    updated_since = UpdatedSinceFilter()

    class Meta:
        model = Handoff
        fields = ("opportunity", "kind", "status", "updated_since")
