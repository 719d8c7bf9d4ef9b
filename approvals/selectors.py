"""Reads of approval policies: the policy in force, its rules, a deal's routing facts and
route, a pending approval's current step. No writes, no outbox."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import CharField, F, Func, Prefetch, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from currencies.conversion import to_reporting
from currencies.selectors import Pair, rates_for
from opportunities import policies
from opportunities.models import LineItem, Opportunity

from . import routing
from .models import ApprovalDecision, ApprovalPolicy, ApprovalRule, ApprovalStep, ApproverGroup

# --- the policy -----------------------------------------------------------------------------


def current_policy(at: dt.datetime | None = None) -> ApprovalPolicy | None:
    """The published policy version in force at ``at`` (now), or None (RevOps step only)."""
    at = at or timezone.now()
    return (
        ApprovalPolicy.objects.filter(version__isnull=False, effective_at__lte=at)
        .order_by("-effective_at", "-version")
        .first()
    )


def _rule_def(rule: ApprovalRule, steps: tuple[routing.StepDef, ...]) -> routing.RuleDef:
    return routing.RuleDef(
        name=rule.name,
        conditions=routing.Conditions(
            amount_gte=rule.amount_gte,
            max_discount_pct_gte=rule.max_discount_pct_gte,
            term_months_gt=rule.term_months_gt,
            type_in=tuple(rule.type_in or ()),
            currency_not_reporting=rule.currency_not_reporting,
            billing_country_in=tuple(c.upper() for c in rule.billing_country_in or ()),
        ),
        steps=steps,
    )


def policy_rules(policy: ApprovalPolicy | None) -> list[routing.RuleDef]:
    """The rules of ``policy`` as :class:`routing.RuleDef` (two queries)."""
    if policy is None:
        return []
    rules = ApprovalRule.objects.filter(policy=policy).prefetch_related(
        Prefetch("steps", queryset=ApprovalStep.objects.select_related("group"))
    )
    return [
        _rule_def(
            r,
            tuple(
                routing.StepDef(
                    group=s.group.name, mode=s.mode, count=s.count, sla_hours=s.sla_hours
                )
                for s in r.steps.all()
            ),
        )
        for r in rules
    ]


@dataclass(frozen=True)
class LinePrice:
    """What a line shows beside its unit price: the product's ``list_price`` (per seat per
    term, in the reporting currency; None: the product has none) and the line's
    ``discount_pct`` (:func:`routing.line_discount_pct`, percent with two decimals,
    negative for a premium; None: no list price, no unit price, or no exchange rate to
    compare them)."""

    list_price: Decimal | None
    discount_pct: Decimal | None


Rates = dict[Pair, Decimal | None]


def rates_today(currencies: Iterable[str], rates: Rates | None = None) -> Rates:
    """``rates`` (a :func:`currencies.selectors.rates_for` result, completed in place)
    with today's rate of each of ``currencies``: one query for those it lacks, none when
    it holds them all or they are the reporting currency. Pass the result on to
    :func:`line_prices` / :func:`opportunity_facts` so a page reads each rate once."""
    return _rates_with(currencies, timezone.localdate(), rates)


def _rates_with(currencies: Iterable[str], today: dt.date, rates: Rates | None) -> Rates:
    known: Rates = rates if rates is not None else {}
    missing = {(c, today) for c in currencies} - known.keys()
    if missing:
        known.update(rates_for(missing))
    return known


def _reporting_pairs(
    currency: str,
    prices: Iterable[tuple[Decimal | None, Decimal | None]],
    today: dt.date,
    rates: Rates,
) -> list[tuple[Decimal | None, Decimal | None]]:
    """``(unit_price, list_price)`` pairs with the unit price (in ``currency``) converted to
    the reporting currency at today's rate, as routing compares them (None: no rate, or
    no list price to compare it with: a line without one has no discount, so its unit
    price is not converted)."""
    return [
        (to_reporting(unit, currency, today, rates).amount if listed else None, listed)
        for unit, listed in prices
    ]


def _line_rows(opportunity: Opportunity, lines: Iterable[LineItem] | None) -> list[LineItem]:
    if lines is not None:
        return list(lines)
    cache = getattr(opportunity, "_prefetched_objects_cache", {})
    if "line_items" in cache:
        return list(cache["line_items"])
    return list(LineItem.objects.filter(opportunity=opportunity).select_related("product"))


def _list_price(line: LineItem) -> Decimal | None:
    return getattr(line.product, "list_price", None) if line.product_id else None


def line_prices(
    opportunity: Opportunity,
    lines: Iterable[LineItem] | None = None,
    *,
    rates: Rates | None = None,
) -> list[LinePrice]:
    """The list price and discount of each line of ``opportunity`` (``lines``, else its
    line items), in order: the very figures routing compares (at most one query, for
    today's rate of a currency ``rates`` lacks)."""
    today = timezone.localdate()
    rows = _line_rows(opportunity, lines)
    rates = _rates_with([opportunity.currency], today, rates)
    pairs = _reporting_pairs(
        opportunity.currency, [(li.unit_price, _list_price(li)) for li in rows], today, rates
    )
    return [
        LinePrice(list_price=listed, discount_pct=routing.line_discount_pct(unit, listed))
        for unit, listed in pairs
    ]


def _facts(
    opportunity: Opportunity,
    prices: Iterable[tuple[Decimal | None, Decimal | None]],
    today: dt.date,
    rates: Rates,
) -> routing.OpportunityFacts:
    amount = to_reporting(opportunity.amount, opportunity.currency, today, rates)
    pairs = _reporting_pairs(opportunity.currency, prices, today, rates)
    return routing.OpportunityFacts(
        amount_reporting=amount.amount,
        amount_converted=not amount.missing,
        max_discount_pct=routing.max_discount_pct(pairs),
        term_months=opportunity.term_months,
        type=opportunity.type,
        currency=opportunity.currency,
        reporting_currency=settings.REPORTING_CURRENCY,
        billing_country=(opportunity.account.billing_country if opportunity.account else "") or "",
    )


def opportunity_facts(
    opportunity: Opportunity,
    lines: Iterable[LineItem] | None = None,
    *,
    rates: Rates | None = None,
) -> routing.OpportunityFacts:
    """What routing reads of ``opportunity``: the amount and each line's unit price in the
    reporting currency (at today's rate), the largest line discount against the products'
    list prices, term, type, currency and the account's billing country."""
    today = timezone.localdate()
    rates = _rates_with([opportunity.currency], today, rates)
    rows = _line_rows(opportunity, lines)
    return _facts(opportunity, [(li.unit_price, _list_price(li)) for li in rows], today, rates)


def rules_in_force(at: dt.datetime | None = None) -> list[routing.RuleDef]:
    """The rules of the policy in force at ``at`` (now) in one query: every step with its
    rule and group, the policy picked by a subquery. A rule without steps is left out:
    it adds nothing to any route."""
    at = at or timezone.now()
    policy = (
        ApprovalPolicy.objects.filter(version__isnull=False, effective_at__lte=at)
        .order_by("-effective_at", "-version")
        .values("pk")[:1]
    )
    steps = (
        ApprovalStep.objects.filter(rule__policy=Subquery(policy))
        .select_related("rule", "group")
        .order_by("rule__order", "rule__id", "order", "id")
    )
    rules: dict[int, tuple[ApprovalRule, list[routing.StepDef]]] = {}
    for s in steps:
        rules.setdefault(s.rule_id, (s.rule, []))[1].append(
            routing.StepDef(group=s.group.name, mode=s.mode, count=s.count, sla_hours=s.sla_hours)
        )
    return [_rule_def(rule, tuple(defs)) for rule, defs in rules.values()]


def rules_read_discounts(rules: Iterable[routing.RuleDef]) -> bool:
    """Does some rule look at line discounts (so routing needs the line prices)?"""
    return any(r.conditions.max_discount_pct_gte is not None for r in rules)


PricePairs = list[tuple[Decimal | None, Decimal | None]]


def routes_for_page(
    opportunities: Iterable[Opportunity],
    *,
    rates: Rates | None = None,
    rules: list[routing.RuleDef] | None = None,
    prices: dict[int, PricePairs] | None = None,
) -> dict[int, list[dict[str, Any]]]:
    """The route each of ``opportunities`` would take now (as :func:`route_for`), keyed by
    id, for a whole page in a constant number of queries: one for the rules in force
    (none when ``rules`` is given), one for the line prices (only when a rule looks at
    discounts and ``prices`` — ``{id: [(unit_price, list_price), …]}`` in line order —
    is not given) and one for exchange rates ``rates`` lacks (none when it holds today's
    rate of every currency). The opportunities need their account loaded."""
    opps = list(opportunities)
    if not opps:
        return {}
    rules = rules_in_force() if rules is None else rules
    if not rules:
        return {o.pk: [routing.BUILT_IN_STEP.as_dict()] for o in opps}
    if prices is None:
        prices = defaultdict(list)
        if rules_read_discounts(rules):
            prices.update(_page_prices([o.pk for o in opps]))
    today = timezone.localdate()
    rates = _rates_with({o.currency for o in opps}, today, rates)
    return {
        o.pk: routing.route_dicts(
            routing.route(_facts(o, prices.get(o.pk, []), today, rates), rules)
        )
        for o in opps
    }


def _page_prices(ids: list[int]) -> dict[int, PricePairs]:
    prices: dict[int, PricePairs] = defaultdict(list)
    for opportunity_id, unit, listed in (
        LineItem.objects.filter(opportunity_id__in=ids)
        .order_by("id")
        .values_list("opportunity_id", "unit_price", "product__list_price")
    ):
        prices[opportunity_id].append((unit, listed))
    return prices


def route_for(
    opportunity: Opportunity, policy: ApprovalPolicy | None = None, *, rules: Any = None
) -> list[dict[str, Any]]:
    """The route ``opportunity`` would take now (list of step dicts, RevOps first) under
    ``policy`` (default: the policy in force)."""
    if rules is None:
        rules = policy_rules(policy) if policy is not None else rules_in_force()
    return routing.route_dicts(routing.route(opportunity_facts(opportunity), rules))


def route_for_submission(opportunity: Opportunity) -> tuple[list[dict[str, Any]], int | None]:
    """The route to freeze on a new Approval, and the policy version it comes from."""
    policy = current_policy()
    return route_for(opportunity, policy), policy.version if policy else None


def route_for_values(
    opportunity: Opportunity,
    lines: Iterable[LineItem],
    *,
    first: routing.RouteStep = routing.AMENDMENT_STEP,
) -> tuple[list[dict[str, Any]], int | None]:
    """The route of proposed values (an amendment): ``opportunity`` is an unsaved copy
    carrying them and ``lines`` the proposed line items (unsaved LineItems with their
    products), routed by the policy in force. Returns the step dicts, ``first`` (the
    built-in RevOps step) first, and the policy version (None: no policy published)."""
    policy = current_policy()
    steps = routing.route(opportunity_facts(opportunity, lines), policy_rules(policy), first=first)
    return routing.route_dicts(steps), policy.version if policy else None


# The step engine reads the same attributes of a Closed-Won Approval and of an
# Amendment: ``route``, ``step_index``, ``step_started_at``, ``is_pending`` and
# ``requester_id``; the ApprovalDecision column naming it is its model name.


def subject_field(subject: Any) -> str:
    """``"approval"`` or ``"amendment"``: the ApprovalDecision column of ``subject``."""
    # A proxy (the admin's ClosedWonApproval) names its concrete model's column.
    return str(subject._meta.concrete_model._meta.model_name)


def decisions_of(subject: Any) -> Any:
    """The step decisions of an Approval or an Amendment (a queryset), in order."""
    return ApprovalDecision.objects.filter(**{subject_field(subject): subject.pk})


def route_of(approval: Any) -> list[dict[str, Any]]:
    """The frozen route of an Approval or an Amendment (one from before routing: the
    built-in RevOps step)."""
    return list(approval.route or []) or [routing.BUILT_IN_STEP.as_dict()]


def current_step(approval: Any) -> dict[str, Any] | None:
    """The step now waiting, with its ``index`` (None once decided)."""
    steps = route_of(approval)
    if not approval.is_pending or approval.step_index >= len(steps):
        return None
    return {**steps[approval.step_index], "index": approval.step_index}


class _StepGroup(Func):
    """The ``group`` of element ``step_index`` of the JSON array ``route`` (NULL when the
    route has no such step). Built from column expressions, not SQL naming the table, so
    it keeps pointing at the right row inside a subquery, where Django renames tables."""

    arity = 2
    output_field = CharField()

    # (template, separator of the two expressions) per database: JSON paths differ, and
    # the embedded default runs on SQLite.
    SQL = {
        "postgresql": ("(%(expressions)s::int ->> 'group')", " -> "),
        "sqlite": ("json_extract(%(expressions)s || '].group')", ", '$[' || "),
    }

    def _as_vendor_sql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        template, joiner = self.SQL[connection.vendor]
        return self.as_sql(compiler, connection, template=template, arg_joiner=joiner, **extra)

    as_postgresql = as_sqlite = _as_vendor_sql


def step_group_sql(vendor: str, route: str, step_index: str) -> str:
    """:class:`_StepGroup` as SQL text over the columns ``route`` and ``step_index`` names
    (``vendor``: ``postgresql`` or ``sqlite``), for SQL that cannot take an expression —
    the stage totals' triggers. The RevOps default of :func:`with_step_group` is the
    caller's."""
    template, joiner = _StepGroup.SQL[vendor]
    return template % {"expressions": joiner.join((route, step_index))}


def with_step_group(queryset: Any) -> Any:
    """Annotate each approval (or amendment) with ``step_group``: the group of its
    current step (RevOps for one from before routing)."""
    return queryset.annotate(
        step_group=Coalesce(
            _StepGroup(F("route"), F("step_index")),
            Value(routing.REVOPS_GROUP),
            output_field=CharField(),
        )
    )


def decidable_by(
    queryset: Any,
    user: Any,
    *,
    pending: Q | None = None,
    requester: str = "submitted_by",
    mine: bool = True,
) -> Any:
    """The pending approvals whose current step ``user`` may approve: a step of one of
    their groups (RevOps' step: anyone with the approve permission), not their own deal
    or request, and no step of it approved by them already. Amendments name their
    columns: ``pending=Q(status="pending")``, ``requester="requested_by"``.
    ``mine=False``: every other row of ``queryset`` instead (the inbox's complement), in
    the same single query."""
    groups = policies.approver_groups_of(user)
    if not groups:
        return queryset.none() if mine else queryset
    field = str(queryset.model._meta.concrete_model._meta.model_name)
    approved_by_them = ApprovalDecision.objects.filter(
        decided_by=user, decision="approved", **{f"{field}__isnull": False}
    ).values(field)
    theirs = (
        (pending if pending is not None else Q(decision="pending"))
        & Q(step_group__in=sorted(groups))
        & ~Q(opportunity__owner=user)
        & ~Q(**{requester: user})
        & ~Q(pk__in=approved_by_them)
    )
    annotated = with_step_group(queryset)
    return annotated.filter(theirs) if mine else annotated.exclude(theirs)


def step_due_at(started: dt.datetime, step: dict[str, Any], *, times: int = 1) -> dt.datetime:
    """When a step that became current at ``started`` runs out of SLA: ``times`` × its
    ``sla_hours`` business hours later (:mod:`approvals.calendar`), UTC (``times=2``: when
    it is escalated)."""
    from .calendar import add_business_hours

    hours = times * int(step.get("sla_hours") or routing.DEFAULT_SLA_HOURS)
    return add_business_hours(started, hours)


def sla_due(request: Any, step: dict[str, Any], *, times: int = 1) -> dt.datetime | None:
    """When the step's SLA runs out, for an Approval or an Amendment: the due time frozen
    on a Closed-Won request when the step became current, else business hours from when
    the step started; ``times=2``: when it is escalated. None without a start time."""
    due = getattr(request, "step_due_at", None)
    if due is not None and times == 1:
        return due
    started = request.step_started_at or getattr(
        request, "submitted_at", getattr(request, "requested_at", None)
    )
    return step_due_at(started, step, times=times) if started else None


class GroupDirectory:
    """The members and the settings (:class:`ApproverGroup`) of approver groups, each
    group read once and kept: a sweep over many requests asks for the same few groups.
    Members are :func:`opportunities.policies.members_of` (the one member query)."""

    def __init__(self) -> None:
        self._members: dict[str, list[Any]] = {}
        self._settings: dict[str, ApproverGroup | None] | None = None

    def members(self, group: str) -> list[Any]:
        if group not in self._members:
            self._members[group] = list(policies.members_of(group))
        return self._members[group]

    def settings_of(self, group: str) -> ApproverGroup | None:
        if self._settings is None:
            # Every group's settings in one query: there are a handful.
            self._settings = {
                row.group.name: row
                for row in ApproverGroup.objects.select_related("group", "escalation_group")
            }
        return self._settings.get(group)


# --- policy versions, listed ----------------------------------------------------------------


def with_rules(queryset: Any) -> Any:
    """``queryset`` of policies with their rules, each rule's steps and each step's group
    prefetched (three queries for a page of any size)."""
    return queryset.prefetch_related(
        Prefetch(
            "rules",
            queryset=ApprovalRule.objects.prefetch_related(
                Prefetch("steps", queryset=ApprovalStep.objects.select_related("group"))
            ),
        )
    )


def published_policies() -> Any:
    """Published versions, newest first, with their rules and steps (the API's list)."""
    return with_rules(ApprovalPolicy.objects.filter(version__isnull=False).order_by("-version"))


def with_in_force(queryset: Any) -> Any:
    """Annotate each policy with ``in_force``: it is the version in force now (one
    subquery, no query per row)."""
    from django.db.models import BooleanField, ExpressionWrapper, Subquery
    from django.db.models.functions import Coalesce

    current = (
        ApprovalPolicy.objects.filter(version__isnull=False, effective_at__lte=timezone.now())
        .order_by("-effective_at", "-version")
        .values("pk")[:1]
    )
    # No version in force: the comparison is NULL, read as False.
    return queryset.annotate(
        in_force=Coalesce(
            ExpressionWrapper(Q(pk=Subquery(current)), output_field=BooleanField()),
            False,
        )
    )


def decision_dicts(rows: Iterable[ApprovalDecision]) -> list[dict[str, Any]]:
    """Step decisions as the API shows them, for an approval or an amendment:
    ``{step_index, group, decision, decided_by (user id), decided_at, comment,
    policy_version}`` each, in the order of ``rows`` (prefetched by the list selectors:
    no query)."""
    return [
        {
            "step_index": d.step_index,
            "group": d.group,
            "decision": d.decision,
            "decided_by": d.decided_by_id,
            "decided_at": d.decided_at,
            "comment": d.comment,
            "policy_version": d.policy_version,
        }
        for d in rows
    ]
