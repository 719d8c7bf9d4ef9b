"""Reads of opportunities: one, the list, the dry run of the transitions and the checklist.

Each list selector returns a queryset that joins or prefetches what its callers show, so
a page costs a constant number of queries whatever the number of deals.
"""

from __future__ import annotations

import functools
from typing import Any

from django.db.models import QuerySet

from approvals import selectors as approval_selectors
from core.db import instances_from_rows

from .. import gate, policies
from ..models import LINE_ITEMS_UNREAD, LineItem, Opportunity, Product, line_items_prefetch
from ..stages import TRANSITIONS, Stage
from .approvals import pending_approval_of


def opportunity_list() -> QuerySet[Opportunity]:
    """Deals with account, owner, primary contact and line items (+ products) loaded."""
    return Opportunity.objects.select_related(
        "account", "owner", "primary_contact"
    ).prefetch_related(line_items_prefetch())


def opportunity_get(pk: Any) -> Opportunity | None:
    try:
        return opportunity_list().filter(pk=pk).first()
    except (ValueError, TypeError):
        return None


def opportunity_transition_options(opportunity: Opportunity, user: Any) -> list[dict[str, Any]]:
    """The dry run: for every transition, whether ``user`` may run it (``permitted``), whether
    it would succeed now (``allowed``) and what is missing (``unmet``).

    The facts are gathered once (≤ 3 queries) and every target is evaluated from them.
    """
    facts = gate.gather_one(opportunity, target=Stage.CLOSED_WON)
    approval = pending_approval_of(opportunity)
    options = []
    for name, spec in TRANSITIONS.items():
        gated = spec.target in gate.CLOSED_WON_TARGETS or name.startswith("move_to_")
        unmet = gate.evaluate(facts, spec.target) if gated else []
        available = opportunity.stage in spec.sources
        denied = policies.transition_permission_error(name, opportunity, user, approval)
        options.append(
            {
                "name": name,
                "target": spec.target,
                "label": spec.label,
                "permitted": denied is None,
                "allowed": available and denied is None and not unmet,
                "available": available,
                "denied_code": denied.code if denied else None,
                "needs": list(spec.needs),
                "unmet": [u.as_dict() for u in unmet],
            }
        )
        if name == "submit_for_approval":
            # Who will have to approve, and why: the route under the policy in force.
            options[-1]["approval_route"] = approval_selectors.route_for(opportunity)
    return options


def opportunity_checklist(opportunity: Opportunity) -> dict[str, Any]:
    """The rep's Closed-Won checklist: every requirement, met or not."""
    facts = gate.gather_one(opportunity, target=Stage.CLOSED_WON)
    unmet = gate.evaluate(facts, Stage.CLOSED_WON)
    return {
        "passes": not unmet,
        "unmet": [u.as_dict() for u in unmet],
        "items": gate.checklist(unmet, facts.configured, facts),
    }


def line_items_loaded(opportunity: Opportunity) -> list[LineItem]:
    """The deal's line items with their products, in order, read at most once per instance
    (one query): the gate, the approval snapshot, the handoff payloads and the API response
    all share it. The same instances and cache as ``prefetch_related(line_items_prefetch())``
    (each line's ``product`` and ``opportunity`` set, the timestamps deferred), built from
    the rows with :func:`core.db.instances_from_rows`: a deal of 100 line items is read on
    every approval, and the ORM's generic row-to-instance walk was a fifth of what such an
    approval spent beyond a one-line one."""
    cache = getattr(opportunity, "_prefetched_objects_cache", {})
    if "line_items" not in cache:
        _line_items_read(opportunity)
    return list(opportunity.line_items.all())


@functools.cache
def _line_columns() -> tuple[tuple[str, ...], tuple[str, ...]]:
    def read(model: Any) -> tuple[str, ...]:
        return tuple(
            f.attname for f in model._meta.concrete_fields if f.attname not in LINE_ITEMS_UNREAD
        )

    return read(LineItem), read(Product)


def _line_items_read(opportunity: Opportunity) -> None:
    line_names, product_names = _line_columns()
    rows = (
        LineItem.objects.filter(opportunity_id=opportunity.pk)
        .order_by("id")
        .values_list(*line_names, *(f"product__{name}" for name in product_names))
    )
    db, split = rows.db, len(line_names)
    fetched = list(rows)
    items = instances_from_rows(LineItem, line_names, [row[:split] for row in fetched], db)
    products = instances_from_rows(Product, product_names, [row[split:] for row in fetched], db)
    product = LineItem._meta.get_field("product")
    parent = LineItem._meta.get_field("opportunity")
    for line, sold in zip(items, products, strict=True):
        product.set_cached_value(line, sold)
        parent.set_cached_value(line, opportunity)
    # Kept where prefetch_related keeps them, on the prefetch's queryset: a later
    # ``opportunity.line_items.all()`` reads no more, and a query chained on it joins the
    # products too.
    queryset: Any = opportunity.line_items._apply_rel_filters(  # type: ignore[attr-defined]
        line_items_prefetch().queryset
    )
    queryset._result_cache = items
    queryset._prefetch_done = True
    cache = opportunity.__dict__.setdefault("_prefetched_objects_cache", {})
    cache["line_items"] = queryset
