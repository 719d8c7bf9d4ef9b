"""Writes to opportunities: create and update (never the stage: see ``transitions``).

* gated fields are locked while an opportunity is pending approval or won
  (:func:`opportunity_update` raises ``record_locked``);
* every write to an opportunity bumps ``version``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.db import OperationalError, transaction
from django.db.models import Model

from core import errors
from events.services import event_record

from .. import policies
from ..models import Opportunity
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


def opportunity_create(
    *,
    actor: Any,
    data: Mapping[str, Any],
    line_items: Iterable[Mapping[str, Any]] | None = None,
    source: str = Source.UI,
) -> Opportunity:
    """Create a deal in Prospecting. The stage can never be set here (``stage_read_only``);
    a rep creates deals for themselves, RevOps for anyone."""
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
    parsed = parse_line_items(line_items) if line_items is not None else None
    if parsed:
        check_line_item_ids(None, parsed)
    with transaction.atomic():
        opportunity = Opportunity()
        _assign(opportunity, data, EDITABLE_FIELDS)
        _full_clean(opportunity, exclude=["stage", "version"])
        opportunity._history_user = actor  # type: ignore[attr-defined]
        # The path the write came by (ui, api, admin, system) is kept in the field history.
        opportunity._change_reason = source  # type: ignore[attr-defined]
        opportunity.save()
        if parsed:
            refuse_extra_minor_units(parsed, opportunity.currency)
            refuse_inactive_products(parsed, keep=set())
            _line_items_replace(opportunity, parsed, actor, source)
        event_record(instance=opportunity, change="created", actor=actor)
    return opportunity


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
            if not policies.can_change(actor, locked):
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
                            {
                                "code": "record_locked",
                                "field": f,
                                "message": "Locked while pending approval or won.",
                            }
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
