"""Approval policies: the policy in force, the route of a deal, policy versions, step
decisions, notifications (outbox rows) and the SLA sweep.

The transition service (``opportunities.services.transitions``) calls:

* :func:`route_for_submission` when a deal is submitted (the route is frozen on the
  Approval with the policy version);
* :func:`step_approve` on ``approve``: records the current step and says whether that was
  the last one (only then does the deal become Closed-Won);
* :func:`step_reject` on ``reject``;
* :func:`notify_step` and :func:`notify_decision` for the outbox and in-app rows.

Every write happens in the caller's transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import IntegrityError, connection, transaction
from django.db.models import Prefetch
from django.utils import timezone

from core import errors
from currencies.selectors import rates_for
from handoffs import urlguard
from handoffs.errors import UrlNotAllowed
from handoffs.selectors import sent_message_keys
from handoffs.services import chat_enqueue, email_enqueue
from opportunities import policies
from opportunities.models import Approval, LineItem, Opportunity
from opportunities.stages import OPEN_STAGES, Stage

from . import routing
from .models import (
    ApprovalDecision,
    ApprovalPolicy,
    ApprovalRule,
    ApprovalStep,
    ApproverGroup,
    Notification,
)
from .selectors import (
    GroupDirectory,
    current_policy,
    current_step,
    decisions_of,
    opportunity_facts,
    policy_rules,
    route_of,
    sla_due,
    subject_field,
    with_rules,
)
from .selectors import (  # re-exported: the transition service and tests call them here
    route_for as route_for,
)
from .selectors import (
    route_for_submission as route_for_submission,
)
from .selectors import (
    step_due_at as step_due_at,
)


class UnknownGroup(errors.DomainError):
    """A step names a group that does not exist (create it first: admin or
    ``create_user --group``)."""

    code = "unknown_group"
    status = 422
    title = "A step names a group that does not exist"


# --- versions -------------------------------------------------------------------------------


def _next_version() -> int:
    last = ApprovalPolicy.objects.filter(version__isnull=False).order_by("-version").first()
    return (last.version or 0) + 1 if last else 1


def _require_policy_editor(actor: Any) -> None:
    denied = policies.approval_policy_permission_error(actor)
    if denied is not None:
        raise denied


# Any fixed 64-bit key: the transaction-scoped PostgreSQL lock every publish takes.
_PUBLISH_LOCK = 0x636C6F7365647770  # "closedwp"


def _lock_publishing() -> None:
    """Serialise publishes. Locking the published rows is not enough: before the first
    publish there are none, so two first publishes would both pick version 1. SQLite
    takes the write lock at BEGIN (``transaction_mode=IMMEDIATE``) instead."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_PUBLISH_LOCK])


def policy_publish(
    policy: ApprovalPolicy, *, actor: Any, at: dt.datetime | None = None
) -> ApprovalPolicy:
    """Publish a draft: it gets the next version and is in force from ``at`` (now).
    Pending approvals keep the route they were submitted with.

    Errors: ``permission_denied`` (403) unless ``actor`` is RevOps or holds
    ``approvals.change_approvalpolicy``; ``invalid`` (400) for a published version;
    ``concurrent_update`` (409) if the version number was taken at the same instant
    anyway (the unique index is the last word)."""
    _require_policy_editor(actor)
    try:
        with transaction.atomic():
            _lock_publishing()
            locked = ApprovalPolicy.objects.select_for_update().get(pk=policy.pk)
            if locked.version is not None:
                raise errors.InvalidInput("This version is already published: copy it to a draft.")
            locked.version = _next_version()
            locked.effective_at = at or timezone.now()
            locked.save(update_fields=["version", "effective_at"])
    except IntegrityError as exc:
        raise errors.ConcurrentUpdate(
            "Another version was published at the same moment; try again."
        ) from exc
    return locked


