"""Every write to the sales domain (HackSoftware styleguide: ``<entity>_<action>``).

Views, API, admin actions, imports, management commands and tasks all call these, so the
same rules hold on every path:

* a stage changes only in :func:`opportunity_transition` (atomic, row lock, permission,
  segregation of duties, gate, one StageChange row);
* gated fields are locked while a deal is pending approval or won
  (:func:`opportunity_update` raises ``record_locked``);
* every write to an opportunity bumps ``version``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import django_fsm
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db import DatabaseError, IntegrityError, OperationalError, transaction
from django.db.models import Field, Model, prefetch_related_objects
from django.utils import timezone

from events.services import event_record

from . import errors, gates, roles
from .models import (
    Account,
    Approval,
    Contact,
    Decision,
    LineItem,
    Opportunity,
    Product,
    StageChange,
    line_items_prefetch,
)
from .signals import opportunity_transitioned
from .stages import LOCKED_STAGES, TRANSITIONS, LossReason, Source, Stage, Who

EDITABLE_FIELDS = (
    "name",
    "account",
    "owner",
    "type",
    "amount",
    "currency",
    "close_date",
    "contract_id",
    "po_number",
    "primary_contact",
    "contract_start_date",
    "term_months",
)
# Locked while pending approval and after Closed-Won (SPEC §2), line items included. The
# account is locked too (beyond the SPEC's list): moving a pending deal to another account
# would silently break "primary contact on this account" and the per-account PO rule.
GATED_FIELDS = (
    "account",
    "amount",
    "currency",
    "close_date",
    "contract_id",
    "po_number",
    "primary_contact",
)


# --- helpers --------------------------------------------------------------------------


def _validation_errors(exc: ValidationError) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    if hasattr(exc, "error_dict"):
        for field_name, errs in exc.error_dict.items():
            for err in errs:
                message = err.message % err.params if err.params else err.message
                out.append(
                    {"code": err.code or "invalid", "field": field_name, "message": str(message)}
                )
    else:
        for err in exc.error_list:
            message = err.message % err.params if err.params else err.message
            out.append(
                {
                    "code": err.code or "invalid",
                    "field": "non_field_errors",
                    "message": str(message),
                }
            )
    return out


def _full_clean(instance: Model, *, exclude: Iterable[str] = ()) -> None:
    try:
        instance.full_clean(exclude=list(exclude))
    except ValidationError as exc:
        raise errors.InvalidInput(errors=_validation_errors(exc)) from exc


def _assign(instance: Model, data: Mapping[str, Any], allowed: Iterable[str]) -> list[str]:
    """Set ``data`` on ``instance``; FKs may be given as instances or ids. Returns changed names."""
    allowed = set(allowed)
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise errors.InvalidInput(
            errors=[
                {"code": "unknown_field", "field": name, "message": "This field cannot be set."}
                for name in unknown
            ]
        )
    changed = []
    for name, value in data.items():
        field = instance._meta.get_field(name)
        if field.is_relation and isinstance(field, Field):
            new_id = value.pk if isinstance(value, Model) else value
            if new_id in ("", None):
                new_id = None
            elif not isinstance(new_id, int):
                try:
                    new_id = int(new_id)
                except (TypeError, ValueError):
                    raise errors.InvalidInput(
                        errors=[{"code": "invalid", "field": name, "message": "Enter a valid id."}]
                    ) from None
            if getattr(instance, field.attname) != new_id:
                changed.append(name)
                setattr(instance, field.attname, new_id)
                if isinstance(value, Model):
                    setattr(instance, name, value)
        else:
            if isinstance(value, str) and name not in ("loss_detail",):
                value = value.strip()
            if getattr(instance, name) != value:
                changed.append(name)
                setattr(instance, name, value)
    return changed


def _map_lock_error(exc: DatabaseError) -> errors.DomainError:
    return errors.ConcurrentUpdate(
        f"The deal is being changed by someone else ({type(exc).__name__})."
    )


# --- accounts, contacts, products ----------------------------------------------------------

ACCOUNT_FIELDS = ("name", "domain", "billing_country", "owner", "external_id")
CONTACT_FIELDS = ("account", "first_name", "last_name", "email", "phone", "title")
PRODUCT_FIELDS = ("sku", "name", "active")


def _require_authenticated(actor: Any) -> None:
    if not (actor and actor.is_authenticated and actor.is_active):
        raise errors.PermissionDenied("Sign in first.")


def account_create(*, actor: Any, data: Mapping[str, Any]) -> Account:
    _require_authenticated(actor)
    if not actor.has_perm("opportunities.add_account"):
        raise errors.PermissionDenied("You may not create accounts.")
    account = Account()
    _assign(account, {"owner": actor, **data}, ACCOUNT_FIELDS)
    if account.external_id == "":
        account.external_id = None
    _full_clean(account)
    with transaction.atomic():
        account.save()
        event_record(instance=account, change="created", actor=actor)
    return account


def account_update(*, account: Account, actor: Any, data: Mapping[str, Any]) -> Account:
    _require_authenticated(actor)
    if not actor.has_perm("opportunities.change_account"):
        raise errors.PermissionDenied("You may not change accounts.")
    with transaction.atomic():
        account = Account.objects.select_for_update().get(pk=account.pk)
        _assign(account, data, ACCOUNT_FIELDS)
        if account.external_id == "":
            account.external_id = None
        _full_clean(account)
        account.save()
        event_record(instance=account, change="updated", actor=actor)
    return account


def contact_create(*, actor: Any, data: Mapping[str, Any]) -> Contact:
    _require_authenticated(actor)
    if not actor.has_perm("opportunities.add_contact"):
        raise errors.PermissionDenied("You may not create contacts.")
    contact = Contact()
    _assign(contact, data, CONTACT_FIELDS)
    _full_clean(contact)
    with transaction.atomic():
        contact.save()
        event_record(instance=contact, change="created", actor=actor)
    return contact


def contact_update(*, contact: Contact, actor: Any, data: Mapping[str, Any]) -> Contact:
    """Refuses to move a contact to another account, or to clear its email, while it is the
    primary contact of a pending or won deal: that would undo a gate after the fact."""
    _require_authenticated(actor)
    if not actor.has_perm("opportunities.change_contact"):
        raise errors.PermissionDenied("You may not change contacts.")
    with transaction.atomic():
        contact = Contact.objects.select_for_update().get(pk=contact.pk)
        before_account, before_email = contact.account_id, contact.email
        _assign(contact, data, CONTACT_FIELDS)
        locked_fields = [
            name
            for name, broken in (
                ("account", contact.account_id != before_account),
                ("email", bool(before_email) and not contact.email),
            )
            if broken
        ]
        if (
            locked_fields
            and Opportunity.objects.filter(
                primary_contact=contact, stage__in=LOCKED_STAGES
            ).exists()
        ):
            raise errors.RecordLocked(
                "This contact is the primary contact of a deal pending approval or won.",
                errors=[
                    {
                        "code": "record_locked",
                        "field": name,
                        "message": "Locked by a pending or won deal.",
                    }
                    for name in locked_fields
                ],
            )
        _full_clean(contact)
        contact.save()
        event_record(instance=contact, change="updated", actor=actor)
    return contact


def product_create(*, actor: Any, data: Mapping[str, Any]) -> Product:
    if not roles.is_revops(actor):
        raise errors.PermissionDenied("Only RevOps manage the product catalog.")
    product = Product()
    _assign(product, data, PRODUCT_FIELDS)
    _full_clean(product)
    with transaction.atomic():
        product.save()
        event_record(instance=product, change="created", actor=actor)
    return product


def product_update(*, product: Product, actor: Any, data: Mapping[str, Any]) -> Product:
    if not roles.is_revops(actor):
        raise errors.PermissionDenied("Only RevOps manage the product catalog.")
    with transaction.atomic():
        product = Product.objects.select_for_update().get(pk=product.pk)
        _assign(product, data, PRODUCT_FIELDS)
        _full_clean(product)
        product.save()
        event_record(instance=product, change="updated", actor=actor)
    return product


# --- opportunities ---------------------------------------------------------------------------


def _parse_line_items(raw: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Validate line item input into ``{"id", "product_id", "seats", "unit_price"}`` dicts."""
    parsed: list[dict[str, Any]] = []
    errs: list[dict[str, str]] = []
    rows = list(raw)
    product_ids: set[int] = set()
    for index, row in enumerate(rows):
        prefix = f"line_items[{index}]"
        product = row.get("product")
        product_id = product.pk if isinstance(product, Model) else product
        try:
            product_id = int(product_id)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            errs.append(
                {"code": "required", "field": f"{prefix}.product", "message": "Choose a product."}
            )
            continue
        seats = row.get("seats")
        try:
            seats_int = int(seats)  # type: ignore[arg-type]
            if isinstance(seats, bool) or Decimal(str(seats)) != seats_int:
                raise ValueError
        except (TypeError, ValueError, InvalidOperation):
            errs.append(
                {
                    "code": "invalid",
                    "field": f"{prefix}.seats",
                    "message": "Seats must be a whole number.",
                }
            )
            continue
        if seats_int < 1:
            errs.append(
                {
                    "code": "min_value",
                    "field": f"{prefix}.seats",
                    "message": "Seats must be at least 1.",
                }
            )
            continue
        price = row.get("unit_price")
        if price in ("", None):
            price_dec = None
        else:
            try:
                price_dec = Decimal(str(price))
                if not price_dec.is_finite() or price_dec < 0 or price_dec.as_tuple().exponent < -2:  # type: ignore[operator]
                    raise InvalidOperation
                if abs(price_dec) >= Decimal("1e12"):
                    raise InvalidOperation
            except (InvalidOperation, ValueError):
                errs.append(
                    {
                        "code": "invalid",
                        "field": f"{prefix}.unit_price",
                        "message": "Unit price must be a non-negative amount with at most 2 decimals.",
                    }
                )
                continue
        product_ids.add(product_id)
        parsed.append(
            {
                "id": row.get("id"),
                "product_id": product_id,
                "seats": seats_int,
                "unit_price": price_dec,
            }
        )
    if product_ids:
        known = set(Product.objects.filter(pk__in=product_ids).values_list("pk", flat=True))
        for index, item in enumerate(parsed):
            if item["product_id"] not in known:
                errs.append(
                    {
                        "code": "does_not_exist",
                        "field": f"line_items[{index}].product",
                        "message": "Unknown product.",
                    }
                )
    if errs:
        raise errors.InvalidInput(errors=errs)
    return parsed


