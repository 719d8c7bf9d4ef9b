"""Reads the rep UI needs beyond ``selectors.py``: board, deal list, dashboard, timeline.

Same rules as ``selectors.py`` (STYLE rule 6): every page costs a constant number of
queries whatever the number of deals — cards are capped per column in one query, totals
come from aggregate queries, and the timeline batches its lookups.
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from . import gates, roles, selectors
from .models import Account, Contact, LineItem, Opportunity, Product
from .stages import OPEN_STAGES, PROBABILITY, OpportunityType, Stage

# The board: a column per open stage plus the Closed-Won requests waiting for RevOps.
BOARD_STAGES: tuple[str, ...] = (*OPEN_STAGES, Stage.PENDING_APPROVAL)
BOARD_CARD_LIMIT = 50

# Sort keys the deal list accepts (``?sort=``, ``-`` prefix for descending).
LIST_SORTS: dict[str, tuple[str, ...]] = {
    "name": ("name", "id"),
    "account": ("account__name", "id"),
    "amount": ("amount", "id"),
    "close_date": ("close_date", "id"),
    "stage": ("stage", "id"),
    "owner": ("owner__username", "id"),
    "updated": ("updated_at", "id"),
}
DEFAULT_LIST_SORT = "-updated"


@dataclass(frozen=True)
class DealFilter:
    """What the board, the list and the dashboard filter on (all optional)."""

    owner_id: int | None = None
    search: str = ""
    stage: str = ""

    def apply(self, qs: QuerySet[Opportunity]) -> QuerySet[Opportunity]:
        if self.owner_id is not None:
            qs = qs.filter(owner_id=self.owner_id)
        if self.stage:
            qs = qs.filter(stage=self.stage)
        term = self.search.strip()
        if term:
            qs = qs.filter(
                Q(name__icontains=term)
                | Q(account__name__icontains=term)
                | Q(contract_id__icontains=term)
                | Q(po_number__icontains=term)
            )
        return qs


# --- board ------------------------------------------------------------------------------


@dataclass
class StageTotals:
    stage: str
    count: int = 0
    amount: Decimal = Decimal(0)

    @property
    def probability(self) -> int:
        return PROBABILITY[self.stage]

    @property
    def weighted(self) -> Decimal:
        return (self.amount * self.probability / 100).quantize(Decimal("0.01"))


@dataclass
class BoardColumn:
    stage: str
    label: str
    totals: StageTotals
    cards: list[Opportunity] = field(default_factory=list)
    droppable: bool = True
    # The deal list filtered to this stage (set by the view, which knows the URL).
    more_url: str = ""

    @property
    def more(self) -> int:
        return max(0, self.totals.count - len(self.cards))


def stage_totals(flt: DealFilter, stages: Sequence[str] = BOARD_STAGES) -> dict[str, StageTotals]:
    """Count and amount per stage in one aggregate query (weighted = amount × probability)."""
    rows = (
        flt.apply(Opportunity.objects.filter(stage__in=stages))
        .order_by()
        .values("stage")
        .annotate(n=Count("id"), total=Sum("amount"))
    )
    totals = {stage: StageTotals(stage) for stage in stages}
    for row in rows:
        totals[row["stage"]] = StageTotals(row["stage"], row["n"], row["total"] or Decimal(0))
    return totals


def board_cards(
    flt: DealFilter, *, stages: Sequence[str] = BOARD_STAGES, limit: int = BOARD_CARD_LIMIT
) -> dict[str, list[Opportunity]]:
    """The ``limit`` most recently updated deals of each stage, in one query.

    Each stage is a top-n subquery (``ORDER BY updated_at DESC LIMIT n``, an index scan).
    On PostgreSQL they are UNION-ed into one ``id IN (…)`` so the outer query looks the
    few ids up by primary key; SQLite cannot LIMIT inside a UNION, so there the
    subqueries are OR-ed (a scan of the table, fine at the embedded default's size).
    """
    base = flt.apply(Opportunity.objects.all())
    tops = [
        base.filter(stage=stage).order_by("-updated_at", "-id").values("pk")[:limit]
        for stage in stages
    ]
    if connection.features.supports_slicing_ordering_in_compound and len(tops) > 1:
        match = Q(pk__in=tops[0].union(*tops[1:], all=True))
    else:
        match = functools.reduce(operator.or_, [Q(pk__in=top) for top in tops])
    qs = (
        Opportunity.objects.filter(match)
        .select_related("account", "owner")
        .order_by("-updated_at", "-id")
    )
    cards: dict[str, list[Opportunity]] = {stage: [] for stage in stages}
    for opp in qs:
        cards[opp.stage].append(opp)
    return cards


def board(flt: DealFilter) -> list[BoardColumn]:
    """The pipeline board: two queries whatever the number of deals."""
    totals = stage_totals(flt)
    cards = board_cards(flt)
    return [
        BoardColumn(
            stage=stage,
            label=str(Stage(stage).label),
            totals=totals[stage],
            cards=cards[stage],
            droppable=stage in OPEN_STAGES,
        )
        for stage in BOARD_STAGES
    ]


def owner_choices() -> list[Any]:
    """The sales reps, for the owner filter: one query."""
    User = get_user_model()
    return list(
        User.objects.filter(is_active=True, groups__name=roles.REP_GROUP)
        .distinct()
        .order_by("first_name", "last_name", "username")
    )


# --- deal list --------------------------------------------------------------------------


def deal_table(flt: DealFilter, *, sort: str = DEFAULT_LIST_SORT) -> QuerySet[Opportunity]:
    """The deal list with its account and owner joined (no per-row query)."""
    key = sort.lstrip("-")
    columns = LIST_SORTS.get(key, LIST_SORTS["updated"])
    descending = sort.startswith("-") if key in LIST_SORTS else True
    order = [f"-{c}" if descending else c for c in columns]
    return flt.apply(Opportunity.objects.select_related("account", "owner")).order_by(*order)


# --- deal form --------------------------------------------------------------------------


def account_options() -> list[tuple[int, str]]:
    return list(Account.objects.order_by("name", "id").values_list("id", "name"))


def contact_options(account_id: int | None, *, include: int | None = None) -> list[Contact]:
    """Contacts of ``account_id`` (plus ``include``, the deal's current contact)."""
    match = Q(pk__in=[])
    if account_id:
        match |= Q(account_id=account_id)
    if include:
        match |= Q(pk=include)
    return list(Contact.objects.filter(match).order_by("last_name", "first_name", "id"))


def product_options(*, include: Iterable[int] = ()) -> list[tuple[int, str]]:
    """Active products plus retired ones the deal already sells."""
    return [
        (pk, f"{sku} — {name}" if active else f"{sku} — {name} (retired)")
        for pk, sku, name, active in Product.objects.filter(
            Q(active=True) | Q(pk__in=list(include))
        )
        .order_by("sku")
        .values_list("id", "sku", "name", "active")
    ]


def checklist_for_values(
    opportunity: Opportunity, line_items: Sequence[tuple[int | None, Decimal | None]]
) -> dict[str, Any]:
    """The Closed-Won checklist for form values that are not saved yet.

    ``opportunity`` is an unsaved copy carrying the form's values (its primary contact
    assigned as an instance so ``gather_facts`` does not query it again).
    """
    facts = gates.gather_facts(opportunity, target=Stage.CLOSED_WON, line_items=line_items)
    unmet = gates.evaluate(facts, Stage.CLOSED_WON)
    return {
        "passes": not unmet,
        "unmet": [u.as_dict() for u in unmet],
        "items": gates.checklist(unmet, facts.configured),
    }


# --- dashboard --------------------------------------------------------------------------


@dataclass
class MonthBookings:
    month: dt.date
    count: int
    amount: Decimal


def bookings_by_month(flt: DealFilter, *, months: int = 12) -> list[MonthBookings]:
    """Closed-Won amount per month of close date, the last ``months`` months (zeros kept)."""
    today = timezone.localdate()
    first = _add_months(today.replace(day=1), -(months - 1))
    rows = (
        flt.apply(Opportunity.objects.filter(stage=Stage.CLOSED_WON, close_date__gte=first))
        .order_by()
        .annotate(month=TruncMonth("close_date"))
        .values("month")
        .annotate(n=Count("id"), total=Sum("amount"))
    )
    found = {_as_date(row["month"]): row for row in rows}
    out = []
    for i in range(months):
        month = _add_months(first, i)
        row = found.get(month)
        out.append(
            MonthBookings(
                month, row["n"] if row else 0, (row["total"] or Decimal(0)) if row else Decimal(0)
            )
        )
    return out


def _as_date(value: Any) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def _add_months(day: dt.date, n: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + n
    return dt.date(index // 12, index % 12 + 1, 1)


@dataclass
class WinRate:
    won: int
    lost: int
    won_amount: Decimal

    @property
    def closed(self) -> int:
        return self.won + self.lost

    @property
    def rate(self) -> int | None:
        return round(100 * self.won / self.closed) if self.closed else None


def win_rate(flt: DealFilter, *, days: int = 365) -> WinRate:
    """Won ÷ (won + lost) over the deals closed in the last ``days`` days: one query."""
    since = timezone.now() - dt.timedelta(days=days)
    row = flt.apply(
        Opportunity.objects.filter(
            stage__in=(Stage.CLOSED_WON, Stage.CLOSED_LOST), closed_at__gte=since
        )
    ).aggregate(
        won=Count("id", filter=Q(stage=Stage.CLOSED_WON)),
        lost=Count("id", filter=Q(stage=Stage.CLOSED_LOST)),
        won_amount=Sum("amount", filter=Q(stage=Stage.CLOSED_WON)),
    )
    return WinRate(row["won"], row["lost"], row["won_amount"] or Decimal(0))


def pending_approvals(flt: DealFilter, *, limit: int = 8) -> tuple[int, list[Any]]:
    """The oldest Closed-Won requests waiting for RevOps, and how many there are."""
    qs = selectors.approval_queue()
    if flt.owner_id is not None:
        qs = qs.filter(opportunity__owner_id=flt.owner_id)
    return qs.count(), list(qs[:limit])


# --- timeline ---------------------------------------------------------------------------

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


def opportunity_timeline(opportunity: Opportunity, *, limit: int = 60) -> list[TimelineEntry]:
    """Stage changes and field changes (django-simple-history), newest first.

    Five queries whatever the length of the history: stage changes, deal history, line
    item history, and one batch each for the accounts/contacts/users/products named.
    """
    entries: list[TimelineEntry] = []
    for change in selectors.opportunity_history(opportunity)[:limit]:
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
    """Money as everywhere else in the app (``$1,234.50``)."""
    from .templatetags.closedwon_ui import money

    if value is None or value == "":
        return "no price"
    return money(value)


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
        from .templatetags.closedwon_web import format_day

        return format_day(value)
    return str(value)
