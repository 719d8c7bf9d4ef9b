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
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import IntegrityError, transaction
from django.db.models import Prefetch, Q
from django.utils import timezone

from core import errors
from handoffs.services import chat_enqueue, email_enqueue
from opportunities.models import Approval, LineItem, Opportunity
from opportunities.stages import Stage

from . import routing
from .calendar import add_business_hours
from .models import (
    ApprovalDecision,
    ApprovalPolicy,
    ApprovalRule,
    ApprovalStep,
    ApproverGroup,
    Notification,
)
from .selectors import (
    current_policy,
    current_step,
    deal_facts,
    decisions_of,
    policy_rules,
    route_of,
    sla_due,
    subject_field,
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

OPEN_STAGES = (
    Stage.PROSPECTING,
    Stage.QUALIFICATION,
    Stage.PROPOSAL,
    Stage.NEGOTIATION,
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


def policy_publish(policy: ApprovalPolicy, *, at: dt.datetime | None = None) -> ApprovalPolicy:
    """Publish a draft: it gets the next version and is in force from ``at`` (now).
    Pending approvals keep the route they were submitted with."""
    with transaction.atomic():
        ApprovalPolicy.objects.select_for_update().filter(version__isnull=False).exists()
        locked = ApprovalPolicy.objects.select_for_update().get(pk=policy.pk)
        if locked.version is not None:
            raise errors.InvalidInput("This version is already published: copy it to a draft.")
        locked.version = _next_version()
        locked.effective_at = at or timezone.now()
        locked.save(update_fields=["version", "effective_at"])
    return locked


def policy_copy_to_draft(policy: ApprovalPolicy | None, *, actor: Any = None) -> ApprovalPolicy:
    """A new draft with the rules and steps of ``policy`` (None: an empty draft)."""
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


def _decimal(value: Any, field: str) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        out = Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise errors.InvalidInput.on(field, "Enter a number.") from exc
    if not out.is_finite() or out < 0:
        raise errors.InvalidInput.on(field, "Enter a number ≥ 0.")
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


def policy_save(definition: Mapping[str, Any], *, actor: Any) -> ApprovalPolicy:
    """Save ``definition`` (``{"name", "rules": [{"name", "conditions": {...}, "steps":
    [{"group", "mode", "count", "sla_hours"}]}]}``) as the next published version.
    Raises ``InvalidInput`` with a FieldError per problem (unknown group, bad mode...)."""
    from opportunities.stages import OpportunityType

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
        cond = rule.get("conditions") or {}
        if not isinstance(cond, Mapping) or set(cond) - CONDITION_KEYS:
            problems.append(
                errors.field_error(
                    "unknown_parameter",
                    f"{at}.conditions",
                    f"Conditions are: {', '.join(sorted(CONDITION_KEYS))}.",
                )
            )
            continue
        try:
            row: dict[str, Any] = {
                "name": str(rule["name"]).strip()[:200],
                "amount_gte": _decimal(cond.get("amount_gte"), f"{at}.conditions.amount_gte"),
                "max_discount_pct_gte": _decimal(
                    cond.get("max_discount_pct_gte"), f"{at}.conditions.max_discount_pct_gte"
                ),
                "term_months_gt": cond.get("term_months_gt"),
                "type_in": list(cond.get("type_in") or []),
                "currency_not_reporting": bool(cond.get("currency_not_reporting")),
                "billing_country_in": [
                    str(c).upper() for c in cond.get("billing_country_in") or []
                ],
            }
        except errors.DomainError as exc:
            problems.extend(exc.errors)
            continue
        if row["term_months_gt"] is not None and (
            not isinstance(row["term_months_gt"], int) or row["term_months_gt"] < 0
        ):
            problems.append(
                errors.field_error(
                    "invalid", f"{at}.conditions.term_months_gt", "Whole months ≥ 0."
                )
            )
        bad_types = [t for t in cond.get("type_in") or [] if t not in OpportunityType.values]
        if bad_types:
            problems.append(
                errors.field_error(
                    "invalid_choice",
                    f"{at}.conditions.type_in",
                    f"Types are: {', '.join(OpportunityType.values)}.",
                )
            )
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
            group = Group.objects.filter(name=str(step.get("group") or "")).first()
            if group is None:
                unknown_group = True
                problems.append(
                    errors.field_error("unknown_group", f"{sat}.group", "No such group.")
                )
            mode = step.get("mode", "any")
            if mode not in routing.MODES:
                problems.append(errors.field_error("invalid_choice", f"{sat}.mode", "any or all."))
            count, sla = step.get("count", 1), step.get("sla_hours", routing.DEFAULT_SLA_HOURS)
            if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 50:
                problems.append(errors.field_error("invalid", f"{sat}.count", "1 to 50."))
            if not isinstance(sla, int) or isinstance(sla, bool) or not 1 <= sla <= 1000:
                problems.append(errors.field_error("invalid", f"{sat}.sla_hours", "1 to 1000."))
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
        return policy_publish(draft)


def policy_definition(policy: ApprovalPolicy) -> dict[str, Any]:
    """``policy`` in the API's shape (see :func:`policy_save`)."""
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
            for r in policy.rules.prefetch_related(
                Prefetch("steps", queryset=ApprovalStep.objects.select_related("group"))
            )
        ],
    }


