"""Writes to opportunities: create and update (never the stage: see ``transitions``).

* gated fields are locked while an opportunity is pending approval or won
  (:func:`opportunity_update` raises ``record_locked``);
* every write to an opportunity bumps ``version``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.db import OperationalError, transaction
from django.db.models import Model

from core import errors
from core.db import bound_parameters, history_insert_from_rows
from events.services import event_record, events_record_many

from .. import policies
from ..models import LineItem, Opportunity, Product
from ..stages import EDITABLE_FIELDS, GATED_FIELDS, LOCKED_STAGES, Source
from .common import _assign, _full_clean, _map_lock_error, _require_authenticated
from .line_items import (
    _line_items_differ,
    _line_items_replace,
    check_line_item_ids,
    parse_line_items,
    refuse_extra_minor_units,
    refuse_inactive_products,
)
from .transitions import lock_opportunity


def opportunity_prepare(
    *,
    actor: Any,
    data: Mapping[str, Any],
    line_items: Iterable[Mapping[str, Any]] | None = None,
    products: Mapping[int, tuple[str, bool]] | None = None,
    references_checked: bool = False,
) -> tuple[Opportunity, list[dict[str, Any]] | None]:
    """Every check of :func:`opportunity_create`, without writing: the unsaved deal and its
    parsed line items. Raises what ``opportunity_create`` raises (``stage_read_only``,
    ``permission_denied``, ``invalid``, ``product_inactive``).

    A batch that has read the owners, accounts, contacts and products of all its rows
    passes ``products`` (id → (sku, active)) and ``references_checked=True``: the foreign
    keys it assigns exist, so validation skips the one query per reference."""
    _require_authenticated(actor)
    if "stage" in data:
        raise errors.StageReadOnly("A new deal starts in Prospecting; move it with a transition.")
    if not policies.can_create(actor):
        raise errors.PermissionDenied("You may not create deals.")
    data = dict(data)
    owner = data.get("owner")
    owner_id = owner.pk if isinstance(owner, Model) else owner
    if owner_id in (None, ""):
        data["owner"] = actor
    elif str(owner_id) != str(actor.pk) and not actor.has_perm(policies.CHANGE_ANY_PERM):
        raise errors.PermissionDenied("You can only create deals you own.")
    parsed = parse_line_items(line_items, products=products) if line_items is not None else None
    if parsed:
        check_line_item_ids(None, parsed)
    opportunity = Opportunity()
    _assign(opportunity, data, EDITABLE_FIELDS)
    if references_checked:
        # The constraints are the amount check (the field's own validator) and the
        # claimed-once indexes, which only hold in stages a new deal is not in; the only
        # unique column is the primary key, which a new deal has not got yet (a unique
        # clash would still fail the bulk INSERT, and the batch retries row by row).
        _full_clean(
            opportunity,
            exclude=["stage", "version", "account", "owner", "primary_contact"],
            validate_constraints=False,
            validate_unique=False,
        )
    else:
        _full_clean(opportunity, exclude=["stage", "version"])
    if parsed:
        refuse_extra_minor_units(parsed, opportunity.currency)
        refuse_inactive_products(parsed, keep=set())
    return opportunity, parsed


def opportunity_create(
    *,
    actor: Any,
    data: Mapping[str, Any],
    line_items: Iterable[Mapping[str, Any]] | None = None,
    source: str = Source.UI,
) -> Opportunity:
    """Create a deal in Prospecting. The stage can never be set here (``stage_read_only``);
    a rep creates deals for themselves, RevOps for anyone."""
    opportunity, parsed = opportunity_prepare(actor=actor, data=data, line_items=line_items)
    with transaction.atomic():
        opportunity._history_user = actor  # type: ignore[attr-defined]
        # The path the write came by (ui, api, admin, system) is kept in the field history.
        opportunity._change_reason = source  # type: ignore[attr-defined]
        opportunity.save()
        if parsed:
            _line_items_replace(opportunity, parsed, actor, source)
        event_record(instance=opportunity, change="created", actor=actor)
    return opportunity


def opportunities_create_many(
    *,
    actor: Any,
    prepared: Sequence[tuple[Opportunity, list[dict[str, Any]] | None]],
    source: str = Source.UI,
) -> list[Opportunity]:
    """Write deals checked by :func:`opportunity_prepare` in one transaction and a constant
    number of statements whatever their number: the deals, their line items, the field
    history of both and the change-feed events, each as one bulk INSERT (PostgreSQL
    returns the new ids). All of them or none (the caller retries row by row on a
    database error)."""
    opportunities = [opp for opp, _ in prepared]
    if not opportunities:
        return []
    for opp in opportunities:
        opp.set_keys()  # bulk inserts skip save(), which computes them
    with transaction.atomic(), bound_parameters():
        Opportunity.objects.bulk_create(opportunities)
        history_insert_from_rows(opportunities, user=actor, change_reason=source)
        items: list[LineItem] = []
        # The products of every line in one query: the change-feed serialiser shows each
        # line's list price and discount without reading its product back.
        products = Product.objects.in_bulk(
            {item["product_id"] for _, parsed in prepared for item in parsed or ()}
        )
        for opp, parsed in prepared:
            own = [
                LineItem(
                    opportunity=opp,
                    product=products[item["product_id"]],
                    seats=item["seats"],
                    unit_price=item["unit_price"],
                )
                for item in parsed or ()
            ]
            items.extend(own)
            # What the change-feed serialiser reads, without a query.
            opp._prefetched_objects_cache = {"line_items": own}  # type: ignore[attr-defined]
        if items:
            LineItem.objects.bulk_create(items)
            history_insert_from_rows(items, user=actor, change_reason=source)
        events_record_many(instances=list(opportunities), change="created", actor=actor)
    return opportunities


def opportunity_update(
    *,
    opportunity: Opportunity | int,
    actor: Any,
    data: Mapping[str, Any],
    line_items: Iterable[Mapping[str, Any]] | None = None,
    expected_version: int | None = None,
    source: str = Source.UI,
    amending: bool = False,
) -> Opportunity:
    """Edit a deal. Enforces: owner or RevOps only; stage read-only; gated fields and line
    items locked while pending approval or won (``record_locked``); optimistic version
    check (``stale_version``); ``version`` +1.

    ``amending``: only the amendments service passes it, inside the transaction that
    applies an approved amendment of a won deal: the lock on the gated fields is lifted
    for that one write (the amendment was gated and approved instead)."""
    _require_authenticated(actor)
    if "stage" in data:
        raise errors.StageReadOnly("Use a transition to change the stage.")
    pk = opportunity.pk if isinstance(opportunity, Opportunity) else opportunity
    parsed = parse_line_items(line_items) if line_items is not None else None
    try:
        with transaction.atomic():
            locked = lock_opportunity(pk)
            if expected_version is not None and locked.version != expected_version:
                raise errors.StaleVersion(
                    f"The deal is at version {locked.version}, not {expected_version}."
                )
            # An applied amendment's last approver may be a Finance or Deal desk member:
            # the route's steps, not the edit permission, authorised this write.
            if not amending and not policies.can_change(actor, locked):
                raise errors.PermissionDenied("Only the deal's owner or RevOps can change it.")
            before_owner = locked.owner_id
            changed = _assign(locked, data, EDITABLE_FIELDS)
            if (
                "owner" in changed
                and before_owner != locked.owner_id
                and not actor.has_perm(policies.CHANGE_ANY_PERM)
            ):
                raise errors.PermissionDenied("Only RevOps can reassign a deal.")
            if parsed:
                check_line_item_ids(locked, parsed)
            items_changed = parsed is not None and _line_items_differ(locked, parsed)
            if parsed is not None and (items_changed or "currency" in changed):
                refuse_extra_minor_units(parsed, locked.currency)
            if items_changed and parsed is not None:
                refuse_inactive_products(
                    parsed, keep={li.product_id for li in locked.line_items.all()}
                )
            if locked.stage in LOCKED_STAGES and not amending:
                blocked = [f for f in changed if f in GATED_FIELDS] + (
                    ["line_items"] if items_changed else []
                )
                if blocked:
                    raise errors.RecordLocked(
                        f"{', '.join(blocked)} cannot change while the deal is {locked.stage_label.lower()}.",
                        errors=[
                            errors.FieldError(
                                "record_locked", f, "Locked while pending approval or won."
                            )
                            for f in blocked
                        ],
                    )
            if not changed and not items_changed:
                return locked
            _full_clean(locked, exclude=["stage", "version"])
            # The row is locked, so a plain increment cannot lose an update.
            locked.version += 1
            locked._history_user = actor  # type: ignore[attr-defined]
            locked._change_reason = source  # type: ignore[attr-defined]
            locked.save()
            if items_changed and parsed is not None:
                _line_items_replace(locked, parsed, actor, source)
            event_record(instance=locked, change="updated", actor=actor)
    except OperationalError as exc:
        raise _map_lock_error(exc) from exc
    locked.refresh_from_db()
    return locked
