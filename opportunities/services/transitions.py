"""Transitions: the only code that changes a stage.

:func:`opportunity_transition` opens one transaction, locks the row, checks the stage,
the permission and segregation of duties, the required reasons and the gate (every unmet
requirement at once), runs the django-fsm-2 transition, bumps ``version``, writes one
StageChange with the gate snapshot, keeps the Approval, and on ``approve`` writes the
handoffs and the commission credit (``handoffs.services``, the one call from this app
into the handoffs app) and the decision e-mail, all in that same transaction.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import django_fsm
from django.conf import settings
from django.db import IntegrityError, OperationalError, transaction
from django.utils import timezone

from amendments.ledger import booking_record_approval
from approvals import services as approval_steps
from core import errors
from core.db import bound_parameters
from currencies.conversion import to_reporting
from events.services import event_record
from handoffs.payloads import lifecycle_data
from handoffs.services import (
    deliveries_create_for_events,
    email_enqueue,
    endpoints_active,
    handoffs_create_for_approval,
)

from .. import gate, notifications, policies
from ..models import Approval, Decision, Opportunity, StageChange
from ..selectors.approvals import pending_approval_of
from ..selectors.opportunities import line_items_loaded
from ..snapshot import values_snapshot
from ..stages import TRANSITIONS, LossReason, Source
from .common import _map_lock_error

# The webhook events each transition causes (subscribers choose theirs).
LIFECYCLE_EVENTS: dict[str, tuple[str, ...]] = {
    "submit_for_approval": ("deal.submitted",),
    "approve": ("deal.approved", "deal.won"),
    "reject": ("deal.rejected",),
    "mark_lost": ("deal.lost",),
    "reopen": ("deal.reopened",),
}


def lock_opportunity(pk: Any) -> Opportunity:
    """The opportunity ``pk`` locked for update (``not_found`` when there is none)."""
    try:
        return (
            Opportunity.objects.select_for_update(of=("self",))
            .select_related("primary_contact", "account", "owner")
            .get(pk=pk)
        )
    except (Opportunity.DoesNotExist, ValueError, TypeError) as exc:
        raise errors.NotFound("No such opportunity.") from exc


def _transition_params(
    name: str, reason: str, loss_reason: str, loss_detail: str
) -> dict[str, Any]:
    if name == "reject" and not (reason or "").strip():
        raise errors.ReasonRequired(
            "Say why the deal is rejected: the rep sees it.",
            errors=[errors.FieldError("reason_required", "reason", "Enter a reason.")],
        )
    if name == "mark_lost":
        loss_reason = (loss_reason or "").strip()
        if not loss_reason:
            raise errors.ReasonRequired(
                "Choose why the deal was lost.",
                errors=[
                    errors.FieldError("reason_required", "loss_reason", "Choose a loss reason.")
                ],
            )
        if loss_reason not in LossReason.values:
            raise errors.InvalidInput(
                errors=[
                    errors.FieldError(
                        "invalid_choice",
                        "loss_reason",
                        f"Choose one of: {', '.join(LossReason.values)}.",
                    )
                ]
            )
        if loss_reason == LossReason.OTHER and not (loss_detail or "").strip():
            raise errors.ReasonRequired(
                "Describe the loss reason.",
                errors=[
                    errors.FieldError(
                        "reason_required", "loss_detail", "Describe why the deal was lost."
                    )
                ],
            )
        return {"loss_reason": loss_reason, "loss_detail": (loss_detail or "").strip()}
    return {}


def opportunity_transition(
    *,
    opportunity: Opportunity | int,
    name: str,
    actor: Any,
    source: str = Source.UI,
    reason: str = "",
    loss_reason: str = "",
    loss_detail: str = "",
    expected_version: int | None = None,
    expected_step: tuple[int, int] | None = None,
) -> Opportunity:
    """Run transition ``name``: the only code that changes a stage.

    In one transaction, with the row locked: stage check, permission and segregation of
    duties, required reasons, the gate (every unmet requirement at once), the FSM
    transition, ``version`` +1, one StageChange with the gate snapshot, the Approval
    bookkeeping, and on ``approve`` the handoffs and commission credit.

    ``expected_step`` — ``(approval id, step index)``, a decision naming one step of one
    request, as an e-mail link does: that request must still be the pending one and wait
    at that step under the lock, else ``concurrent_update`` (409) and nothing changes
    (the step was decided meanwhile; the decision must not land on the next one, nor on
    a resubmitted request).
    """
    spec = TRANSITIONS.get(name)
    if spec is None:
        raise errors.NotFound(f"There is no transition called {name!r}.")
    pk = opportunity.pk if isinstance(opportunity, Opportunity) else opportunity
    try:
        with transaction.atomic():
            locked = lock_opportunity(pk)
            if expected_version is not None and locked.version != expected_version:
                raise errors.StaleVersion(
                    f"The deal is at version {locked.version}, not {expected_version}."
                )
            if locked.stage not in spec.sources:
                raise errors.TransitionNotAllowed(
                    f"{spec.label} is not possible from {locked.stage_label}."
                )
            approval = pending_approval_of(locked, for_update=True)
            if expected_step is not None and (
                approval is None or (approval.pk, approval.step_index) != expected_step
            ):
                raise errors.ConcurrentUpdate(
                    "This step was decided meanwhile: open the deal to see where it stands."
                )
            denied = policies.transition_permission_error(name, locked, actor, approval)
            if denied is not None:
                raise denied
            params = _transition_params(name, reason, loss_reason, loss_detail)

            if spec.target in gate.CLOSED_WON_TARGETS:
                line_items_loaded(locked)  # once, for the gate, the snapshot and the payloads
            facts = gate.gather_one(locked, target=spec.target)
            unmet = gate.evaluate(facts, spec.target)
            if unmet:
                raise errors.GateFailed(
                    f"{len(unmet)} requirement{'s' if len(unmet) != 1 else ''} not met for {spec.label}.",
                    errors=unmet,
                )
            locked._gate_unmet = {spec.target: unmet}  # type: ignore[attr-defined]
            now = timezone.now()
            step = approval_steps.current_step(approval) if approval is not None else None
            if name == "approve" and approval is not None and step is not None:
                approval.opportunity = locked
                last = approval_steps.step_approve(
                    approval, actor=actor, now=now, comment=(reason or "").strip(), via=source
                )
                if not last:
                    # A step that is not the last: recorded, the deal stays pending.
                    approval_steps.notify_decision(
                        approval, actor=actor, decision="approved", step=step
                    )
                    event_record(instance=locked, change="approval_step", actor=actor)
                    return locked
            elif name == "reject" and approval is not None and step is not None:
                approval_steps.step_reject(
                    approval, actor=actor, now=now, reason=reason.strip(), via=source
                )
            from_stage = locked.stage
            try:
                getattr(locked, name)(**params)
            except django_fsm.TransitionNotAllowed as exc:  # a condition changed under us
                raise errors.TransitionNotAllowed(str(exc)) from exc
            locked.version += 1
            locked._history_user = actor  # type: ignore[attr-defined]
            try:
                # No savepoint: a failed save ends the whole transition (rolled back by the
                # atomic block above), so there is nothing to go back to.
                locked.save()
            except IntegrityError as exc:
                raise _claim_conflict(exc, locked) from exc

            stage_reason = reason.strip() if reason else ""
            if name == "mark_lost":
                stage_reason = params["loss_detail"] or LossReason(params["loss_reason"]).label
            gate_snapshot = {
                "target": spec.target,
                "passed": True,
                "unmet": [],
                "facts": facts.snapshot(),
            }
            # Bound: the facts list every line item, and quoting them into the SQL text
            # grew with each one.
            with bound_parameters():
                change = StageChange.objects.create(
                    opportunity=locked,
                    transition=name,
                    from_stage=from_stage,
                    to_stage=locked.stage,
                    actor=actor,
                    source=source,
                    reason=stage_reason,
                    gate_snapshot=gate_snapshot,
                    at=now,
                )
            # Read once for the handoffs and the lifecycle webhooks of the same change.
            endpoints = endpoints_active() if name in LIFECYCLE_EVENTS else None
            approval = _record_approval(
                name, locked, actor, approval, stage_reason, now, endpoints=endpoints
            )
            event_record(
                instance=locked,
                change="approved" if name == "approve" else "stage_changed",
                actor=actor,
            )
            if approval is not None and step is not None and name in ("approve", "reject"):
                approval.opportunity = locked
                approval_steps.notify_decision(
                    approval,
                    actor=actor,
                    decision="approved" if name == "approve" else "rejected",
                    step=step,
                    comment=stage_reason,
                )
            elif name == "submit_for_approval" and approval is not None and len(approval.route) > 1:
                # A routed request: its first step's members hear of it (a request with only
                # the built-in RevOps step waits in the queue, as it always has).
                approval.opportunity = locked
                approval_steps.notify_step(approval)
            if name in notifications.DECISIONS:
                # The rep hears of the decision through the outbox, one message per decision.
                email_enqueue(
                    **notifications.decision_email(stage_change=change, approval=approval),
                    opportunity=locked,
                    topic="decision",
                    dedupe_key=f"decision:{change.pk}",
                )
            if name in LIFECYCLE_EVENTS:
                deliveries_create_for_events(
                    event_types=LIFECYCLE_EVENTS[name],
                    data=lifecycle_data(
                        opportunity=locked,
                        actor=actor,
                        from_stage=from_stage,
                        to_stage=locked.stage,
                        reason=stage_reason,
                    ),
                    opportunity=locked,
                    occurred_at=now,
                    endpoints=endpoints,
                )
    except OperationalError as exc:
        raise _map_lock_error(exc) from exc
    # No refresh: every changed value (stage, version, closed_at, updated_at) was set on
    # this very instance under the row lock, so a re-read would only cost a round trip.
    return locked


def _claim_conflict(exc: IntegrityError, opportunity: Opportunity) -> errors.DomainError:
    """A concurrent deal claimed the same contract ID / PO between our check and our save."""
    text = str(exc)
    if "opp_contract_id_claimed_once" in text or "contract_id" in text:
        return errors.GateFailed(
            "Another deal claimed this contract ID at the same moment.",
            errors=[
                errors.FieldError(
                    gate.Code.CONTRACT_ID_IN_USE,
                    "contract_id",
                    f"Contract ID {opportunity.contract_id} is already on another won or pending deal.",
                )
            ],
        )
    if "opp_po_number_claimed_once_per_account" in text or "po_number" in text:
        return errors.GateFailed(
            "Another deal claimed this PO number at the same moment.",
            errors=[
                errors.FieldError(
                    gate.Code.PO_NUMBER_IN_USE,
                    "po_number",
                    f"PO number {opportunity.po_number} is already on another won or pending deal for this account.",
                )
            ],
        )
    return errors.ConcurrentUpdate("The deal was changed at the same moment; try again.")


_DECISION_FIELDS = [
    field.name
    for field in Approval._meta.concrete_fields
    if not field.primary_key and field.name != "snapshot"
]


def _record_approval(
    name: str,
    opportunity: Opportunity,
    actor: Any,
    approval: Approval | None,
    reason: str,
    now: dt.datetime,
    *,
    endpoints: list[Any] | None = None,
) -> Approval | None:
    if name == "submit_for_approval":
        route, policy_version = approval_steps.route_for_submission(opportunity)
        snapshot = values_snapshot(opportunity)  # reads the documents: outside the block
        try:
            with bound_parameters():
                return Approval.objects.create(
                    opportunity=opportunity,
                    submitted_by=actor,
                    submitted_at=now,
                    snapshot=snapshot,
                    route=route,
                    policy_version=policy_version,
                    step_started_at=now,
                    step_due_at=approval_steps.step_due_at(now, route[0]),
                )
        except IntegrityError as exc:
            raise errors.ConcurrentUpdate("The deal was submitted at the same moment.") from exc
    if approval is None:
        return None
    if name == "approve":
        approval.decision = Decision.APPROVED
        # The snapshot stays as submitted: what RevOps approved is what is handed off.
        # Frozen beside it: the amount in the reporting currency and the rate used.
        converted = to_reporting(opportunity.amount, opportunity.currency, now.date())
        approval.reporting_currency = settings.REPORTING_CURRENCY
        approval.reporting_amount = converted.amount
        approval.reporting_rate = converted.rate
    elif name == "reject":
        approval.decision = Decision.REJECTED
    elif name in ("withdraw", "mark_lost"):
        approval.decision = Decision.WITHDRAWN
    else:  # pragma: no cover - no other transition leaves pending_approval
        return approval
    approval.decided_by = actor
    approval.decided_at = now
    approval.reason = reason
    approval.step_due_at = None  # no step waits any more: nothing can be overdue
    # Every column but the snapshot, which a decision never changes: re-writing it cost
    # a JSON encoding of every line item on each decision.
    approval.save(update_fields=_DECISION_FIELDS)
    if name == "approve":
        # Same transaction: a rolled-back approval leaves no handoff and no commission credit.
        handoffs_create_for_approval(approval=approval, endpoints=endpoints)
        booking_record_approval(approval=approval)
    return approval