def preview_changes(draft: ApprovalPolicy) -> list[dict[str, Any]]:
    """The open and pending deals whose route would differ under ``draft``: for each,
    ``{"opportunity", "stage", "now", "draft"}`` (route labels). A pending deal keeps
    its frozen route; it is listed so RevOps see whom a resubmission would reach."""
    now_rules = policy_rules(current_policy())
    draft_rules = policy_rules(draft)
    deals = (
        Opportunity.objects.filter(stage__in=(*OPEN_STAGES, Stage.PENDING_APPROVAL))
        .select_related("account")
        .prefetch_related(
            Prefetch("line_items", queryset=LineItem.objects.select_related("product"))
        )
        .order_by("id")
    )
    changed = []
    for opp in deals:
        facts = deal_facts(opp, opp.line_items.all())
        before = routing.route(facts, now_rules)
        after = routing.route(facts, draft_rules)
        if before != after:
            changed.append(
                {
                    "opportunity": opp,
                    "stage": opp.stage,
                    "now": routing.route_label(before),
                    "draft": routing.route_label(after),
                }
            )
    return changed


# --- steps ----------------------------------------------------------------------------------


def is_member(user: Any, group: str) -> bool:
    """May ``user`` decide a step of ``group``? RevOps' step: anyone with the approve
    permission; any other group: its members."""
    if not (user and user.is_authenticated and user.is_active):
        return False
    if group == routing.REVOPS_GROUP:
        return bool(user.has_perm("opportunities.approve_opportunity"))
    return user.groups.filter(name=group).exists()


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
    need = int(step.get("count") or 1) if step.get("mode") == "all" else 1
    have = (
        decisions_of(approval).filter(step_index=approval.step_index, decision="approved").count()
    )
    if have < need:
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


def members_of(group: str) -> list[Any]:
    User = get_user_model()
    qs = User.objects.filter(is_active=True)
    if group == routing.REVOPS_GROUP:
        qs = qs.filter(Q(groups__name=group) | Q(is_superuser=True))
    else:
        qs = qs.filter(groups__name=group)
    return list(qs.distinct().order_by("id"))


def _is_amendment(subject: Any) -> bool:
    return subject_field(subject) == "amendment"


def _subject_name(subject: Any) -> str:
    """ "Acme renewal" for a Closed-Won request, "Amendment of Acme renewal" (or
    "Cancellation of …") for an amendment."""
    name = subject.opportunity.name
    if not _is_amendment(subject):
        return name
    return f"{'Cancellation' if subject.kind == 'cancellation' else 'Amendment'} of {name}"


def notify_step(approval: Any, *, topic: str = "approval", group: str | None = None) -> int:
    """Tell the members of the current step (or ``group``) of a Closed-Won Approval or
    an Amendment by e-mail — a request's with signed approve / reject links, an
    amendment's with the link to its page — and on the group's chat webhook if it has
    one. The deal's owner and the requester are never told to decide. Rows in the
    outbox, idempotent per request, step, topic and member. Returns how many e-mails."""
    from .links import decision_link

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
    for member in members_of(target):
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
        elif topic != "escalation" or is_member(member, step["group"]):
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
    settings_row = ApproverGroup.objects.filter(group__name=target).first()
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


def sla_sweep(now: dt.datetime | None = None) -> dict[str, int]:
    """Remind the members of every step past its SLA — of Closed-Won requests and of
    amendments — and escalate to the group's escalation group at twice the SLA (business
    hours). Idempotent: one reminder and one escalation per request and step (the outbox
    dedupes). Returns the counts."""
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
    for approval in pending:
        step = current_step(approval)
        if step is None:
            continue
        started: dt.datetime = approval.step_started_at or (
            approval.submitted_at if hasattr(approval, "submitted_at") else approval.requested_at
        )
        sla = int(step.get("sla_hours") or 8)
        with transaction.atomic():
            if now >= add_business_hours(started, sla):
                reminders += bool(notify_step(approval, topic="reminder"))
            if now >= add_business_hours(started, 2 * sla):
                row = (
                    ApproverGroup.objects.filter(group__name=step["group"])
                    .select_related("escalation_group")
                    .first()
                )
                if row and row.escalation_group:
                    escalations += bool(
                        notify_step(approval, topic="escalation", group=row.escalation_group.name)
                    )
    return {"reminders": reminders, "escalations": escalations}
