"""Reads of the rep UI: board, deal list, dashboard.

Same rules as ``selectors.py``: every page costs a constant number of
queries whatever the number of deals — cards are capped per column in one query, totals
come from aggregate queries.
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
from django.db.models import Count, JSONField, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import TruncMonth
from django.http import QueryDict
from django.utils import timezone

from approvals import routing
from approvals import selectors as approval_selectors
from currencies.conversion import Totals
from currencies.selectors import Pair, rates_for

from .. import gate, policies
from .. import stage_totals as kept_totals
from ..filters import OpportunityFilter
from ..models import (
    Account,
    Approval,
    Contact,
    Decision,
    LineItem,
    Opportunity,
    Product,
    StageChange,
)
from ..stages import OPEN_STAGES, PROBABILITY, Stage
from .approvals import queue_queryset

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
class PipelineFilter:
    """What the board, the list and the dashboard filter on (all optional), applied by the
    same filter set as the API's opportunity list (``filters.OpportunityFilter``)."""

    owner_id: int | None = None
    search: str = ""
    stage: str = ""

    def apply(self, qs: QuerySet[Opportunity]) -> QuerySet[Opportunity]:
        data = QueryDict(mutable=True)
        if self.owner_id is not None:
            data["owner"] = str(self.owner_id)
        if self.stage:
            data["stage"] = self.stage
        if self.search.strip():
            data["search"] = self.search.strip()
        if not data:
            return qs
        return OpportunityFilter(data, queryset=qs).qs


# --- board ------------------------------------------------------------------------------


@dataclass
class StageTotals:
    """Count and value of a stage's deals. Amounts of different currencies are never added:
    ``amount`` is the sum converted to the reporting currency (today's rates RevOps keep),
    and ``unconverted`` holds, per currency, what has no rate yet (shown beside it, never
    dropped and never added as if it were the reporting currency)."""

    stage: str
    count: int = 0
    amount: Decimal = Decimal(0)
    unconverted: dict[str, Decimal] = field(default_factory=dict)
    by_currency: dict[str, Decimal] = field(default_factory=dict)

    @property
    def probability(self) -> int:
        return PROBABILITY[self.stage]

    @property
    def weighted(self) -> Decimal:
        return (self.amount * self.probability / 100).quantize(Decimal("0.01"))

    @property
    def weighted_unconverted(self) -> dict[str, Decimal]:
        return {c: a * self.probability / 100 for c, a in self.unconverted.items()}


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


def stage_totals(
    flt: PipelineFilter,
    stages: Sequence[str] = BOARD_STAGES,
    *,
    rates_into: dict[Pair, Decimal | None] | None = None,
) -> dict[str, StageTotals]:
    """Count and amount per stage and currency in one query, converted to the reporting
    currency with one query for the rates (weighted = amount × probability). Without a
    search the counts and sums come from the totals the database keeps
    (``opportunities.stage_totals``: a few rows per stage whatever the number of deals);
    a search aggregates the deals it matches. ``rates_into`` receives today's rate of
    every currency read, so the board's routes reuse them instead of asking again."""
    rows: list[dict[str, Any]]
    if flt.search.strip():
        rows = [
            dict(r)
            for r in flt.apply(Opportunity.objects.filter(stage__in=stages))
            .order_by()
            .values("stage", "currency")
            .annotate(n=Count("id"), total=Sum("amount"))
        ]
    else:
        wanted = [s for s in stages if not flt.stage or s == flt.stage]
        rows = [
            {"stage": r.stage, "currency": r.currency, "n": r.count, "total": r.amount}
            for r in kept_totals.rows(owner_id=flt.owner_id, stages=wanted)
        ]
    today = timezone.localdate()
    rates = rates_for({(row["currency"], today) for row in rows}) if rows else {}
    if rates_into is not None:
        rates_into.update(rates)
    sums: dict[str, Totals] = {stage: Totals(rates=rates) for stage in stages}
    counts: dict[str, int] = dict.fromkeys(stages, 0)
    for row in rows:
        counts[row["stage"]] += row["n"]
        sums[row["stage"]].add(row["total"], row["currency"], today)
    return {
        stage: StageTotals(
            stage,
            counts[stage],
            sums[stage].converted_subtotal,
            sums[stage].unconverted,
            sums[stage].per_currency,
        )
        for stage in stages
    }