def policy_copy_to_draft(policy: ApprovalPolicy | None, *, actor: Any) -> ApprovalPolicy:
    """A new draft with the rules and steps of ``policy`` (None: an empty draft).
    ``permission_denied`` (403) unless ``actor`` may change the policy."""
    _require_policy_editor(actor)
    with transaction.atomic():
        draft = ApprovalPolicy.objects.create(
            name=policy.name if policy else "Approval policy", based_on=policy, created_by=actor
        )
        if policy is not None:
            for rule in policy.rules.prefetch_related("steps"):
                steps = list(rule.steps.all())
                rule.pk = None
                rule.policy = draft
                rule.save()
                for step in steps:
                    step.pk = None
                    step.rule = rule
                    step.save()
    return draft


def _decimal(value: Any, field: str, *, most: Decimal) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise errors.InvalidInput.on(field, "Enter a number as a decimal string.")
    try:
        out = Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise errors.InvalidInput.on(field, "Enter a number.") from exc
    if not out.is_finite() or out < 0 or out > most:
        raise errors.InvalidInput.on(field, f"Enter a number from 0 to {most}.")
    if int(out.as_tuple().exponent) < -2:
        # The column keeps two decimals: more would be rounded silently.
        raise errors.InvalidInput.on(field, "At most 2 decimals.")
    return out


CONDITION_KEYS = {
    "amount_gte",
    "max_discount_pct_gte",
    "term_months_gt",
    "type_in",
    "currency_not_reporting",
    "billing_country_in",
}
STEP_KEYS = {"group", "mode", "count", "sla_hours"}
# The bounds of a definition, checked here only (the API's serializer checks the shape):
# each fits its column, so no value reaches the database to fail there.
MAX_AMOUNT = Decimal("9999999999999999.99")
MAX_DISCOUNT_PCT = Decimal(100)
MAX_TERM_MONTHS = 1200
MAX_STEP_COUNT = 50
MAX_SLA_HOURS = 1000


