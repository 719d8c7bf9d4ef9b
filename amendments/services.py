"""Every write to amendments: request, decide (approve, reject, withdraw) and apply.

Rules enforced here:

* only a Closed-Won deal is amended or cancelled; its owner or RevOps request a change,
  only RevOps a cancellation; a reason is always required (``reason_required``);
* the proposed values are gated like a Closed-Won request (same rules, same codes,
  ``gate_failed``); the currency never changes (``currency_change_refused``): billing
  and commissions are in the booked currency; a well-formed proposal that is not a
  valid amendment is ``amendment_invalid`` (422);
* one pending amendment per deal (``amendment_pending``, 409), held by the deal's row
  lock and a partial unique index;
* the route is the approval policy's (the same pure ``approvals.routing.route`` as a
  Closed-Won request, on the *proposed* values), frozen on the amendment with the policy
  version at request time; a cancellation keeps the built-in RevOps step (approved by a
  second RevOps member: the requester never approves);
* :func:`amendment_decide` is the one decision seam and runs the approvals step engine:
  a member of the current step's group records the step (``ApprovalDecision``; ``any``
  one member or ``all`` of N); the requester and the deal's owner never decide
  (``self_approval_forbidden``), one person never approves two steps
  (``already_decided``, 409), a step that is not theirs is ``permission_denied``; the
  amendment is applied only when the last step is approved; reject at any step with a
  reason; a decided amendment is never decided again (``already_decided``, 409);
* applying is one transaction: the deal's new values (version +1, field history), the
  AmendmentDecision row, a Booking with the delta, the commission credit delta, the
  ``handoff.<kind>.amended|cancelled`` and ``deal.amended|cancelled`` deliveries.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, OperationalError, transaction
from django.db.models import Sum
from django.utils import timezone

from approvals import routing
from approvals import selectors as approval_selectors
from approvals import services as approval_steps
from core import errors
from events.services import event_record
from handoffs.models import CommissionCredit, CreditKind, HandoffKind
from handoffs.services import (
    commission_credit_amount,
    commission_rate_for,
    deliveries_create_for_event,
)
from opportunities import gate, policies
from opportunities.models import Contact, LineItem, Opportunity, Product, StageChange
from opportunities.selectors import line_items_loaded
from opportunities.services import opportunity_update
from opportunities.services.line_items import (
    parse_line_items,
    refuse_extra_minor_units,
    refuse_inactive_products,
)
from opportunities.services.transitions import lock_opportunity
from opportunities.stages import GATED_FIELDS, Source, Stage

from . import payloads
from .ledger import booking_create, opportunity_state, saved_line_items, state_delta
from .models import (
    Amendment,
    AmendmentDecision,
    AmendmentKind,
    AmendmentStatus,
    BookingKind,
)
from .selectors import booked_total

# The fields an amendment may propose (the gated ones).
AMENDABLE_FIELDS = GATED_FIELDS
DECISIONS = ("approve", "reject", "withdraw")
CURRENCY_CHANGE_REFUSED = "currency_change_refused"
NO_CHANGE = "no_change"


# --- the approval route ---------------------------------------------------------------


def _route(
    kind: str, proposed: Opportunity, lines: Sequence[LineItem] | None
) -> tuple[list[dict[str, Any]], int | None]:
    """The route of the proposed values and the policy version it comes from. A
    cancellation has nothing to route: the built-in RevOps step only."""
    if kind == AmendmentKind.CANCELLATION:
        return routing.route_dicts([routing.CANCELLATION_STEP]), None
    return approval_selectors.route_for_values(proposed, lines or [])


def step_permission_error(name: str, amendment: Amendment, actor: Any) -> errors.DomainError | None:
    """Who may approve or reject the current step: a member of its group (the shared
    step rules of ``policies.step_permission_error``) who is neither the requester nor
    the deal's owner (segregation of duties, at every step). Someone outside the step's
    group is told that first (``permission_denied``), as for a Closed-Won request."""
    denied = policies.step_permission_error(name, actor, amendment)
    if isinstance(denied, errors.PermissionDenied):
        return denied
    if actor.pk in (amendment.requested_by_id, amendment.opportunity.owner_id):
        return errors.SelfApprovalForbidden(
            "Someone other than the requester and the deal's owner must decide this amendment."
        )
    return denied


# --- the proposal -----------------------------------------------------------------------


def _invalid(code: str, field: str, message: str) -> errors.AmendmentInvalid:
    return errors.AmendmentInvalid(message, errors=[errors.FieldError(code, field, message)])


def _proposed(
    opportunity: Opportunity,
    changes: Mapping[str, Any],
    line_items: Sequence[Mapping[str, Any]] | None,
) -> tuple[Opportunity, list[dict[str, Any]] | None, list[dict[str, Any]], list[LineItem]]:
    """An unsaved copy of ``opportunity`` with ``changes`` applied, the parsed line items
    (None: unchanged), those line items as :func:`opportunity_state` takes them, and as
    (unsaved) LineItems with their products for routing. Raises
    ``InvalidInput`` for an unknown or non-amendable field, a bad value, a currency
    change, or a proposal that changes nothing."""
    unknown = sorted(set(changes) - set(AMENDABLE_FIELDS))
    if unknown:
        raise errors.AmendmentInvalid(
            errors=[
                errors.FieldError(
                    "unknown_field", f"changes.{name}", "This field cannot be amended."
                )
                for name in unknown
            ]
        )
    if "currency" in changes and changes["currency"] != opportunity.currency:
        raise _invalid(
            CURRENCY_CHANGE_REFUSED,
            "changes.currency",
            "The currency of a won deal cannot change: cancel it and book a new deal.",
        )
    proposed = copy.copy(opportunity)
    proposed._state = copy.copy(opportunity._state)
    proposed.__dict__.pop("_prefetched_objects_cache", None)
    for name, value in changes.items():
        field: Any = Opportunity._meta.get_field(name)
        if field.is_relation:
            if value in ("", None):
                setattr(proposed, field.attname, None)
            elif isinstance(value, int) and not isinstance(value, bool):
                setattr(proposed, field.attname, value)
            else:
                raise _invalid("invalid", f"changes.{name}", "Enter a valid id.")
            field.delete_cached_value(proposed)
        elif isinstance(value, float | bool | list | dict):
            # Money is a decimal string (a binary float is not money); no JSON
            # true/false or structure is a field value.
            raise _invalid("invalid", f"changes.{name}", "Send a string or a whole number.")
        else:
            try:
                setattr(proposed, name, field.to_python(value))
            except ValidationError as exc:
                raise _invalid("invalid", f"changes.{name}", " ".join(exc.messages)) from exc
    if proposed.primary_contact_id is not None:
        proposed.primary_contact = Contact.objects.filter(pk=proposed.primary_contact_id).first()
        if proposed.primary_contact is None:
            raise _invalid("does_not_exist", "changes.primary_contact", "Unknown contact.")
    try:
        proposed.full_clean(exclude=["stage", "version", "owner", "name"], validate_unique=False)
    except ValidationError as exc:
        raise errors.InvalidInput(
            errors=[
                errors.FieldError(
                    e.code or "invalid", f"changes.{name}", str(e.message % (e.params or {}))
                )
                for name, errs in exc.error_dict.items()
                for e in errs
            ]
        ) from exc

    parsed = None
    if line_items is not None:
        parsed = parse_line_items(line_items)
        refuse_extra_minor_units(parsed, proposed.currency)
        keep = {li.product_id for li in opportunity.line_items.all()}
        refuse_inactive_products(parsed, keep=keep)
        products = Product.objects.in_bulk({p["product_id"] for p in parsed})
        items = [
            {
                "sku": p["sku"],
                "name": products[p["product_id"]].name if p["product_id"] in products else "",
                "seats": p["seats"],
                "unit_price": p["unit_price"],
            }
            for p in parsed
        ]
        lines = [
            LineItem(
                product=products[p["product_id"]], seats=p["seats"], unit_price=p["unit_price"]
            )
            for p in parsed
            if p["product_id"] in products
        ]
    else:
        items = saved_line_items(opportunity)
        lines = list(line_items_loaded(opportunity))
    return proposed, parsed, items, lines


def _gate(proposed: Opportunity, items: list[dict[str, Any]]) -> list[errors.FieldError]:
    facts = gate.gather_one(
        proposed,
        target=Stage.CLOSED_WON,
        line_items=[(i["seats"], i["unit_price"]) for i in items],
    )
    # A won deal's close date is in the past; the rule that it is not in the future still
    # applies to a proposed one.
    return gate.evaluate(facts, Stage.CLOSED_WON)


def _preview(
    locked: Opportunity,
    kind: str,
    changes: Mapping[str, Any],
    line_items: Sequence[Mapping[str, Any]] | None,
) -> dict[str, Any]:
    try:
        return _preview_checked(locked, kind, changes, line_items)
    except errors.AmendmentInvalid:
        raise
    except errors.InvalidInput as exc:
        # The request was well formed (the API checked its shape): what is wrong is the
        # amendment itself (an unknown product or contact, a value the deal cannot take).
        raise errors.AmendmentInvalid(exc.detail, errors=exc.errors) from exc


def _preview_checked(
    locked: Opportunity,
    kind: str,
    changes: Mapping[str, Any],
    line_items: Sequence[Mapping[str, Any]] | None,
) -> dict[str, Any]:
    before = opportunity_state(locked, saved_line_items(locked))
    if kind == AmendmentKind.CANCELLATION:
        route, policy_version = _route(kind, locked, None)
        return {
            "before": before,
            # No state after a cancellation: null everywhere (model, API, payloads).
            "after": None,
            "delta": state_delta(before, None),
            "unmet": [],
            "parsed": None,
            "proposed": locked,
            "route": route,
            "policy_version": policy_version,
        }
    proposed, parsed, items, lines = _proposed(locked, changes, line_items)
    after = opportunity_state(proposed, items)
    delta = state_delta(before, after)
    if after == before:
        raise _invalid(NO_CHANGE, "changes", "The proposed values are the deal's current values.")
    route, policy_version = _route(kind, proposed, lines)
    return {
        "before": before,
        "after": after,
        "delta": delta,
        "unmet": _gate(proposed, items),
        "parsed": parsed,
        "proposed": proposed,
        "route": route,
        "policy_version": policy_version,
    }


def _check_kind_and_reason(kind: str, reason: str) -> str:
    if kind not in AmendmentKind.values:
        raise _invalid(
            "invalid_choice", "kind", f"Choose one of: {', '.join(AmendmentKind.values)}."
        )
    reason = (reason or "").strip()
    if not reason:
        raise errors.ReasonRequired(
            "Say why the deal changes: approvers and the audit trail see it.",
            errors=[errors.FieldError("reason_required", "reason", "Enter a reason.")],
        )
    return reason


def _request_permission_error(
    kind: str, locked: Opportunity, actor: Any
) -> errors.DomainError | None:
    if kind == AmendmentKind.CANCELLATION:
        if not policies.is_revops(actor):
            return errors.PermissionDenied("Only RevOps cancel a won deal.")
        return None
    if not policies.can_change(actor, locked):
        return errors.PermissionDenied("Only the deal's owner or RevOps can amend it.")
    return None


def amendment_dry_run(
    *,
    opportunity: Opportunity | int,
    actor: Any,
    kind: str,
    changes: Mapping[str, Any] | None = None,
    line_items: Sequence[Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """What a request would give, without writing: ``{"passes", "unmet": [FieldError
    dicts], "route": [{"group", "rule", "mode", "count", "sla_hours", "why"}],
    "route_label": "RevOps → Finance (amount ≥ 100,000)", "policy_version", "before",
    "after" (null for a cancellation), "delta"}``. The route is the policy's for the
    proposed values. Raises what the request would raise before the gate (permission,
    stage, bad input, currency change)."""
    if kind not in AmendmentKind.values:
        raise _invalid(
            "invalid_choice", "kind", f"Choose one of: {', '.join(AmendmentKind.values)}."
        )
    pk = opportunity.pk if isinstance(opportunity, Opportunity) else opportunity
    with transaction.atomic():
        locked = lock_opportunity(pk)
        _check_request(kind, locked, actor)
        preview = _preview(locked, kind, changes or {}, line_items)
        transaction.set_rollback(True)
    return {
        "passes": not preview["unmet"],
        "unmet": [u.as_dict() for u in preview["unmet"]],
        "route": preview["route"],
        "route_label": routing.route_label(preview["route"]),
        "policy_version": preview["policy_version"],
        "before": preview["before"],
        "after": preview["after"],
        "delta": preview["delta"],
    }


def _check_request(kind: str, locked: Opportunity, actor: Any) -> None:
    if not (actor and actor.is_authenticated and actor.is_active):
        raise errors.PermissionDenied("Sign in first.")
    denied = _request_permission_error(kind, locked, actor)
    if denied is not None:
        raise denied
    if locked.stage != Stage.CLOSED_WON:
        raise errors.TransitionNotAllowed(
            f"Only a Closed-Won deal can be amended or cancelled; this one is {locked.stage_label}."
        )


def amendment_request(
    *,
    opportunity: Opportunity | int,
    actor: Any,
    kind: str,
    reason: str,
    changes: Mapping[str, Any] | None = None,
    line_items: Sequence[Mapping[str, Any]] | None = None,
) -> Amendment:
    """Request a change (owner or RevOps) or a cancellation (RevOps) of a Closed-Won deal.

    ``changes``: ``{field: value}`` over the gated fields (foreign keys as ids, money
    and dates as strings); ``line_items``: the whole new list (``{"product", "seats",
    "unit_price"}``) or None to keep them. Raises ``permission_denied``,
    ``transition_not_allowed`` (not Closed-Won), ``reason_required``,
    ``amendment_invalid`` (422: ``unknown_field``, ``currency_change_refused``,
    ``no_change``, an unknown product or contact, a value the deal cannot take),
    ``gate_failed`` (every unmet requirement of the proposed values),
    ``amendment_pending``."""
    reason = _check_kind_and_reason(kind, reason)
    changes = dict(changes or {})
    if kind == AmendmentKind.CANCELLATION and (changes or line_items is not None):
        raise _invalid("invalid", "changes", "A cancellation proposes no values.")
    pk = opportunity.pk if isinstance(opportunity, Opportunity) else opportunity
    try:
        with transaction.atomic():
            locked = lock_opportunity(pk)
            _check_request(kind, locked, actor)
            if Amendment.objects.filter(
                opportunity=locked, status=AmendmentStatus.PENDING
            ).exists():
                raise errors.AmendmentPending(
                    "This deal already has a pending amendment: decide or withdraw it first."
                )
            preview = _preview(locked, kind, changes, line_items)
            if preview["unmet"]:
                unmet = preview["unmet"]
                raise errors.GateFailed(
                    f"{len(unmet)} requirement{'s' if len(unmet) != 1 else ''} not met by the proposed values.",
                    errors=unmet,
                )
            now = timezone.now()
            try:
                with transaction.atomic():
                    amendment = Amendment.objects.create(
                        opportunity=locked,
                        kind=kind,
                        reason=reason,
                        changes=_jsonable(changes),
                        line_items=_jsonable(line_items) if line_items is not None else None,
                        requested_by=actor,
                        requested_at=now,
                        route=preview["route"],
                        policy_version=preview["policy_version"],
                        step_index=0,
                        step_started_at=now,
                        before=preview["before"],
                        after=preview["after"],
                        delta=preview["delta"],
                    )
            except IntegrityError as exc:
                raise errors.AmendmentPending(
                    "An amendment was requested at the same moment."
                ) from exc
            if len(amendment.route) > 1:
                # A routed amendment: its first step's members hear of it (one with only
                # the RevOps step waits in the queue, like a Closed-Won request).
                amendment.opportunity = locked
                approval_steps.notify_step(amendment)
    except OperationalError as exc:
        raise errors.ConcurrentUpdate("The deal is being changed by someone else.") from exc
    return amendment


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Decimal | dt.date):
        return str(value)
    if hasattr(value, "pk"):
        return value.pk
    return value


# --- deciding -------------------------------------------------------------------------


def amendment_decide(
    *,
    amendment: Amendment | int,
    actor: Any,
    decision: str,
    reason: str = "",
    source: str = Source.UI,
) -> Amendment:
    """Decide an amendment: ``approve`` the current step of its route (the last step's
    approval applies it), ``reject`` at any step (reason required) or ``withdraw`` (the
    requester, the deal's owner or RevOps). The one seam every interface calls.

    Locks the deal, then the amendment (always in that order, as every deal write does),
    so two approvers of one step are serialised: both count on an ``all`` step, and of
    two approving the last ``any`` step at once one applies it and the other gets
    ``already_decided``. Raises ``not_found``, ``already_decided`` (409: decided, or the
    actor approved a step of it already), ``permission_denied`` (not a member of the
    current step's group), ``self_approval_forbidden`` (the requester or the deal's
    owner), ``reason_required``, ``transition_not_allowed`` (the deal is no longer
    Closed-Won), ``gate_failed`` (the proposed values no longer pass).
    """
    if decision not in DECISIONS:
        raise errors.NotFound(f"There is no amendment transition called {decision!r}.")
    if not (actor and actor.is_authenticated and actor.is_active):
        raise errors.PermissionDenied("Sign in first.")
    pk = amendment.pk if isinstance(amendment, Amendment) else amendment
    opportunity_id = (
        Amendment.objects.filter(pk=pk).values_list("opportunity_id", flat=True).first()
    )
    if opportunity_id is None:
        raise errors.NotFound("No such amendment.")
    reason = (reason or "").strip()
    try:
        with transaction.atomic():
            locked = lock_opportunity(opportunity_id)
            row = (
                Amendment.objects.select_for_update(of=("self",))
                .select_related("opportunity", "requested_by")
                .get(pk=pk)
            )
            row.opportunity = locked
            if row.status != AmendmentStatus.PENDING:
                raise errors.AlreadyDecided(f"This amendment is already {row.status}.")
            if decision == "withdraw":
                if actor.pk not in (
                    row.requested_by_id,
                    locked.owner_id,
                ) and not policies.is_revops(actor):
                    raise errors.PermissionDenied(
                        "Only the requester or the deal's owner can withdraw it."
                    )
                return _close(row, actor, AmendmentStatus.WITHDRAWN, reason, source)
            denied = step_permission_error(decision, row, actor)
            if denied is not None:
                raise denied
            step = approval_selectors.current_step(row) or {"index": row.step_index}
            if decision == "reject":
                if not reason:
                    raise errors.ReasonRequired(
                        "Say why the amendment is rejected: the requester sees it.",
                        errors=[errors.FieldError("reason_required", "reason", "Enter a reason.")],
                    )
                now = timezone.now()
                approval_steps.step_reject(row, actor=actor, now=now, reason=reason, via=source)
                row = _close(row, actor, AmendmentStatus.REJECTED, reason, source, now=now)
                approval_steps.notify_decision(
                    row, actor=actor, decision="rejected", step=step, comment=reason
                )
                return row
            if locked.stage != Stage.CLOSED_WON:
                raise errors.TransitionNotAllowed(
                    f"The deal is {locked.stage_label} now: the amendment can no longer be applied."
                )
            # Every step is decided on values that still pass the gate; recomputed from
            # the locked deal, as the deal may have changed since the request.
            preview = _preview(locked, row.kind, row.changes, row.line_items)
            if preview["unmet"]:
                unmet = preview["unmet"]
                raise errors.GateFailed(
                    f"{len(unmet)} requirement{'s' if len(unmet) != 1 else ''} not met by the proposed values.",
                    errors=unmet,
                )
            now = timezone.now()
            last = approval_steps.step_approve(
                row, actor=actor, now=now, comment=reason, via=source
            )
            if last:
                row = _apply(row, locked, actor, reason, source, preview=preview, now=now)
            approval_steps.notify_decision(row, actor=actor, decision="approved", step=step)
            return row
    except OperationalError as exc:
        raise errors.ConcurrentUpdate("The deal is being changed by someone else.") from exc


def amendment_withdraw(
    *, amendment: Amendment | int, actor: Any, source: str = Source.UI
) -> Amendment:
    """Withdraw a pending amendment (:func:`amendment_decide` with ``withdraw``)."""
    return amendment_decide(amendment=amendment, actor=actor, decision="withdraw", source=source)


def _close(
    row: Amendment,
    actor: Any,
    status: str,
    reason: str,
    source: str,
    *,
    now: dt.datetime | None = None,
) -> Amendment:
    now = now or timezone.now()
    row.status = status
    row.decided_by = actor
    row.decided_at = now
    row.decision_reason = reason
    row.save(update_fields=["status", "decided_by", "decided_at", "decision_reason"])
    AmendmentDecision.objects.create(
        amendment=row,
        step=row.step_index,
        decision=status,
        actor=actor,
        source=source,
        reason=reason,
        at=now,
    )
    return row


def _credit(
    *, opportunity: Opportunity, amendment: Amendment, kind: str, booking: Decimal, now: dt.datetime
) -> CommissionCredit | None:
    """The commission credit delta: ``booking`` × the rep's rate (negative when the deal
    shrank); None for a zero change."""
    rate = commission_rate_for(opportunity.owner_id)
    amount = commission_credit_amount(booking, rate)
    if amount == 0 and booking == 0:
        return None
    credit = CommissionCredit.objects.create(
        opportunity=opportunity,
        approval=None,
        kind=kind,
        amendment=amendment,
        rep_id=opportunity.owner_id,
        booking_amount=booking.quantize(Decimal("0.01")),
        currency=opportunity.currency,
        rate=rate,
        credit_amount=amount,
        created_at=now,
    )
    credit.rep = opportunity.owner
    return credit


def within_clawback(opportunity: Opportunity, today: dt.date) -> bool:
    """Whether a cancellation on ``today`` claws the commission back: within
    ``COMMISSION_CLAWBACK_DAYS`` of the contract start (or of the close, when the deal
    has no contract start)."""
    start = opportunity.contract_start_date or (
        opportunity.closed_at.date() if opportunity.closed_at else today
    )
    return (today - start).days <= settings.COMMISSION_CLAWBACK_DAYS


def _apply(
    row: Amendment,
    locked: Opportunity,
    actor: Any,
    reason: str,
    source: str,
    *,
    preview: Mapping[str, Any],
    now: dt.datetime,
) -> Amendment:
    """Apply an amendment whose last step was just approved (``preview``: the gate-checked
    proposal recomputed from the locked deal, frozen as what was approved)."""
    from_version = locked.version
    from_stage = locked.stage
    old_amount = locked.amount or Decimal(0)
    if row.kind == AmendmentKind.CHANGE:
        locked = opportunity_update(
            opportunity=locked,
            actor=actor,
            data={name: row.changes[name] for name in row.changes},
            line_items=[{k: v for k, v in li.items() if k != "id"} for li in row.line_items]
            if row.line_items is not None
            else None,
            source=source,
            amending=True,
        )
        booking_kind, credit_kind, change = BookingKind.AMENDMENT, CreditKind.AMENDMENT, "amended"
    else:
        locked._cancellation_approved = True  # type: ignore[attr-defined]
        locked.cancel()
        locked.version += 1
        locked._history_user = actor  # type: ignore[attr-defined]
        locked._change_reason = source  # type: ignore[attr-defined]
        locked.save()
        # The deal's timeline shows the stage move like any other.
        StageChange.objects.create(
            opportunity=locked,
            transition="cancel",
            from_stage=from_stage,
            to_stage=locked.stage,
            actor=actor,
            source=source,
            reason=row.reason,
            gate_snapshot={"amendment": row.pk},
            at=now,
        )
        booking_kind, credit_kind, change = (
            BookingKind.CANCELLATION,
            CreditKind.CLAWBACK,
            "cancelled",
        )
    locked = Opportunity.objects.select_related("account", "owner", "primary_contact").get(
        pk=locked.pk
    )
    row.before, row.after, row.delta = preview["before"], preview["after"], preview["delta"]
    row.status = AmendmentStatus.APPROVED
    row.decided_by = actor
    row.decided_at = now
    row.decision_reason = reason
    row.applied_version = locked.version
    row.save()
    AmendmentDecision.objects.create(
        amendment=row,
        step=row.step_index,
        decision=AmendmentStatus.APPROVED,
        actor=actor,
        source=source,
        reason=reason,
        from_version=from_version,
        to_version=locked.version,
        gate_snapshot={"target": Stage.CLOSED_WON, "passed": True, "unmet": []},
        at=now,
    )
    amount_delta = (
        (locked.amount or Decimal(0)) - old_amount
        if row.kind == AmendmentKind.CHANGE
        else -booked_total(locked)
    )
    booking_create(
        opportunity=locked,
        kind=booking_kind,
        amount_delta=amount_delta,
        booked_on=timezone.localdate(now),
        at=now,
        amendment=row,
    )
    credit: CommissionCredit | None
    if row.kind == AmendmentKind.CHANGE:
        credit = _credit(
            opportunity=locked, amendment=row, kind=credit_kind, booking=amount_delta, now=now
        )
    elif within_clawback(locked, timezone.localdate(now)):
        credit = _clawback(locked, row, now)
    else:
        credit = None
    for kind in HandoffKind.values:
        deliveries_create_for_event(
            event_type=f"handoff.{kind}.{change}",
            data=payloads.handoff_change_data(
                kind=kind, opportunity=locked, amendment=row, credit=credit
            ),
            opportunity=locked,
            occurred_at=now,
        )
    deliveries_create_for_event(
        event_type=f"deal.{change}",
        data=payloads.opportunity_change_data(
            opportunity=locked, amendment=row, from_stage=from_stage
        ),
        opportunity=locked,
        occurred_at=now,
    )
    if row.kind == AmendmentKind.CANCELLATION:
        event_record(instance=locked, change="stage_changed", actor=actor)
    return row


def _clawback(
    opportunity: Opportunity, amendment: Amendment, now: dt.datetime
) -> CommissionCredit | None:
    """The negative of every credit the deal earned so far (booking and amendments)."""
    earned = CommissionCredit.objects.filter(opportunity=opportunity).aggregate(
        c=Sum("credit_amount"), b=Sum("booking_amount")
    )
    paid = earned["c"] or Decimal(0)
    if paid == 0:
        return None
    credit = CommissionCredit.objects.create(
        opportunity=opportunity,
        approval=None,
        kind=CreditKind.CLAWBACK,
        amendment=amendment,
        rep_id=opportunity.owner_id,
        booking_amount=-(earned["b"] or Decimal(0)),
        currency=opportunity.currency,
        rate=commission_rate_for(opportunity.owner_id),
        credit_amount=-paid,
        created_at=now,
    )
    credit.rep = opportunity.owner
    return credit