def unconverted_sum(totals: Iterable[StageTotals], *, weighted: bool = False) -> dict[str, Decimal]:
    """Per currency, what several stages hold without an exchange rate."""
    return unconverted_of(
        row.weighted_unconverted if weighted else row.unconverted for row in totals
    )


def unconverted_of(amounts: Iterable[dict[str, Decimal]]) -> dict[str, Decimal]:
    """Several ``{currency: amount}`` without an exchange rate added per currency, by code."""
    out: dict[str, Decimal] = {}
    for row in amounts:
        for currency, amount in row.items():
            out[currency] = out.get(currency, Decimal(0)) + amount
    return dict(sorted(out.items()))


def board_cards(
    flt: PipelineFilter,
    *,
    stages: Sequence[str] = BOARD_STAGES,
    limit: int = BOARD_CARD_LIMIT,
    line_prices: bool = False,
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
    pending = Approval.objects.filter(opportunity=OuterRef("pk"), decision=Decision.PENDING)
    qs = (
        Opportunity.objects.filter(match)
        .select_related("account", "owner")
        .annotate(
            # Read in the same query (index lookups per card): when the deal entered its
            # stage (the card's days in stage) and the pending request's route and step.
            entered_stage_at=Subquery(
                StageChange.objects.filter(opportunity=OuterRef("pk"))
                .order_by("-at")
                .values("at")[:1]
            ),
            pending_route=Subquery(pending.values("route")[:1], output_field=JSONField()),
            pending_step_index=Subquery(pending.values("step_index")[:1]),
        )
        .order_by("-updated_at", "-id")
    )
    if line_prices and connection.vendor == "postgresql":
        # Each card's unit and list prices (in line order) as two arrays of the same
        # query, for routing's discount rule; elsewhere card_approvals reads them apart.
        from django.contrib.postgres.expressions import ArraySubquery

        lines = LineItem.objects.filter(opportunity=OuterRef("pk")).order_by("id")
        qs = qs.annotate(
            line_units=ArraySubquery(lines.values("unit_price")),
            line_list_prices=ArraySubquery(lines.values("product__list_price")),
        )
    cards: dict[str, list[Opportunity]] = {stage: [] for stage in stages}
    for opp in qs:
        cards[opp.stage].append(opp)
    return cards


@dataclass(frozen=True)
class CardApproval:
    """What a card says of approval: ``will_need`` — the route an open deal would take,
    labelled as on the deal page ("RevOps → Finance (amount ≥ 100,000)"), only when it goes
    beyond the RevOps step; ``waiting_on`` — the group of a pending request's current step,
    with ``step`` and ``steps`` (1-based position, route length)."""

    will_need: str = ""
    waiting_on: str = ""
    step: int = 0
    steps: int = 0


def card_approvals(
    cards: Iterable[Opportunity],
    *,
    rates: dict[Pair, Decimal | None] | None = None,
    rules: list[routing.RuleDef] | None = None,
) -> dict[int, CardApproval]:
    """:class:`CardApproval` of each card, keyed by id: the open deals' routes from
    :func:`approvals.selectors.routes_for_page` (the deal page's routing, batched: no
    query for ``rules`` given, for rates ``rates`` holds, nor for line prices the card
    query annotated — ``line_units`` / ``line_list_prices``); the pending ones from the
    ``pending_route`` and ``pending_step_index`` the card query annotates."""
    cards = list(cards)
    open_cards = [c for c in cards if c.stage in OPEN_STAGES]
    prices = None
    if open_cards and all(hasattr(c, "line_units") for c in open_cards):
        prices = {
            c.pk: list(
                zip(
                    getattr(c, "line_units", None) or [],
                    getattr(c, "line_list_prices", None) or [],
                    strict=True,
                )
            )
            for c in open_cards
        }
    routes = approval_selectors.routes_for_page(open_cards, rates=rates, rules=rules, prices=prices)
    out: dict[int, CardApproval] = {}
    for card in cards:
        if card.pk in routes and routing.needs_more_than_revops(routes[card.pk]):
            out[card.pk] = CardApproval(will_need=routing.route_label(routes[card.pk]))
        elif card.stage == Stage.PENDING_APPROVAL:
            steps = list(getattr(card, "pending_route", None) or [])
            index = getattr(card, "pending_step_index", None) or 0
            if routing.needs_more_than_revops(steps) and index < len(steps):
                out[card.pk] = CardApproval(
                    waiting_on=steps[index]["group"], step=index + 1, steps=len(steps)
                )
    return out


def board(flt: PipelineFilter) -> list[BoardColumn]:
    """The pipeline board whatever the number of deals: the totals (one query, one for
    rates), the approval rules in force (one), the cards with what their approval lines
    need (one on PostgreSQL; one more for line prices elsewhere). Each card gets
    ``approval`` (a :class:`CardApproval`)."""
    rates: dict[Pair, Decimal | None] = {}
    totals = stage_totals(flt, rates_into=rates)
    rules = approval_selectors.rules_in_force()
    cards = board_cards(flt, line_prices=approval_selectors.rules_read_discounts(rules))
    every = [card for stage in BOARD_STAGES for card in cards[stage]]
    approvals = card_approvals(every, rates=rates, rules=rules)
    for card in every:
        card.approval = approvals.get(card.pk, CardApproval())  # type: ignore[attr-defined]
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
        User.objects.filter(is_active=True, groups__name=policies.REP_GROUP)
        .distinct()
        .order_by("first_name", "last_name", "username")
    )