def _whole(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _rule_row(rule: Mapping[str, Any], at: str, problems: list[errors.FieldError]) -> Any:
    """The columns of one rule, or None (its problems appended)."""
    from opportunities.stages import OpportunityType

    cond = rule.get("conditions") or {}
    if not isinstance(cond, Mapping) or set(cond) - CONDITION_KEYS:
        problems.append(
            errors.field_error(
                "unknown_parameter",
                f"{at}.conditions",
                f"Conditions are: {', '.join(sorted(CONDITION_KEYS))}.",
            )
        )
        return None
    row: dict[str, Any] = {"name": str(rule["name"]).strip()[:200]}
    for key, most in (("amount_gte", MAX_AMOUNT), ("max_discount_pct_gte", MAX_DISCOUNT_PCT)):
        try:
            row[key] = _decimal(cond.get(key), f"{at}.conditions.{key}", most=most)
        except errors.DomainError as exc:
            problems.extend(exc.errors)
    term = cond.get("term_months_gt")
    if term is not None and not _whole(term, 0, MAX_TERM_MONTHS):
        problems.append(
            errors.field_error(
                "invalid",
                f"{at}.conditions.term_months_gt",
                f"Whole months 0 to {MAX_TERM_MONTHS}.",
            )
        )
    row["term_months_gt"] = term
    types = cond.get("type_in") or []
    if not isinstance(types, list) or any(t not in OpportunityType.values for t in types):
        problems.append(
            errors.field_error(
                "invalid_choice",
                f"{at}.conditions.type_in",
                f"A list of types: {', '.join(OpportunityType.values)}.",
            )
        )
    row["type_in"] = list(types) if isinstance(types, list) else []
    flag = cond.get("currency_not_reporting", False)
    if not isinstance(flag, bool):
        problems.append(
            errors.field_error(
                "invalid", f"{at}.conditions.currency_not_reporting", "true or false."
            )
        )
    row["currency_not_reporting"] = flag is True
    countries = cond.get("billing_country_in") or []
    if not isinstance(countries, list) or not all(
        isinstance(c, str) and len(c) == 2 and c.isascii() and c.isalpha() for c in countries
    ):
        problems.append(
            errors.field_error(
                "invalid",
                f"{at}.conditions.billing_country_in",
                "A list of ISO 3166 two-letter country codes.",
            )
        )
        countries = []
    row["billing_country_in"] = [c.upper() for c in countries]
    return row


def policy_save(definition: Mapping[str, Any], *, actor: Any) -> ApprovalPolicy:
    """Save ``definition`` (``{"name", "rules": [{"name", "conditions": {...}, "steps":
    [{"group", "mode", "count", "sla_hours"}]}]}``) as the next published version.

    Every rule of a definition is checked here, whoever calls (the API's serializer
    checks only the shape): conditions ``amount_gte`` (decimal string, 0 to
    :data:`MAX_AMOUNT`, reporting currency), ``max_discount_pct_gte`` (0 to 100 %),
    ``term_months_gt`` (whole months 0 to 1200), ``type_in`` (opportunity types),
    ``currency_not_reporting`` (bool), ``billing_country_in`` (ISO alpha-2); steps
    ``group`` (an existing group), ``mode`` (``any``/``all``), ``count`` (1 to 50),
    ``sla_hours`` (business hours, 1 to 1000).

    Errors: ``permission_denied`` (403) unless ``actor`` is RevOps or holds
    ``approvals.change_approvalpolicy``; ``invalid`` (400) with a FieldError per problem;
    ``unknown_group`` (422) when the only problems are groups that do not exist."""
    _require_policy_editor(actor)
    if not isinstance(definition, Mapping):
        raise errors.InvalidInput("Send a JSON object.")
    rules = definition.get("rules") or []
    if not isinstance(rules, list):
        raise errors.InvalidInput.on("rules", "Send a list of rules.")
    problems: list[errors.FieldError] = []
    unknown_group = False
    parsed: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
    for i, rule in enumerate(rules):
        at = f"rules[{i}]"
        if not isinstance(rule, Mapping) or not str(rule.get("name") or "").strip():
            problems.append(errors.field_error("required", f"{at}.name", "Name the rule."))
            continue
        row = _rule_row(rule, at, problems)
        if row is None:
            continue
        steps = rule.get("steps") or []
        if not isinstance(steps, list):
            problems.append(errors.field_error("invalid", f"{at}.steps", "Send a list of steps."))
            continue
        step_rows = []
        for j, step in enumerate(steps):
            sat = f"{at}.steps[{j}]"
            if not isinstance(step, Mapping) or set(step) - STEP_KEYS:
                problems.append(
                    errors.field_error("invalid", sat, "Send group, mode, count, sla_hours.")
                )
                continue
            name = step.get("group")
            group = Group.objects.filter(name=name).first() if isinstance(name, str) else None
            if group is None:
                unknown_group = True
                problems.append(
                    errors.field_error("unknown_group", f"{sat}.group", "No such group.")
                )
            mode = step.get("mode", "any")
            if mode not in routing.MODES:
                problems.append(errors.field_error("invalid_choice", f"{sat}.mode", "any or all."))
            count, sla = step.get("count", 1), step.get("sla_hours", routing.DEFAULT_SLA_HOURS)
            if not _whole(count, 1, MAX_STEP_COUNT):
                problems.append(
                    errors.field_error("invalid", f"{sat}.count", f"1 to {MAX_STEP_COUNT}.")
                )
            if not _whole(sla, 1, MAX_SLA_HOURS):
                problems.append(
                    errors.field_error("invalid", f"{sat}.sla_hours", f"1 to {MAX_SLA_HOURS}.")
                )
            step_rows.append({"group": group, "mode": mode, "count": count, "sla_hours": sla})
        parsed.append((row, step_rows))
    if problems:
        if unknown_group and all(p.code == "unknown_group" for p in problems):
            raise UnknownGroup(errors=problems)
        raise errors.InvalidInput(errors=problems)
    with transaction.atomic():
        draft = ApprovalPolicy.objects.create(
            name=str(definition.get("name") or "Approval policy").strip()[:200],
            based_on=current_policy(),
            created_by=actor,
        )
        for order, (row, step_rows) in enumerate(parsed):
            rule_obj = ApprovalRule.objects.create(policy=draft, order=order, **row)
            for step_order, step_row in enumerate(step_rows):
                ApprovalStep.objects.create(rule=rule_obj, order=step_order, **step_row)
        return policy_publish(draft, actor=actor)


def policy_definition(policy: ApprovalPolicy) -> dict[str, Any]:
    """``policy`` in the API's shape (see :func:`policy_save`). No query when its rules
    were prefetched (:func:`approvals.selectors.with_rules`); three otherwise."""
    if "rules" not in getattr(policy, "_prefetched_objects_cache", {}):
        policy = with_rules(ApprovalPolicy.objects.filter(pk=policy.pk)).get()
    return {
        "id": policy.pk,
        "name": policy.name,
        "version": policy.version,
        "effective_at": policy.effective_at,
        "rules": [
            {
                "name": r.name,
                "conditions": {
                    "amount_gte": r.amount_gte,
                    "max_discount_pct_gte": r.max_discount_pct_gte,
                    "term_months_gt": r.term_months_gt,
                    "type_in": r.type_in,
                    "currency_not_reporting": r.currency_not_reporting,
                    "billing_country_in": r.billing_country_in,
                },
                "steps": [
                    {
                        "group": s.group.name,
                        "mode": s.mode,
                        "count": s.count,
                        "sla_hours": s.sla_hours,
                    }
                    for s in r.steps.all()
                ],
            }
            for r in policy.rules.all()
        ],
    }


# How many changed routes the draft's page lists (the count covers them all), and how
# many deals are read at a time to find them.
PREVIEW_LIMIT = 200
PREVIEW_CHUNK = 500


@dataclass(frozen=True)
class RoutePreview:
    """The open and pending deals a draft would route differently: ``rows`` (at most
    ``PREVIEW_LIMIT``, oldest deal first), each ``{"opportunity", "stage", "now",
    "draft"}`` (route labels), and ``total``, how many there are in all."""

    rows: list[dict[str, Any]]
    total: int


def preview_changes(draft: ApprovalPolicy, *, limit: int = PREVIEW_LIMIT) -> RoutePreview:
    """The open and pending deals whose route would differ under ``draft``. A pending
    deal keeps its frozen route; it is listed so RevOps see whom a resubmission would
    reach. Today's exchange rates are read once, the deals ``PREVIEW_CHUNK`` at a time
    (two queries per chunk), so neither the queries nor the memory grow with a row each."""
    now_rules = policy_rules(current_policy())
    draft_rules = policy_rules(draft)
    opportunities = Opportunity.objects.filter(stage__in=(*OPEN_STAGES, Stage.PENDING_APPROVAL))
    today = timezone.localdate()
    rates = rates_for(
        (currency, today)
        for currency in opportunities.values_list("currency", flat=True).distinct()
    )
    rows: list[dict[str, Any]] = []
    total = 0
    for opp in (
        opportunities.select_related("account")
        .prefetch_related(
            Prefetch("line_items", queryset=LineItem.objects.select_related("product"))
        )
        .order_by("id")
        .iterator(chunk_size=PREVIEW_CHUNK)
    ):
        facts = opportunity_facts(opp, opp.line_items.all(), rates=rates)
        before = routing.route(facts, now_rules)
        after = routing.route(facts, draft_rules)
        if before == after:
            continue
        total += 1
        if len(rows) < limit:
            rows.append(
                {
                    "opportunity": opp,
                    "stage": opp.stage,
                    "now": routing.route_label(before),
                    "draft": routing.route_label(after),
                }
            )
    return RoutePreview(rows=rows, total=total)


# --- approver-group settings ----------------------------------------------------------------


def chat_webhook_url_check(url: str) -> str:
    """``url`` stripped, if an approver group's chat webhook may point there ("" clears
    it). Entered by RevOps, it is a request this server makes: the webhook endpoints'
    address guard applies (``handoffs.urlguard``: https, public addresses only, outside
    the operator's ``WEBHOOK_ALLOWED_NETWORKS``), here and again at every send.
    Raises ``url_not_allowed`` (400)."""
    url = (url or "").strip()
    if not url:
        return ""
    problem = urlguard.url_problem(url)
    if problem:
        raise UrlNotAllowed(
            problem, errors=[errors.field_error("url_not_allowed", "chat_webhook_url", problem)]
        )
    return url


def approver_group_save(
    *,
    actor: Any,
    group: Group,
    chat_webhook_url: str = "",
    escalation_group: Group | None = None,
    instance: ApproverGroup | None = None,
) -> ApproverGroup:
    """Create or change the settings of approver group ``group``: its chat webhook URL
    (checked by :func:`chat_webhook_url_check`) and the group escalated to at twice the
    SLA; ``instance``: the settings row to change (else the group's, created if need be).
    Errors: ``permission_denied`` (403) unless ``actor`` may change the policy;
    ``url_not_allowed`` (400); ``invalid`` (400) when a group escalates to itself."""
    _require_policy_editor(actor)
    url = chat_webhook_url_check(chat_webhook_url)
    if escalation_group is not None and escalation_group.pk == group.pk:
        raise errors.InvalidInput.on("escalation_group", "Escalate to another group.")
    values = {"group": group, "chat_webhook_url": url, "escalation_group": escalation_group}
    if instance is not None and instance.pk is not None:
        for name, value in values.items():
            setattr(instance, name, value)
        instance.save()
        return instance
    row, _ = ApproverGroup.objects.update_or_create(group=group, defaults=values)
    return row


# --- steps ----------------------------------------------------------------------------------


def step_approve(
    approval: Any, *, actor: Any, now: dt.datetime, comment: str = "", via: str = "ui"
) -> bool:
    """Record ``actor``'s approval of the current step of ``approval`` — a Closed-Won
    Approval or an Amendment, locked by the caller. Returns True when that completed the
    last step. An ``all`` step completes at its ``count``-th distinct member; the next
    step's members are then notified. ``already_decided`` (409) when ``actor`` approved
    a step of it before (the partial unique index is the last word under concurrency)."""
    steps = route_of(approval)
    step = steps[approval.step_index]
    try:
        with transaction.atomic():  # savepoint: the unique index is the last word
            ApprovalDecision.objects.create(
                **{subject_field(approval): approval},
                step_index=approval.step_index,
                group=step["group"],
                decision="approved",
                decided_by=actor,
                decided_at=now,
                comment=comment,
                policy_version=approval.policy_version,
                via=via,
            )
    except IntegrityError as exc:
        raise errors.AlreadyDecided("You already approved a step of this request.") from exc
    need = policies.approvals_needed(step)
    # One approval completes a step that needs one: the decision just written is it.
    if need > 1 and (
        decisions_of(approval).filter(step_index=approval.step_index, decision="approved").count()
        < need
    ):
        return False
    if approval.step_index + 1 >= len(steps):
        return True
    approval.step_index += 1
    approval.step_started_at = now
    fields = ["step_index", "step_started_at"]
    if hasattr(approval, "step_due_at"):  # a Closed-Won request orders its inbox by it
        approval.step_due_at = step_due_at(now, steps[approval.step_index])
        fields.append("step_due_at")
    approval.save(update_fields=fields)
    notify_step(approval)
    return False


def step_reject(
    approval: Any, *, actor: Any, now: dt.datetime, reason: str, via: str = "ui"
) -> None:
    """Record the rejection at the current step of an Approval or an Amendment (the
    caller rejects the whole request)."""
    steps = route_of(approval)
    step = steps[min(approval.step_index, len(steps) - 1)]
    ApprovalDecision.objects.create(
        **{subject_field(approval): approval},
        step_index=approval.step_index,
        group=step["group"],
        decision="rejected",
        decided_by=actor,
        decided_at=now,
        comment=reason,
        policy_version=approval.policy_version,
        via=via,
    )


# --- notifications --------------------------------------------------------------------------


def _site(path: str) -> str:
    return f"{settings.SITE_URL.rstrip('/')}{path}"


def _is_amendment(subject: Any) -> bool:
    return subject_field(subject) == "amendment"


def _subject_name(subject: Any) -> str:
    """ "Acme renewal" for a Closed-Won request, "Amendment of Acme renewal" (or
    "Cancellation of …") for an amendment."""
    name = subject.opportunity.name
    if not _is_amendment(subject):
        return name
    return f"{'Cancellation' if subject.kind == 'cancellation' else 'Amendment'} of {name}"


def notify_step(
    approval: Any,
    *,
    topic: str = "approval",
    group: str | None = None,
    directory: GroupDirectory | None = None,
) -> int:
    """Tell the members of the current step (or ``group``) of a Closed-Won Approval or
    an Amendment by e-mail — a request's with signed approve / reject links, an
    amendment's with the link to its page — and on the group's chat webhook if it has
    one. The deal's owner and the requester are never told to decide. Rows in the
    outbox, idempotent per request, step, topic and member. Returns how many e-mails.
    ``directory``: groups already read (a sweep passes one for all its requests)."""
    from .links import decision_link

    directory = directory or GroupDirectory()

    step = current_step(approval)
    if step is None:
        return 0
    opportunity = approval.opportunity
    amendment = _is_amendment(approval)
    target = group or step["group"]
    why = "" if step["rule"] in routing.BUILT_IN_RULES else f" ({step['rule']}: {step['why']})"
    verb = {
        "approval": "needs your approval",
        "reminder": "is waiting past its SLA",
        "escalation": "is overdue (2× SLA): escalated to you",
    }.get(topic, "needs approval")
    due = sla_due(approval, step)
    subject_name = _subject_name(approval)
    # An amendment's key names it: its ids share no sequence with the approvals'.
    key = f"amendment:{approval.pk}" if amendment else f"{approval.pk}"
    page = (
        f"/admin/amendments/amendment/{approval.pk}/"
        if amendment
        else f"/opportunities/{opportunity.pk}/"
    )
    sent = 0
    for member in directory.members(target):
        if member.pk in (opportunity.owner_id, approval.requester_id):
            continue
        if amendment:
            delta = approval.delta or {}
            amount_line = (
                f"Amount: {(approval.after or {}).get('amount')} {opportunity.currency}"
                f" (delta {delta.get('amount')})"
                if approval.after
                else f"Cancels a booking of {opportunity.amount} {opportunity.currency}"
            )
        else:
            amount_line = f"Amount: {opportunity.amount} {opportunity.currency}"
        lines = [
            f"{subject_name} {verb}.",
            "",
            f"Step {step['index'] + 1} of {len(route_of(approval))}: {step['group']}{why}",
            amount_line,
            f"SLA: {step['sla_hours']} business hours"
            + (f", due {due:%Y-%m-%d %H:%M} UTC" if due else ""),
            "",
        ]
        if amendment:
            lines += [f"Decide it: {_site(page)}"]
        elif topic != "escalation" or policies.is_member(member, step["group"]):
            lines += [
                f"Approve: {_site(decision_link(approval, member, 'approve'))}",
                f"Reject:  {_site(decision_link(approval, member, 'reject'))}",
                "(Each link opens a confirmation page; it works once, for 72 hours.)",
            ]
        lines += ["", f"Open the deal: {_site(f'/opportunities/{opportunity.pk}/')}"]
        email_enqueue(
            to=[member.email] if member.email else [],
            subject=f"[{step['group']}] {subject_name} {verb}",
            body="\n".join(lines) + "\n",
            opportunity=opportunity,
            topic=topic,
            dedupe_key=f"{topic}:{key}:{step['index']}:{target}:{member.pk}",
        )
        sent += 1
    settings_row = directory.settings_of(target)
    if settings_row and settings_row.chat_webhook_url:
        chat_enqueue(
            text=f"{subject_name} {verb} — step {step['group']}{why}: {_site(page)}",
            url=settings_row.chat_webhook_url,
            opportunity=opportunity,
            topic=topic,
            dedupe_key=f"chat:{topic}:{key}:{step['index']}:{target}",
        )
    return sent


def notify_decision(
    approval: Any, *, actor: Any, decision: str, step: Mapping[str, Any], comment: str = ""
) -> Notification:
    """The rep hears of a decision in the app, and by e-mail. For a Closed-Won request
    the deal's owner is told, by e-mail only of a step that is not the last (the final
    decision's e-mail is the deal's decision e-mail). For an amendment the requester is
    told of every decision, in the app and by e-mail (an amendment has no other
    decision e-mail)."""
    if _is_amendment(approval):
        return _notify_amendment_decision(
            approval, actor=actor, decision=decision, step=step, comment=comment
        )
    opportunity = approval.opportunity
    who = actor.get_full_name() or actor.username
    if decision == "rejected":
        text = f"Rejected by {who}: {comment}" if comment else f"Rejected by {who}"
    elif approval.decision == "approved":
        text = f"Approved by {who}: {opportunity.name} is Closed-Won"
    else:
        nxt = current_step(approval)
        text = f"{step['group']} step approved by {who}" + (
            f"; waiting for {nxt['group']}" if nxt else ""
        )
    note = Notification.objects.create(
        user_id=opportunity.owner_id, opportunity=opportunity, kind=decision, text=text[:500]
    )
    if decision == "approved" and approval.decision == "pending":
        email_enqueue(
            to=[opportunity.owner.email] if opportunity.owner.email else [],
            subject=f"{opportunity.name}: {text}",
            body=f"{text}.\n\nOpen the deal: {_site(f'/opportunities/{opportunity.pk}/')}\n",
            opportunity=opportunity,
            topic="decision",
            dedupe_key=f"step-decision:{approval.pk}:{step.get('index', approval.step_index)}:{actor.pk}",
        )
    return note


def _notify_amendment_decision(
    amendment: Any, *, actor: Any, decision: str, step: Mapping[str, Any], comment: str = ""
) -> Notification:
    opportunity = amendment.opportunity
    who = actor.get_full_name() or actor.username
    name = _subject_name(amendment)
    if decision == "rejected":
        text = f"{name} rejected by {who}" + (f": {comment}" if comment else "")
    elif amendment.status == "approved":
        done = "the deal is cancelled" if amendment.kind == "cancellation" else "applied"
        text = f"{name} approved by {who}: {done}"
    else:
        nxt = current_step(amendment)
        text = f"{name}: {step['group']} step approved by {who}" + (
            f"; waiting for {nxt['group']}" if nxt else ""
        )
    requester = get_user_model().objects.filter(pk=amendment.requester_id).first()
    note = Notification.objects.create(
        user_id=amendment.requester_id, opportunity=opportunity, kind=decision, text=text[:500]
    )
    email_enqueue(
        to=[requester.email] if requester is not None and requester.email else [],
        subject=text[:200],
        body=f"{text}.\n\nOpen the deal: {_site(f'/opportunities/{opportunity.pk}/')}\n",
        opportunity=opportunity,
        topic="decision",
        dedupe_key=(
            f"amendment-decision:{amendment.pk}:{step.get('index', amendment.step_index)}"
            f":{decision}:{actor.pk}"
        ),
    )
    return note


def notifications_mark_read(user: Any, ids: Iterable[int] | None = None) -> int:
    qs = Notification.objects.filter(user=user, read_at__isnull=True)
    if ids is not None:
        qs = qs.filter(pk__in=list(ids))
    return qs.update(read_at=timezone.now())


# --- SLA sweep ------------------------------------------------------------------------------


def _dedupe_prefix(topic: str, subject: Any, step_index: int) -> str:
    """The start of the dedupe key of each e-mail :func:`notify_step` writes for
    ``topic`` at a step of ``subject`` (one per member follows)."""
    key = f"amendment:{subject.pk}" if _is_amendment(subject) else f"{subject.pk}"
    return f"{topic}:{key}:{step_index}:"


def _sent_prefix(key: str) -> str:
    """The :func:`_dedupe_prefix` of an e-mail's dedupe key, read from the left: the
    group name after it is RevOps' text and may hold anything."""
    parts = key.split(":")
    head = 4 if len(parts) > 1 and parts[1] == "amendment" else 3
    return ":".join(parts[:head]) + ":"


def sla_sweep(now: dt.datetime | None = None) -> dict[str, int]:
    """Remind the members of every step past its SLA — of Closed-Won requests and of
    amendments — and escalate to the group's escalation group at twice the SLA (business
    hours, :func:`approvals.selectors.sla_due`). Once per request and step: a step whose
    reminder (escalation) e-mails are in the outbox is skipped, and the outbox dedupes
    the rest. Returns the counts ``{"reminders", "escalations"}``.

    Queries per run do not grow with the pending requests already told: the requests
    (two), the e-mails already sent (one), each group's members and the groups' settings
    once (:class:`approvals.selectors.GroupDirectory`)."""
    from django.apps import apps

    now = now or timezone.now()
    reminders = escalations = 0
    # Amendments wait on the same steps; looked up by name, as the amendments app builds
    # on this one.
    amendment_model = apps.get_model("amendments", "Amendment")
    pending: list[Any] = [
        *Approval.objects.filter(decision="pending").select_related(
            "opportunity", "opportunity__owner"
        ),
        *amendment_model.objects.filter(status="pending").select_related(
            "opportunity", "opportunity__owner"
        ),
    ]
    due: list[tuple[Any, dict[str, Any], bool]] = []
    for approval in pending:
        step = current_step(approval)
        reminder_at = sla_due(approval, step) if step else None
        if step is None or reminder_at is None or now < reminder_at:
            continue
        escalation_at = sla_due(approval, step, times=2)
        due.append((approval, step, escalation_at is not None and now >= escalation_at))
    if not due:
        return {"reminders": 0, "escalations": 0}
    sent = {
        _sent_prefix(key)
        for key in sent_message_keys(
            topics=("reminder", "escalation"),
            opportunity_ids={approval.opportunity_id for approval, _, _ in due},
        )
    }
    directory = GroupDirectory()
    for approval, step, escalate in due:
        remind = _dedupe_prefix("reminder", approval, step["index"]) not in sent
        escalate = escalate and _dedupe_prefix("escalation", approval, step["index"]) not in sent
        row = directory.settings_of(step["group"]) if escalate else None
        escalate = bool(row and row.escalation_group)
        if not (remind or escalate):
            continue
        with transaction.atomic():
            if remind:
                reminders += bool(notify_step(approval, topic="reminder", directory=directory))
            if escalate and row is not None and row.escalation_group is not None:
                escalations += bool(
                    notify_step(
                        approval,
                        topic="escalation",
                        group=row.escalation_group.name,
                        directory=directory,
                    )
                )
    return {"reminders": reminders, "escalations": escalations}