def _check_line_item_ids(opportunity: Opportunity | None, parsed: list[dict[str, Any]]) -> None:
    """An ``id`` must name a line item of this very deal: an unknown id, or another deal's,
    is a 400 rather than a silently created row."""
    given = [(index, item["id"]) for index, item in enumerate(parsed) if item["id"] is not None]
    if not given:
        return
    own = (
        set(opportunity.line_items.values_list("pk", flat=True))
        if opportunity is not None
        else set()
    )
    errs = [
        {
            "code": "invalid",
            "field": f"line_items[{index}].id",
            "message": "Not a line item of this deal; leave id out for a new one.",
        }
        for index, pk in given
        if pk not in own
    ]
    if errs:
        raise errors.InvalidInput(errors=errs)


def _line_items_differ(opportunity: Opportunity, parsed: list[dict[str, Any]]) -> bool:
    current = sorted(
        (p, s, u)
        for p, s, u in opportunity.line_items.values_list("product_id", "seats", "unit_price")
    )
    wanted = sorted((i["product_id"], i["seats"], i["unit_price"]) for i in parsed)
    return current != wanted


def _line_items_replace(opportunity: Opportunity, parsed: list[dict[str, Any]], actor: Any) -> None:
    """Make the deal's line items exactly ``parsed``: rows with a known id are updated, the
    others created, the rest deleted (each recorded in the field history)."""
    existing = {li.pk: li for li in opportunity.line_items.all()}
    keep: set[int] = set()
    for item in parsed:
        li = existing.get(item["id"]) if item["id"] is not None else None
        if li is None:
            li = LineItem(opportunity=opportunity)
        else:
            keep.add(li.pk)
        li.product_id, li.seats, li.unit_price = (
            item["product_id"],
            item["seats"],
            item["unit_price"],
        )
        li._history_user = actor  # type: ignore[attr-defined]
        li.save()
    for pk, li in existing.items():
        if pk not in keep:
            li._history_user = actor  # type: ignore[attr-defined]
            li.delete()