# --- deal list --------------------------------------------------------------------------


def opportunity_count(flt: PipelineFilter) -> int | None:
    """How many deals the deal list holds, from the totals the database keeps
    (``opportunities.stage_totals``) — one query over a few rows, not a ``COUNT`` of every
    deal; ``None`` for a search, whose matches only a count of the deals can tell."""
    if flt.search.strip():
        return None
    return kept_totals.count(owner_id=flt.owner_id, stages=[flt.stage] if flt.stage else None)


def opportunity_table(
    flt: PipelineFilter, *, sort: str = DEFAULT_LIST_SORT
) -> QuerySet[Opportunity]:
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
    facts = gate.gather_one(opportunity, target=Stage.CLOSED_WON, line_items=line_items)
    unmet = gate.evaluate(facts, Stage.CLOSED_WON)
    return {
        "passes": not unmet,
        "unmet": [u.as_dict() for u in unmet],
        "items": gate.checklist(unmet, facts.configured, facts),
    }


# --- dashboard --------------------------------------------------------------------------


@dataclass
class MonthBookings:
    """A month of the ledger: ``amount`` in the reporting currency (each entry at the rate
    of its booking day, frozen in the ledger), ``unconverted`` per currency what was
    booked with no rate known (shown beside it, never added as if it were the reporting
    currency)."""

    month: dt.date
    count: int
    amount: Decimal
    unconverted: dict[str, Decimal] = field(default_factory=dict)


def _ledger(flt: PipelineFilter) -> QuerySet[Any]:
    """The bookings ledger of the deals ``flt`` selects."""
    from amendments.models import Booking

    return Booking.objects.filter(opportunity__in=flt.apply(Opportunity.objects.all()).values("pk"))


# Each won booking counts a deal, each cancellation takes one away; amendments only move
# the amount.
_NET_OPPORTUNITIES = Count("id", filter=Q(kind="won")) - Count("id", filter=Q(kind="cancellation"))


