"""History of an opportunity: its stage changes and its field changes.

The one field-history diff (django-simple-history records of the opportunity and its line
items, compared pairwise, foreign keys named in one batch) serves the rep's timeline and
the admin's approval page alike.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import QuerySet

from core import formatting

from ..models import Account, Contact, LineItem, Opportunity, Product, StageChange
from ..stages import OpportunityType, Stage


def opportunity_history(opportunity: Opportunity) -> QuerySet[StageChange]:
    """StageChange rows, newest first."""
    return (
        StageChange.objects.filter(opportunity=opportunity)
        .select_related("actor")
        .order_by("-at", "-id")
    )


# Written by transitions (shown by their StageChange row) or bookkeeping, not by the rep.
_TIMELINE_SKIP = {"version", "stage", "closed_at", "loss_reason", "loss_detail", "updated_at"}


@dataclass
class TimelineEntry:
    at: dt.datetime
    kind: str  # "stage", "fields", "lines", "created"
    actor: Any
    title: str
    details: list[tuple[str, str, str]] = field(default_factory=list)
    source: str = ""
    reason: str = ""
    to_stage: str = ""


def opportunity_timeline(
    opportunity: Opportunity, *, limit: int = 60, stages: bool = True
) -> list[TimelineEntry]:
    """Stage changes and field changes (django-simple-history), newest first.

    Five queries whatever the length of the history: stage changes, deal history, line
    item history, and one batch each for the accounts/contacts/users/products named.
    """
    entries: list[TimelineEntry] = []
    for change in opportunity_history(opportunity)[:limit] if stages else ():
        entries.append(
            TimelineEntry(
                at=change.at,
                kind="stage",
                actor=change.actor,
                title=f"{Stage(change.from_stage).label} → {Stage(change.to_stage).label}",
                source=change.get_source_display(),
                reason=change.reason,
                to_stage=change.to_stage,
            )
        )

    records = list(
        opportunity.history.select_related("history_user").order_by(  # type: ignore[attr-defined]
            "-history_date", "-history_id"
        )[: limit + 1]
    )
    line_records = list(
        LineItem.history.filter(opportunity_id=opportunity.pk)  # type: ignore[attr-defined]
        .select_related("history_user")
        .order_by("-history_date", "-history_id")[:limit]
    )

    diffs: list[tuple[Any, list[Any]]] = []
    ids: dict[str, set[int]] = {"account": set(), "primary_contact": set(), "owner": set()}
    for index, record in enumerate(records[:limit]):
        previous = records[index + 1] if index + 1 < len(records) else None
        if previous is None:
            if record.history_type == "+":
                entries.append(
                    TimelineEntry(
                        at=record.history_date,
                        kind="created",
                        actor=record.history_user,
                        title="Created the deal",
                    )
                )
            continue
        changes = [
            c for c in record.diff_against(previous).changes if c.field not in _TIMELINE_SKIP
        ]
        if not changes:
            continue
        for c in changes:
            if c.field in ids:
                ids[c.field].update(v for v in (c.old, c.new) if v)
        diffs.append((record, changes))

    names = _names(ids)
    for record, changes in diffs:
        entries.append(
            TimelineEntry(
                at=record.history_date,
                kind="fields",
                actor=record.history_user,
                title="Edited the deal",
                details=[
                    (
                        _field_label(c.field),
                        _display(c.field, c.old, names),
                        _display(c.field, c.new, names),
                    )
                    for c in changes
                ],
            )
        )

    products = dict(
        Product.objects.filter(pk__in={r.product_id for r in line_records}).values_list("id", "sku")
    )
    # Per line item, records are newest first: the next one of the same id is its previous.
    by_item: dict[int, list[Any]] = {}
    for record in line_records:
        by_item.setdefault(record.id, []).append(record)
    for record in line_records:
        sku = products.get(record.product_id, "a product")
        line = f"{sku}: {record.seats} seats × {_money_text(record.unit_price)}"
        if record.history_type == "+":
            details: list[tuple[str, str, str]] = []
            title = f"Added {line}"
        elif record.history_type == "-":
            details, title = [], f"Removed {sku}"
        else:
            chain = by_item[record.id]
            position = chain.index(record)
            previous = chain[position + 1] if position + 1 < len(chain) else None
            details = []
            if previous is not None:
                for c in record.diff_against(previous).changes:
                    if c.field in ("seats", "unit_price"):
                        old, new = c.old, c.new
                        if c.field == "unit_price":
                            old, new = _money_text(old), _money_text(new)
                        details.append((_line_label(c.field), str(old), str(new)))
                    elif c.field == "product":
                        details.append(
                            (
                                "Product",
                                products.get(c.old, str(c.old)),
                                products.get(c.new, str(c.new)),
                            )
                        )
                if not details:
                    continue
            title = f"Changed {sku}" if details else f"Changed {line}"
        entries.append(
            TimelineEntry(
                at=record.history_date,
                kind="lines",
                actor=record.history_user,
                title=title,
                details=details,
            )
        )

    entries.sort(key=lambda e: e.at, reverse=True)
    return entries[:limit]


def _names(ids: dict[str, set[int]]) -> dict[str, dict[int, str]]:
    User = get_user_model()
    out: dict[str, dict[int, str]] = {"account": {}, "primary_contact": {}, "owner": {}}
    if ids["account"]:
        out["account"] = dict(
            Account.objects.filter(pk__in=ids["account"]).values_list("id", "name")
        )
    if ids["primary_contact"]:
        out["primary_contact"] = {
            c.pk: str(c) for c in Contact.objects.filter(pk__in=ids["primary_contact"])
        }
    if ids["owner"]:
        out["owner"] = {
            u.pk: (u.get_full_name() or u.get_username())
            for u in User.objects.filter(pk__in=ids["owner"])
        }
    return out


def _field_label(name: str) -> str:
    try:
        label = str(getattr(Opportunity._meta.get_field(name), "verbose_name", name))
    except Exception:  # pragma: no cover - unknown historical field
        label = name.replace("_", " ")
    if name == "po_number":
        return "PO number"
    if name == "contract_id":
        return "Contract ID"
    return label[:1].upper() + label[1:]


def _line_label(name: str) -> str:
    return {"seats": "Seats", "unit_price": "Unit price"}.get(name, name)


def _money_text(value: Any) -> str:
    return formatting.money_short(value, empty="no price")


def _display(name: str, value: Any, names: dict[str, dict[int, str]]) -> str:
    if value is None or value == "":
        return "—"
    if name in names:
        return names[name].get(value, f"#{value}")
    if name == "amount":
        return _money_text(value)
    if name == "type":
        try:
            return str(OpportunityType(value).label)
        except ValueError:
            return str(value)
    if isinstance(value, dt.date):
        return formatting.day(value)
    return str(value)


def field_history(opportunity: Opportunity, *, limit: int = 40) -> list[dict[str, Any]]:
    """The field changes of :func:`opportunity_timeline` (no stage changes) as
    ``{"at", "who", "changes": ["Amount: 1,000.00 → 1,200.00", …]}``, newest first."""
    out = []
    for entry in opportunity_timeline(opportunity, limit=limit, stages=False):
        user = entry.actor
        changes = [f"{label}: {old} → {new}" for label, old, new in entry.details] or [entry.title]
        if entry.kind == "lines" and entry.details:
            changes = [entry.title, *changes]
        out.append(
            {
                "at": entry.at,
                "who": (user.get_full_name() or user.get_username()) if user else "system",
                "changes": changes,
            }
        )
    return out