def opportunity_create(
    *,
    actor: Any,
    data: Mapping[str, Any],
    line_items: Iterable[Mapping[str, Any]] | None = None,
    source: str = Source.UI,
) -> Opportunity:
    """Create a deal in Prospecting. The stage can never be set here (``stage_read_only``);
    a rep creates deals for themselves, RevOps for anyone."""
    _require_authenticated(actor)
    if "stage" in data:
        raise errors.StageReadOnly("A new deal starts in Prospecting; move it with a transition.")
    if not roles.can_create(actor):
        raise errors.PermissionDenied("You may not create deals.")
    data = dict(data)
    owner = data.get("owner")
    owner_id = owner.pk if isinstance(owner, Model) else owner
    if owner_id in (None, ""):
        data["owner"] = actor
    elif str(owner_id) != str(actor.pk) and not actor.has_perm(roles.CHANGE_ANY_PERM):
        raise errors.PermissionDenied("You can only create deals you own.")
    parsed = _parse_line_items(line_items) if line_items is not None else None
    if parsed:
        _check_line_item_ids(None, parsed)
    with transaction.atomic():
        opportunity = Opportunity()
        _assign(opportunity, data, EDITABLE_FIELDS)
        _full_clean(opportunity, exclude=["stage", "version"])
        opportunity._history_user = actor  # type: ignore[attr-defined]
        opportunity.save()
        if parsed:
            _line_items_replace(opportunity, parsed, actor)
        event_record(instance=opportunity, change="created", actor=actor)
    return opportunity