def _booked_sums() -> dict[str, Any]:
    """Aggregates of ledger entries grouped by currency: the reporting-currency sum of
    those converted into today's reporting currency, and the deal-currency sum of the rest
    (no rate known on the booking day, or another reporting currency then)."""
    from currencies.selectors import reporting_currency

    converted = Q(reporting_currency=reporting_currency(), reporting_delta__isnull=False)
    return {
        "total": Sum("reporting_delta", filter=converted),
        "raw": Sum("amount_delta", filter=~converted),
    }


def _add_unconverted(into: dict[str, Decimal], currency: str, raw: Decimal | None) -> None:
    if raw:
        into[currency] = into.get(currency, Decimal(0)) + raw


def bookings_by_month(flt: PipelineFilter, *, months: int = 12) -> list[MonthBookings]:
    """Net bookings per month of the ledger (``amendments.models.Booking``), the last
    ``months`` months (zeros kept): a won deal counts in the month of its close date, an
    amendment's delta and a cancellation in the month they were approved, so a past
    month's figure never changes. ``count`` is deals won minus deals cancelled."""
    today = timezone.localdate()
    first = _add_months(today.replace(day=1), -(months - 1))
    rows = (
        _ledger(flt)
        .filter(booked_on__gte=first)
        .order_by()
        .annotate(month=TruncMonth("booked_on"))
        .values("month", "currency")
        .annotate(n=_NET_OPPORTUNITIES, **_booked_sums())
    )
    out = {
        _add_months(first, i): MonthBookings(_add_months(first, i), 0, Decimal(0))
        for i in range(months)
    }
    for row in rows:
        booked = out[_as_date(row["month"])]
        booked.count += row["n"]
        booked.amount += row["total"] or Decimal(0)
        _add_unconverted(booked.unconverted, row["currency"], row["raw"])
    return list(out.values())


def _as_date(value: Any) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def _add_months(day: dt.date, n: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + n
    return dt.date(index // 12, index % 12 + 1, 1)


@dataclass
class WinRate:
    """``won_amount`` in the reporting currency; ``won_unconverted`` per currency what was
    booked with no rate known (as :class:`MonthBookings`)."""

    won: int
    lost: int
    won_amount: Decimal
    won_unconverted: dict[str, Decimal] = field(default_factory=dict)

    @property
    def closed(self) -> int:
        return self.won + self.lost

    @property
    def rate(self) -> int | None:
        return round(100 * self.won / self.closed) if self.closed else None


def win_rate(flt: PipelineFilter, *, days: int = 365) -> WinRate:
    """Won ÷ (won + lost) over the last ``days`` days: the won deals and their amount come
    from the bookings ledger, net of amendments and cancellations (a cancelled deal is no
    longer a win); the lost ones from the deals closed lost. Two queries."""
    since = timezone.now() - dt.timedelta(days=days)
    won, amount = 0, Decimal(0)
    unconverted: dict[str, Decimal] = {}
    for row in (
        _ledger(flt)
        .filter(at__gte=since)
        .order_by()
        .values("currency")
        .annotate(n=_NET_OPPORTUNITIES, **_booked_sums())
    ):
        won += row["n"]
        amount += row["total"] or Decimal(0)
        _add_unconverted(unconverted, row["currency"], row["raw"])
    lost = (
        flt.apply(Opportunity.objects.filter(stage=Stage.CLOSED_LOST, closed_at__gte=since))
        .order_by()
        .count()
    )
    return WinRate(max(won, 0), lost, amount, unconverted)


def pending_approvals(flt: PipelineFilter, *, limit: int = 8) -> tuple[int, list[Any]]:
    """The oldest Closed-Won requests waiting for approval (at any step), and how many
    there are."""
    qs = queue_queryset(with_line_items=False)
    if flt.owner_id is not None:
        qs = qs.filter(opportunity__owner_id=flt.owner_id)
    return qs.count(), list(qs[:limit])
