"""Reads of approval policies: the policy in force, its rules, a deal's routing facts and
route, a pending approval's current step. No writes, no outbox."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Prefetch, Q
from django.utils import timezone

from currencies.conversion import to_reporting
from currencies.selectors import Pair, rate_on
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


def policy_rules(policy: ApprovalPolicy | None) -> list[routing.RuleDef]:
    """The rules of ``policy`` as :class:`routing.RuleDef` (two queries)."""
    if policy is None:
        return []
    rules = ApprovalRule.objects.filter(policy=policy).prefetch_related(
        Prefetch("steps", queryset=ApprovalStep.objects.select_related("group"))
    )
    return [
        routing.RuleDef(
            name=r.name,
            conditions=routing.Conditions(
                amount_gte=r.amount_gte,
                max_discount_pct_gte=r.max_discount_pct_gte,
                term_months_gt=r.term_months_gt,
                type_in=tuple(r.type_in or ()),
                currency_not_reporting=r.currency_not_reporting,
                billing_country_in=tuple(c.upper() for c in r.billing_country_in or ()),
            ),
            steps=tuple(
                routing.StepDef(
                    group=s.group.name, mode=s.mode, count=s.count, sla_hours=s.sla_hours
                )
                for s in r.steps.all()
            ),
        )
        for r in rules
    ]


def deal_facts(
    opportunity: Opportunity,
    lines: Iterable[LineItem] | None = None,
    *,
    rates: Mapping[Pair, Decimal | None] | None = None,
) -> routing.DealFacts:
    """What routing reads of ``opportunity``: the amount and each line's unit price in the
    reporting currency (at today's rate), the largest line discount against the products'
    list prices, term, type, currency and the account's billing country. ``rates``: a
    :func:`currencies.selectors.rates_for` result holding today's rate of the deal's
    currency (no query then; without it, one)."""
    reporting = settings.REPORTING_CURRENCY
    today = timezone.localdate()
    key = (opportunity.currency, today)
    rates = {key: rates[key] if rates is not None and key in rates else rate_on(*key)}
    amount = to_reporting(opportunity.amount, opportunity.currency, today, rates)
    if lines is None:
        cache = getattr(opportunity, "_prefetched_objects_cache", {})
        lines = (
            cache["line_items"]
            if "line_items" in cache
            else LineItem.objects.filter(opportunity=opportunity).select_related("product")
        )
    pairs = []
    for line in lines:
        listed = getattr(line.product, "list_price", None) if line.product_id else None
        unit = to_reporting(line.unit_price, opportunity.currency, today, rates).amount
        pairs.append((unit, listed))
    return routing.DealFacts(
        amount_reporting=amount.amount,
        amount_converted=not amount.missing,
        max_discount_pct=routing.max_discount_pct(pairs),
        term_months=opportunity.term_months,
        type=opportunity.type,
        currency=opportunity.currency,
        reporting_currency=reporting,
        billing_country=(opportunity.account.billing_country if opportunity.account else "") or "",
    )


def route_for(
    opportunity: Opportunity, policy: ApprovalPolicy | None = None, *, rules: Any = None
) -> list[dict[str, Any]]:
    """The route ``opportunity`` would take now (list of step dicts, RevOps first)."""
    if rules is None:
        rules = policy_rules(policy if policy is not None else current_policy())
    return routing.route_dicts(routing.route(deal_facts(opportunity), rules))


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
    steps = routing.route(deal_facts(opportunity, lines), policy_rules(policy), first=first)
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


def with_step_group(queryset: Any) -> Any:
    """Annotate each approval (or amendment) with ``step_group``: the group of its
    current step (RevOps for one from before routing)."""
    from django.db.models import CharField, Value
    from django.db.models.expressions import RawSQL
    from django.db.models.functions import Coalesce

    table = queryset.model._meta.db_table
    return queryset.annotate(
        step_group=Coalesce(
            # The table name comes from the model, the key is a parameter: no input.
            RawSQL(f'("{table}"."route" -> "{table}"."step_index"::int ->> %s)', ("group",)),  # noqa: S611
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
    # One query, not a subquery of the inbox: ``step_group`` is raw SQL naming the table,
    # which a subquery would alias away.
    annotated = with_step_group(queryset)
    return annotated.filter(theirs) if mine else annotated.exclude(theirs)


def approver_groups() -> list[str]:
    """RevOps and every group some published or draft policy step names, sorted."""
    names = set(ApprovalStep.objects.values_list("group__name", flat=True).distinct())
    return [routing.REVOPS_GROUP, *sorted(names - {routing.REVOPS_GROUP})]


def sla_due(approval: Any, step: dict[str, Any], *, times: int = 1) -> dt.datetime | None:
    """When the step's SLA runs out (business hours from when the step started) of an
    Approval or an Amendment; ``times=2``: when it is escalated. None when the request
    has no start time."""
    from .calendar import add_business_hours

    started = approval.step_started_at or getattr(
        approval, "submitted_at", getattr(approval, "requested_at", None)
    )
    hours = times * int(step.get("sla_hours") or routing.DEFAULT_SLA_HOURS)
    return add_business_hours(started, hours) if started else None


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
