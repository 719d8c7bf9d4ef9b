"""The approval route of a deal: which groups must approve it, and why. Pure: no database.

:func:`route` takes the deal's facts and the rules of one policy version and returns the
steps in order: the built-in RevOps step first, then the steps of every matching rule in
rule order, one step per group (the first rule that names a group places it).

A rule matches when every condition it sets holds (conditions left empty are ignored;
a rule with no condition matches every deal):

* ``amount_gte`` — the amount in the reporting currency ≥ X. An amount that cannot be
  converted (no exchange rate) matches: an unknown amount is never routed around a check.
* ``max_discount_pct_gte`` — the largest line discount ≥ Y %, the discount of a line being
  ``1 − unit_price ÷ list_price`` (both in the reporting currency).
* ``term_months_gt`` — the term in months > N (no term: does not match).
* ``type_in`` — the deal's type is one of these.
* ``currency_not_reporting`` — the deal is booked in a currency other than the reporting one.
* ``billing_country_in`` — the account's billing country (ISO 3166 alpha-2) is one of these.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

from opportunities.policies import approvals_needed

REVOPS_GROUP = "RevOps"
BUILT_IN_RULE = "Every Closed-Won request"
AMENDMENT_RULE = "Every amendment"
CANCELLATION_RULE = "Every cancellation"
# The rules of the built-in RevOps step (no policy adds them; nothing to explain).
BUILT_IN_RULES = frozenset({BUILT_IN_RULE, AMENDMENT_RULE, CANCELLATION_RULE})
DEFAULT_SLA_HOURS = 8
MODES = ("any", "all")


@dataclass(frozen=True)
class OpportunityFacts:
    """What routing reads of a deal. Amounts in the reporting currency (None: unknown)."""

    amount_reporting: Decimal | None
    amount_converted: bool  # False when the amount exists but no rate converts it
    max_discount_pct: Decimal | None  # percent, e.g. Decimal("25.0"); None: no priced line
    term_months: int | None
    type: str
    currency: str
    reporting_currency: str
    billing_country: str


@dataclass(frozen=True)
class StepDef:
    group: str
    mode: str = "any"
    count: int = 1
    sla_hours: int = DEFAULT_SLA_HOURS


@dataclass(frozen=True)
class Conditions:
    amount_gte: Decimal | None = None
    max_discount_pct_gte: Decimal | None = None
    term_months_gt: int | None = None
    type_in: tuple[str, ...] = ()
    currency_not_reporting: bool = False
    billing_country_in: tuple[str, ...] = ()


@dataclass(frozen=True)
class RuleDef:
    name: str
    conditions: Conditions = field(default_factory=Conditions)
    steps: tuple[StepDef, ...] = ()


@dataclass(frozen=True)
class RouteStep:
    """One step of a route: the group, ``any`` one member or ``all`` of ``count``
    members, the SLA in business hours, the rule that added it and why (for people)."""

    group: str
    rule: str
    mode: str
    count: int
    sla_hours: int
    why: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


BUILT_IN_STEP = RouteStep(
    group=REVOPS_GROUP, rule=BUILT_IN_RULE, mode="any", count=1, sla_hours=DEFAULT_SLA_HOURS
)
# An amendment of a won deal and a cancellation start with the same RevOps step.
AMENDMENT_STEP = RouteStep(
    group=REVOPS_GROUP, rule=AMENDMENT_RULE, mode="any", count=1, sla_hours=DEFAULT_SLA_HOURS
)
CANCELLATION_STEP = RouteStep(
    group=REVOPS_GROUP, rule=CANCELLATION_RULE, mode="any", count=1, sla_hours=DEFAULT_SLA_HOURS
)


def _num(value: Decimal) -> str:
    text = f"{value.normalize():,f}" if value == value.to_integral() else f"{value:,}"
    return text


def matches(facts: OpportunityFacts, conditions: Conditions) -> list[str]:
    """Why the conditions hold for the deal, one phrase each (``[]``: they do not all hold).
    A rule with no condition holds with the phrase ``"always"``."""
    why: list[str] = []
    c = conditions
    if c.amount_gte is not None:
        if facts.amount_reporting is None and facts.amount_converted:
            return []  # no amount at all
        if facts.amount_reporting is not None and facts.amount_reporting < c.amount_gte:
            return []
        why.append(
            f"amount ≥ {_num(c.amount_gte)}"
            if facts.amount_reporting is not None
            else f"amount ≥ {_num(c.amount_gte)} (no exchange rate)"
        )
    if c.max_discount_pct_gte is not None:
        if facts.max_discount_pct is None or facts.max_discount_pct < c.max_discount_pct_gte:
            return []
        why.append(f"discount ≥ {_num(c.max_discount_pct_gte)} %")
    if c.term_months_gt is not None:
        if facts.term_months is None or facts.term_months <= c.term_months_gt:
            return []
        why.append(f"term > {c.term_months_gt} months")
    if c.type_in:
        if facts.type not in c.type_in:
            return []
        why.append(f"type {facts.type}")
    if c.currency_not_reporting:
        if facts.currency == facts.reporting_currency:
            return []
        why.append(f"currency {facts.currency}")
    if c.billing_country_in:
        if facts.billing_country not in c.billing_country_in:
            return []
        why.append(f"billing country {facts.billing_country}")
    return why or ["always"]


def route(
    facts: OpportunityFacts, rules: Sequence[RuleDef], *, first: RouteStep = BUILT_IN_STEP
) -> list[RouteStep]:
    """The steps of the deal's approval, in order (see the module docstring). ``first``
    is the built-in RevOps step (an amendment's names its own rule)."""
    steps = [first]
    seen = {REVOPS_GROUP}
    for rule in rules:
        why = matches(facts, rule.conditions)
        if not why:
            continue
        for step in rule.steps:
            if step.group in seen:
                continue
            seen.add(step.group)
            steps.append(
                RouteStep(
                    group=step.group,
                    rule=rule.name,
                    mode=step.mode if step.mode in MODES else "any",
                    count=max(1, step.count) if step.mode == "all" else 1,
                    sla_hours=step.sla_hours,
                    why=", ".join(why),
                )
            )
    return steps


def route_dicts(steps: Iterable[RouteStep]) -> list[dict[str, Any]]:
    return [s.as_dict() for s in steps]


def route_label(steps: Sequence[dict[str, Any]] | Sequence[RouteStep]) -> str:
    """ "RevOps → Finance (amount ≥ 100,000)": the groups in order, each added step with why."""
    parts = []
    for s in steps:
        d = s.as_dict() if isinstance(s, RouteStep) else s
        label = d["group"]
        if approvals_needed(d) > 1:
            label += f" ×{d['count']}"
        if d.get("why") and d.get("rule") not in BUILT_IN_RULES:
            label += f" ({d['why']})"
        parts.append(label)
    return " → ".join(parts)


DISCOUNT_PLACES = Decimal("0.01")


def line_discount_pct(unit_price: Decimal | None, list_price: Decimal | None) -> Decimal | None:
    """The discount of one line in percent with two decimals: ``(1 − unit_price ÷
    list_price) × 100``, both prices per seat in the reporting currency (``Decimal("25.00")``).

    ``None`` when the line has no unit price, or its product no list price or a zero one:
    there is nothing to compare, so no discount is shown and no discount rule matches it.
    A unit price above the list price gives a negative discount (a premium, e.g.
    ``Decimal("-10.00")``); it never reaches a ``max_discount_pct_gte`` threshold, which
    is at least 0."""
    if unit_price is None or list_price is None or not list_price:
        return None
    pct = (Decimal(1) - Decimal(unit_price) / Decimal(list_price)) * 100
    return pct.quantize(DISCOUNT_PLACES)


def max_discount_pct(
    lines: Iterable[tuple[Decimal | None, Decimal | None]],
) -> Decimal | None:
    """The largest :func:`line_discount_pct` of ``(unit_price, list_price)`` pairs in one
    currency (lines without a discount are skipped; None when no line has one)."""
    found = [d for d in (line_discount_pct(u, listed) for u, listed in lines) if d is not None]
    return max(found, default=None)


def needs_more_than_revops(steps: Sequence[dict[str, Any]] | Sequence[RouteStep]) -> bool:
    """Does the route add a step to the built-in RevOps one (the board shows only those)?"""
    return len(steps) > 1