def opportunity_update(
    *,
    opportunity: Opportunity | int,
    actor: Any,
    data: Mapping[str, Any],
    line_items: Iterable[Mapping[str, Any]] | None = None,
    expected_version: int | None = None,
    source: str = Source.UI,
) -> Opportunity:
    """Edit a deal. Enforces: owner or RevOps only; stage read-only; gated fields and line
    items locked while pending approval or won (``record_locked``); optimistic version
    check (``stale_version``); ``version`` +1."""
    _require_authenticated(actor)
    if "stage" in data:
        raise errors.StageReadOnly("Use a transition to change the stage.")
    pk = opportunity.pk if isinstance(opportunity, Opportunity) else opportunity
    parsed = _parse_line_items(line_items) if line_items is not None else None
    try:
        with transaction.atomic():
            locked = _lock(pk)
            if expected_version is not None and locked.version != expected_version:
                raise errors.StaleVersion(
                    f"The deal is at version {locked.version}, not {expected_version}."
                )
            if not roles.can_change(actor, locked):
                raise errors.PermissionDenied("Only the deal's owner or RevOps can change it.")
            before_owner = locked.owner_id
            changed = _assign(locked, data, EDITABLE_FIELDS)
            if (
                "owner" in changed
                and before_owner != locked.owner_id
                and not actor.has_perm(roles.CHANGE_ANY_PERM)
            ):
                raise errors.PermissionDenied("Only RevOps can reassign a deal.")
            if parsed:
                _check_line_item_ids(locked, parsed)
            items_changed = parsed is not None and _line_items_differ(locked, parsed)
            if locked.stage in LOCKED_STAGES:
                blocked = [f for f in changed if f in GATED_FIELDS] + (
                    ["line_items"] if items_changed else []
                )
                if blocked:
                    raise errors.RecordLocked(
                        f"{', '.join(blocked)} cannot change while the deal is {locked.stage_label.lower()}.",
                        errors=[
                            {
                                "code": "record_locked",
                                "field": f,
                                "message": "Locked while pending approval or won.",
                            }
                            for f in blocked
                        ],
                    )
            if not changed and not items_changed:
                return locked
            _full_clean(locked, exclude=["stage", "version"])
            # The row is locked, so a plain increment cannot lose an update.
            locked.version += 1
            locked._history_user = actor  # type: ignore[attr-defined]
            locked.save()
            if items_changed and parsed is not None:
                _line_items_replace(locked, parsed, actor)
            event_record(instance=locked, change="updated", actor=actor)
    except OperationalError as exc:
        raise _map_lock_error(exc) from exc
    locked.refresh_from_db()
    return locked


def _lock(pk: Any) -> Opportunity:
    try:
        return (
            Opportunity.objects.select_for_update(of=("self",))
            .select_related("primary_contact", "account", "owner")
            .get(pk=pk)
        )
    except (Opportunity.DoesNotExist, ValueError, TypeError) as exc:
        raise errors.NotFound("No such opportunity.") from exc


def line_items_loaded(opportunity: Opportunity) -> list[LineItem]:
    """The deal's line items with their products, in order, read at most once per instance:
    the gate, the approval snapshot, the handoff payloads and the API response all share
    the one prefetch."""
    cache = getattr(opportunity, "_prefetched_objects_cache", {})
    if "line_items" not in cache:
        prefetch_related_objects([opportunity], line_items_prefetch())
    return list(opportunity.line_items.all())


# --- transitions -----------------------------------------------------------------------------


def _pending_approval(opportunity: Opportunity) -> Approval | None:
    return (
        opportunity.approvals.filter(decision=Decision.PENDING)
        .select_related("submitted_by")
        .select_for_update(of=("self",))
        .first()
    )


