"""The gate's rules: pure functions of :class:`GateFacts` and the target stage.

Two kinds of requirement live here:

* the stage entry requirements (Qualification needs an account; Proposal adds an amount
  above zero and a close date; Negotiation adds a primary contact), cumulative, plus the
  fields RevOps make required per stage (StageRequirement), which only ever add;
* the Closed-Won gate: every field billing, provisioning, customer success and
  commissions need, checked again at approval time.

:func:`evaluate` returns every unmet requirement at once, never just the first. It imports
nothing but the stages, so it is unit-tested without a database; ``gate.facts`` reads the
facts it needs in a constant number of queries.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, fields, is_dataclass
from decimal import Decimal
from typing import Any, cast

from django.utils import timezone

from core.errors import FieldError
from core.keys import normalize_key
from documents.rules import RequirementFacts, evidence_unmet

from ..stages import FIELD_LABELS, OPEN_STAGES, STAGE_ORDER, Stage


class Code:
    """Requirement codes. Tests and clients match on these, never on the English."""

    ACCOUNT_REQUIRED = "account_required"
    CONTRACT_OR_PO_REQUIRED = "contract_or_po_required"
    CONTRACT_ID_IN_USE = "contract_id_in_use"
    PO_NUMBER_IN_USE = "po_number_in_use"
    AMOUNT_REQUIRED = "amount_required"
    CLOSE_DATE_REQUIRED = "close_date_required"
    CLOSE_DATE_IN_FUTURE = "close_date_in_future"
    PRIMARY_CONTACT_REQUIRED = "primary_contact_required"
    PRIMARY_CONTACT_NOT_ON_ACCOUNT = "primary_contact_not_on_account"
    PRIMARY_CONTACT_EMAIL_REQUIRED = "primary_contact_email_required"
    SEATS_REQUIRED = "seats_required"
    AMOUNT_MISMATCH = "amount_mismatch"
    STAGE_REQUIREMENT = "stage_requirement"
    OWNER_INACTIVE = "owner_inactive"
    # field "documents.<kind>", e.g. documents.signed_contract
    EVIDENCE_REQUIRED = "evidence_required"


# Built-in entry requirements of each open stage; each stage also needs all earlier ones.
ENTRY_RULES: dict[str, tuple[str, ...]] = {
    Stage.PROSPECTING: (),
    Stage.QUALIFICATION: ("account",),
    Stage.PROPOSAL: ("amount", "close_date"),
    Stage.NEGOTIATION: ("primary_contact",),
}

# Targets that need the whole Closed-Won gate.
CLOSED_WON_TARGETS = (Stage.PENDING_APPROVAL, Stage.CLOSED_WON)


# A requirement the deal does not meet: a FieldError with a requirement code.
Unmet = FieldError


@dataclass(frozen=True)
class LineFacts:
    seats: int | None
    unit_price: Decimal | None


@dataclass(frozen=True)
class GateFacts:
    """Everything the rules look at, frozen at one moment (also the gate snapshot)."""

    account_id: int | None
    amount: Decimal | None
    currency: str
    close_date: dt.date | None
    contract_id: str
    po_number: str
    primary_contact_id: int | None
    contact_account_id: int | None
    contact_email: str
    contract_start_date: dt.date | None
    term_months: int | None
    line_items: tuple[LineFacts, ...]
    contract_id_in_use: bool
    po_number_in_use: bool
    configured: tuple[tuple[str, str], ...]
    today: dt.date = field(default_factory=timezone.localdate)
    # Evidence documents RevOps require, the kinds the deal has, and its amount in the
    # reporting currency (None: unknown, so a minimum applies to be safe).
    # Nobody is credited or handed off as a deactivated user.
    owner_active: bool = True
    evidence_requirements: tuple[RequirementFacts, ...] = ()
    evidence_present: frozenset[str] = frozenset()
    amount_reporting: Decimal | None = None

    def snapshot(self) -> dict[str, Any]:
        """The facts as JSON values, key for key what ``dataclasses.asdict`` gives, with
        decimals as strings, dates ISO 8601 and sets sorted lists."""
        return cast(dict[str, Any], _jsonable(self))


_FIELD_NAMES: dict[type, tuple[str, ...] | None] = {}


def _field_names(cls: type) -> tuple[str, ...] | None:
    """The fields of dataclass ``cls`` in order; None for any other type (worked out once
    per type)."""
    try:
        return _FIELD_NAMES[cls]
    except KeyError:
        names = tuple(f.name for f in fields(cls)) if is_dataclass(cls) else None
        _FIELD_NAMES[cls] = names
        return names


_AS_IS = (str, int, float, type(None))


def _jsonable(value: Any) -> Any:
    # Walked directly, not through ``dataclasses.asdict``: that deep-copies every value
    # before this walk converts it, and the facts hold every line item of the deal.
    if isinstance(value, _AS_IS):  # bool is an int
        return value
    names = _field_names(type(value))
    if names is not None:
        return {name: _jsonable(getattr(value, name)) for name in names}
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, frozenset | set):
        return sorted(_jsonable(v) for v in value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def stages_up_to(target: str) -> list[str]:
    if target in CLOSED_WON_TARGETS:
        return [*OPEN_STAGES, Stage.PENDING_APPROVAL]
    if target not in STAGE_ORDER:
        return []
    return list(STAGE_ORDER[: STAGE_ORDER.index(target) + 1])


def _is_blank(facts: GateFacts, field_name: str) -> bool:
    if field_name == "line_items":
        return not facts.line_items
    if field_name == "account":
        return facts.account_id is None
    if field_name == "primary_contact":
        return facts.primary_contact_id is None
    value = getattr(facts, field_name, None)
    return value is None or (isinstance(value, str) and not value.strip())


def _field_rules(facts: GateFacts, field_name: str) -> list[Unmet]:
    """The built-in entry requirement for one field."""
    if field_name == "account" and facts.account_id is None:
        return [Unmet(Code.ACCOUNT_REQUIRED, "account", "Choose the account this deal is with.")]
    if field_name == "amount" and (facts.amount is None or facts.amount <= 0):
        return [
            Unmet(Code.AMOUNT_REQUIRED, "amount", "Enter the deal amount (total contract value).")
        ]
    if field_name == "close_date" and facts.close_date is None:
        return [Unmet(Code.CLOSE_DATE_REQUIRED, "close_date", "Set the close date.")]
    if field_name == "primary_contact" and facts.primary_contact_id is None:
        return [
            Unmet(
                Code.PRIMARY_CONTACT_REQUIRED,
                "primary_contact",
                "Choose the primary contact at the customer.",
            )
        ]
    return []


def _closed_won_rules(facts: GateFacts) -> list[Unmet]:
    unmet: list[Unmet] = []
    # A key made only of invisible characters or spaces is missing.
    if not normalize_key(facts.contract_id) and not normalize_key(facts.po_number):
        unmet.append(
            Unmet(Code.CONTRACT_OR_PO_REQUIRED, "contract_id", "Add a contract ID or a PO number.")
        )
    if facts.contract_id_in_use:
        unmet.append(
            Unmet(
                Code.CONTRACT_ID_IN_USE,
                "contract_id",
                f"Contract ID {facts.contract_id.strip()} is already on another won or pending deal.",
            )
        )
    if facts.po_number_in_use:
        unmet.append(
            Unmet(
                Code.PO_NUMBER_IN_USE,
                "po_number",
                f"PO number {facts.po_number.strip()} is already on another won or pending deal for this account.",
            )
        )
    unmet += _field_rules(facts, "account")
    unmet += _field_rules(facts, "amount")
    unmet += _field_rules(facts, "close_date")
    if facts.close_date is not None and facts.close_date > facts.today:
        unmet.append(
            Unmet(
                Code.CLOSE_DATE_IN_FUTURE,
                "close_date",
                "The close date is in the future: a deal closes on or before today.",
            )
        )
    unmet += _field_rules(facts, "primary_contact")
    if facts.primary_contact_id is not None:
        if facts.contact_account_id != facts.account_id:
            unmet.append(
                Unmet(
                    Code.PRIMARY_CONTACT_NOT_ON_ACCOUNT,
                    "primary_contact",
                    "The primary contact works for another account: choose a contact at this deal's account.",
                )
            )
        if not facts.contact_email.strip():
            unmet.append(
                Unmet(
                    Code.PRIMARY_CONTACT_EMAIL_REQUIRED,
                    "primary_contact",
                    "Add an email address to the primary contact (billing sends the invoice there).",
                )
            )
    if not facts.line_items or any(li.seats is None or li.seats < 1 for li in facts.line_items):
        unmet.append(
            Unmet(
                Code.SEATS_REQUIRED,
                "line_items",
                "Add the products sold, each with at least one seat.",
            )
        )
    elif (
        facts.amount is not None
        and facts.amount > 0
        and all(li.unit_price is not None for li in facts.line_items)
    ):
        total = sum(
            (Decimal(li.seats or 0) * (li.unit_price or Decimal(0)) for li in facts.line_items),
            Decimal(0),
        )
        if total != facts.amount:
            unmet.append(
                Unmet(
                    Code.AMOUNT_MISMATCH,
                    "amount",
                    f"The amount ({facts.amount:,.2f}) does not match the line items "
                    f"(seats × unit price = {total:,.2f}).",
                )
            )
    if not facts.owner_active:
        unmet.append(
            Unmet(
                Code.OWNER_INACTIVE,
                "owner",
                "The deal's owner is deactivated: RevOps must reassign the deal first.",
            )
        )
    unmet += [
        Unmet(u.code, f"{u.field}.{u.kind}", u.message)
        for u in evidence_unmet(
            facts.evidence_requirements, facts.evidence_present, facts.amount_reporting
        )
    ]
    return unmet


def evaluate(facts: GateFacts, target: str) -> list[Unmet]:
    """Every requirement ``target`` has that ``facts`` do not meet. Empty means it passes."""
    if target in CLOSED_WON_TARGETS:
        unmet = _closed_won_rules(facts)
    elif target in OPEN_STAGES:
        unmet = []
        for stage in stages_up_to(target):
            for field_name in ENTRY_RULES.get(stage, ()):
                unmet += _field_rules(facts, field_name)
    else:
        return []

    # RevOps-configured requirements only add: a field already reported keeps its
    # built-in code, anything else blank is reported as a stage requirement.
    reported = {u.field for u in unmet}
    allowed_stages = set(stages_up_to(target))
    for stage, field_name in facts.configured:
        if stage in allowed_stages and field_name not in reported and _is_blank(facts, field_name):
            reported.add(field_name)
            unmet.append(
                Unmet(
                    Code.STAGE_REQUIREMENT,
                    field_name,
                    f"{FIELD_LABELS.get(field_name, field_name)} is required from "
                    f"{_stage_name(stage)} on (set by RevOps).",
                )
            )
    return unmet


def _stage_name(stage: str) -> str:
    return "Closed-Won" if stage == Stage.PENDING_APPROVAL else str(Stage(stage).label)