def transition_permission_error(
    name: str, opportunity: Opportunity, actor: Any, approval: Approval | None
) -> errors.DomainError | None:
    """Why ``actor`` may not run ``name`` on ``opportunity`` (None: they may).

    Segregation of duties: nobody approves a deal they own or submitted, not even RevOps
    or a superuser.
    """
    spec = TRANSITIONS[name]
    if not (actor and actor.is_authenticated and actor.is_active):
        return errors.PermissionDenied("Sign in first.")
    is_owner = opportunity.owner_id == actor.pk
    is_submitter = approval is not None and approval.submitted_by_id == actor.pk
    if name == "approve" and (is_owner or is_submitter):
        return errors.SelfApprovalForbidden(
            "You own or submitted this deal: another RevOps member must approve it."
        )
    if Who.REVOPS in spec.who and roles.is_revops(actor):
        return None
    if Who.OWNER in spec.who and is_owner and actor.has_perm(roles.CHANGE_PERM):
        return None
    if Who.SUBMITTER in spec.who and is_submitter:
        return None
    if spec.who == frozenset({Who.REVOPS}):
        return errors.PermissionDenied("Only RevOps can do this.")
    if spec.who == frozenset({Who.OWNER}):
        return errors.PermissionDenied("Only the deal's owner can do this.")
    return errors.PermissionDenied("Only the deal's owner or RevOps can do this.")


def _transition_params(
    name: str, reason: str, loss_reason: str, loss_detail: str
) -> dict[str, Any]:
    if name == "reject" and not (reason or "").strip():
        raise errors.ReasonRequired(
            "Say why the deal is rejected: the rep sees it.",
            errors=[{"code": "reason_required", "field": "reason", "message": "Enter a reason."}],
        )
    if name == "mark_lost":
        loss_reason = (loss_reason or "").strip()
        if not loss_reason:
            raise errors.ReasonRequired(
                "Choose why the deal was lost.",
                errors=[
                    {
                        "code": "reason_required",
                        "field": "loss_reason",
                        "message": "Choose a loss reason.",
                    }
                ],
            )
        if loss_reason not in LossReason.values:
            raise errors.InvalidInput(
                errors=[
                    {
                        "code": "invalid_choice",
                        "field": "loss_reason",
                        "message": f"Choose one of: {', '.join(LossReason.values)}.",
                    }
                ]
            )
        if loss_reason == LossReason.OTHER and not (loss_detail or "").strip():
            raise errors.ReasonRequired(
                "Describe the loss reason.",
                errors=[
                    {
                        "code": "reason_required",
                        "field": "loss_detail",
                        "message": "Describe why the deal was lost.",
                    }
                ],
            )
        return {"loss_reason": loss_reason, "loss_detail": (loss_detail or "").strip()}
    return {}


def values_snapshot(
    opportunity: Opportunity, line_items: list[LineItem] | None = None
) -> dict[str, Any]:
    """The gated values as submitted/approved (Approval.snapshot); the admin deal page
    compares the current values in the same shape."""
    items = line_items if line_items is not None else line_items_loaded(opportunity)
    return {
        "amount": str(opportunity.amount) if opportunity.amount is not None else None,
        "currency": opportunity.currency,
        "close_date": opportunity.close_date.isoformat() if opportunity.close_date else None,
        "contract_id": opportunity.contract_id,
        "po_number": opportunity.po_number,
        "primary_contact": opportunity.primary_contact_id,
        "contract_start_date": opportunity.contract_start_date.isoformat()
        if opportunity.contract_start_date
        else None,
        "term_months": opportunity.term_months,
        "line_items": [
            {
                "product": li.product_id,
                "sku": li.product.sku,
                "seats": li.seats,
                "unit_price": str(li.unit_price) if li.unit_price is not None else None,
            }
            for li in items
        ],
    }


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
) -> Opportunity:
    """Run transition ``name``: the only code that changes a stage (STYLE rule 1).

    In one transaction, with the row locked: stage check, permission and segregation of
    duties, required reasons, the gate (every unmet requirement at once), the FSM
    transition, ``version`` +1, one StageChange with the gate snapshot, the Approval
    bookkeeping, and on ``approve`` the handoffs and commission credit.
    """
    spec = TRANSITIONS.get(name)
    if spec is None:
        raise errors.NotFound(f"There is no transition called {name!r}.")
    pk = opportunity.pk if isinstance(opportunity, Opportunity) else opportunity
    try:
        with transaction.atomic():
            locked = _lock(pk)
            if expected_version is not None and locked.version != expected_version:
                raise errors.StaleVersion(
                    f"The deal is at version {locked.version}, not {expected_version}."
                )
            if locked.stage not in spec.sources:
                raise errors.TransitionNotAllowed(
                    f"{spec.label} is not possible from {locked.stage_label}."
                )
            approval = _pending_approval(locked) if locked.stage == Stage.PENDING_APPROVAL else None
            denied = transition_permission_error(name, locked, actor, approval)
            if denied is not None:
                raise denied
            params = _transition_params(name, reason, loss_reason, loss_detail)

            if spec.target in gates.CLOSED_WON_TARGETS:
                line_items_loaded(locked)  # once, for the gate, the snapshot and the payloads
            facts = gates.gather_facts(locked, target=spec.target)
            unmet = gates.evaluate(facts, spec.target)
            if unmet:
                raise errors.GateFailed(
                    f"{len(unmet)} requirement{'s' if len(unmet) != 1 else ''} not met for {spec.label}.",
                    errors=[u.as_dict() for u in unmet],
                )
            locked._gate_unmet = {spec.target: unmet}  # type: ignore[attr-defined]
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

            now = timezone.now()
            stage_reason = reason.strip() if reason else ""
            if name == "mark_lost":
                stage_reason = params["loss_detail"] or LossReason(params["loss_reason"]).label
            change = StageChange.objects.create(
                opportunity=locked,
                transition=name,
                from_stage=from_stage,
                to_stage=locked.stage,
                actor=actor,
                source=source,
                reason=stage_reason,
                gate_snapshot={
                    "target": spec.target,
                    "passed": True,
                    "unmet": [],
                    "facts": facts.snapshot(),
                },
                at=now,
            )
            approval = _record_approval(name, locked, actor, approval, stage_reason, now)
            event_record(
                instance=locked,
                change="approved" if name == "approve" else "stage_changed",
                actor=actor,
            )
            opportunity_transitioned.send(
                sender=Opportunity,
                opportunity=locked,
                stage_change=change,
                approval=approval,
                actor=actor,
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
                {
                    "code": gates.Code.CONTRACT_ID_IN_USE,
                    "field": "contract_id",
                    "message": f"Contract ID {opportunity.contract_id} is already on another won or pending deal.",
                }
            ],
        )
    if "opp_po_number_claimed_once_per_account" in text or "po_number" in text:
        return errors.GateFailed(
            "Another deal claimed this PO number at the same moment.",
            errors=[
                {
                    "code": gates.Code.PO_NUMBER_IN_USE,
                    "field": "po_number",
                    "message": f"PO number {opportunity.po_number} is already on another won or pending deal for this account.",
                }
            ],
        )
    return errors.ConcurrentUpdate("The deal was changed at the same moment; try again.")


def _record_approval(
    name: str,
    opportunity: Opportunity,
    actor: Any,
    approval: Approval | None,
    reason: str,
    now: dt.datetime,
) -> Approval | None:
    if name == "submit_for_approval":
        try:
            return Approval.objects.create(
                opportunity=opportunity,
                submitted_by=actor,
                submitted_at=now,
                snapshot=values_snapshot(opportunity),
            )
        except IntegrityError as exc:
            raise errors.ConcurrentUpdate("The deal was submitted at the same moment.") from exc
    if approval is None:
        return None
    if name == "approve":
        approval.decision = Decision.APPROVED
        approval.snapshot = values_snapshot(opportunity)
    elif name == "reject":
        approval.decision = Decision.REJECTED
    elif name in ("withdraw", "mark_lost"):
        approval.decision = Decision.WITHDRAWN
    else:  # pragma: no cover - no other transition leaves pending_approval
        return approval
    approval.decided_by = actor
    approval.decided_at = now
    approval.reason = reason
    approval.save()
    if name == "approve":
        # The seam for the handoffs: same transaction, so a rolled-back approval leaves no
        # handoff and no commission credit.
        from handoffs.services import handoffs_create_for_approval

        handoffs_create_for_approval(approval=approval)
    return approval


def get_opportunity_or_404(pk: Any) -> Opportunity:
    try:
        return Opportunity.objects.get(pk=pk)
    except (ObjectDoesNotExist, ValueError, TypeError) as exc:
        raise errors.NotFound("No such opportunity.") from exc
