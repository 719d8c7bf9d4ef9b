"""The Closed-Won gate and the stage entry requirements (SPEC §2, §3).

One source of truth: the FSM ``conditions``, the transition service, the API dry run, the
admin queue and the rep's checklist all call :func:`unmet_requirements`.

Split in two so the rules stay pure:

* :func:`gather_facts` reads what the rules need from the database — at most three
  queries (line items, contract/PO claims, configured requirements) whatever the number
  of line items, given an opportunity whose primary contact is already joined (every
  selector does that; otherwise one more query loads it);
* :func:`evaluate` is a pure function of those facts and the target stage. It returns
  every unmet requirement at once, never just the first.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from .stages import OPEN_STAGES, STAGE_ORDER, Stage

if TYPE_CHECKING:
    from .models import Opportunity


class Code:
    """Requirement codes (SPEC §3). Tests and clients match on these, never on English."""

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


# Fields RevOps may make required per stage (StageRequirement.field choices).
CONFIGURABLE_FIELDS: list[tuple[str, str]] = [
    ("account", "Account"),
    ("amount", "Amount"),
    ("close_date", "Close date"),
    ("contract_id", "Contract ID"),
    ("po_number", "PO number"),
    ("primary_contact", "Primary contact"),
    ("contract_start_date", "Contract start date"),
    ("term_months", "Term (months)"),
    ("line_items", "Line items"),
]
FIELD_LABELS = dict(CONFIGURABLE_FIELDS)

# Built-in entry requirements of each open stage; each stage also needs all earlier ones.
ENTRY_RULES: dict[str, tuple[str, ...]] = {
    Stage.PROSPECTING: (),
    Stage.QUALIFICATION: ("account",),
    Stage.PROPOSAL: ("amount", "close_date"),
    Stage.NEGOTIATION: ("primary_contact",),
}

# Targets that need the whole Closed-Won gate.
CLOSED_WON_TARGETS = (Stage.PENDING_APPROVAL, Stage.CLOSED_WON)


@dataclass(frozen=True)
class Unmet:
    code: str
    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "field": self.field, "message": self.message}


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

    def snapshot(self) -> dict[str, Any]:
        data = asdict(self)
        return _jsonable(data)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def normalize_key(value: str | None) -> str:
    """Contract IDs and PO numbers compare trimmed and case-insensitively (SPEC §3)."""
    return (value or "").strip().lower()


def _stages_up_to(target: str) -> list[str]:
    if target in CLOSED_WON_TARGETS:
        return [*OPEN_STAGES, Stage.PENDING_APPROVAL]
    if target not in STAGE_ORDER:
        return []
    return list(STAGE_ORDER[: STAGE_ORDER.index(target) + 1])


def claims(
    *, contract_keys: AbstractSet[str], po_pairs: AbstractSet[tuple[int | None, str]]
) -> list[tuple[int, str, str, int | None]]:
    """Pending/won deals claiming any of these contract keys or (account, PO key) pairs, as
    ``(id, contract key, PO key, account id)``: one query for one deal or a whole page.
    The partial unique indexes allow one claimer per key, so the result stays small."""
    from django.db.models import Q
    from django.db.models.functions import Lower, Trim

    from .models import Opportunity
    from .stages import CLAIMING_STAGES

    if not contract_keys and not po_pairs:
        return []
    match = Q(pk__in=[])
    if contract_keys:
        match |= Q(_ck__in=contract_keys)
    if po_pairs:
        match |= Q(
            _pk__in={key for _, key in po_pairs},
            account_id__in={account for account, _ in po_pairs},
        )
    return list(
        Opportunity.objects.filter(stage__in=CLAIMING_STAGES)
        .annotate(_ck=Lower(Trim("contract_id")), _pk=Lower(Trim("po_number")))
        .filter(match)
        .values_list("pk", "_ck", "_pk", "account_id")
    )


# --- gathering (the only part that touches the database) -------------------------------


def gather_facts(
    opportunity: Opportunity,
    *,
    target: str = Stage.CLOSED_WON,
    line_items: Sequence[tuple[int | None, Decimal | None]] | None = None,
) -> GateFacts:
    """Read what :func:`evaluate` needs for ``target``; at most 3 queries (see module doc).

    ``line_items`` lets a form evaluate unsaved rows (the live checklist).
    """
    from .models import Contact, Opportunity, StageRequirement

    closing = target in CLOSED_WON_TARGETS

    items: tuple[LineFacts, ...] = ()
    if line_items is not None:
        items = tuple(LineFacts(seats, price) for seats, price in line_items)
    elif closing and opportunity.pk:
        prefetched = getattr(opportunity, "_prefetched_objects_cache", {}).get("line_items")
        if prefetched is not None:
            items = tuple(LineFacts(li.seats, li.unit_price) for li in prefetched)
        else:
            items = tuple(
                LineFacts(seats, price)
                for seats, price in opportunity.line_items.order_by("id").values_list(
                    "seats", "unit_price"
                )
            )

    contact_account_id: int | None = None
    contact_email = ""
    if opportunity.primary_contact_id:
        if Opportunity.primary_contact.is_cached(opportunity):  # type: ignore[attr-defined]
            contact = opportunity.primary_contact
            if contact is not None:
                contact_account_id, contact_email = contact.account_id, contact.email
        else:
            row = (
                Contact.objects.filter(pk=opportunity.primary_contact_id)
                .values_list("account_id", "email")
                .first()
            )
            if row:
                contact_account_id, contact_email = row

    contract_in_use = po_in_use = False
    contract_key, po_key = (
        normalize_key(opportunity.contract_id),
        normalize_key(opportunity.po_number),
    )
    if closing and (contract_key or po_key):
        po_pairs = (
            {(opportunity.account_id, po_key)} if po_key and opportunity.account_id else set()
        )
        for claimer, ck, pk_, account_id in claims(
            contract_keys={contract_key} - {""}, po_pairs=po_pairs
        ):
            if claimer == opportunity.pk:
                continue
            contract_in_use |= bool(contract_key) and ck == contract_key
            po_in_use |= bool(po_key) and pk_ == po_key and account_id == opportunity.account_id

    stages = _stages_up_to(target)
    configured: tuple[tuple[str, str], ...] = ()
    if stages:
        configured = tuple(
            StageRequirement.objects.filter(stage__in=stages)
            .order_by("stage", "field")
            .values_list("stage", "field")
        )

    return GateFacts(
        account_id=opportunity.account_id,
        amount=opportunity.amount,
        currency=opportunity.currency,
        close_date=opportunity.close_date,
        contract_id=opportunity.contract_id or "",
        po_number=opportunity.po_number or "",
        primary_contact_id=opportunity.primary_contact_id,
        contact_account_id=contact_account_id,
        contact_email=contact_email or "",
        contract_start_date=opportunity.contract_start_date,
        term_months=opportunity.term_months,
        line_items=items,
        contract_id_in_use=contract_in_use,
        po_number_in_use=po_in_use,
        configured=configured,
        today=timezone.localdate(),
    )


# --- the rules (pure) -----------------------------------------------------------------


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
    if not facts.contract_id.strip() and not facts.po_number.strip():
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
    return unmet


def evaluate(facts: GateFacts, target: str) -> list[Unmet]:
    """Every requirement ``target`` has that ``facts`` do not meet. Empty means it passes."""
    if target in CLOSED_WON_TARGETS:
        unmet = _closed_won_rules(facts)
    elif target in OPEN_STAGES:
        unmet = []
        for stage in _stages_up_to(target):
            for field_name in ENTRY_RULES.get(stage, ()):
                unmet += _field_rules(facts, field_name)
    else:
        return []

    # RevOps-configured requirements only add: a field already reported keeps its
    # built-in code, anything else blank is reported as a stage requirement.
    reported = {u.field for u in unmet}
    allowed_stages = set(_stages_up_to(target))
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


def unmet_requirements(
    opportunity: Opportunity,
    target: str = Stage.CLOSED_WON,
    *,
    line_items: Sequence[tuple[int | None, Decimal | None]] | None = None,
) -> list[Unmet]:
    """Gather the facts and evaluate them: the one call most callers want."""
    return evaluate(gather_facts(opportunity, target=target, line_items=line_items), target)


# --- the rep's checklist ----------------------------------------------------------------

CHECKLIST: list[tuple[str, tuple[str, ...]]] = [
    ("Account", (Code.ACCOUNT_REQUIRED,)),
    ("Contract ID or PO number", (Code.CONTRACT_OR_PO_REQUIRED,)),
    (
        "Contract ID and PO number not already booked",
        (Code.CONTRACT_ID_IN_USE, Code.PO_NUMBER_IN_USE),
    ),
    ("Amount", (Code.AMOUNT_REQUIRED,)),
    ("Close date, today or earlier", (Code.CLOSE_DATE_REQUIRED, Code.CLOSE_DATE_IN_FUTURE)),
    (
        "Primary contact at this account, with an email",
        (
            Code.PRIMARY_CONTACT_REQUIRED,
            Code.PRIMARY_CONTACT_NOT_ON_ACCOUNT,
            Code.PRIMARY_CONTACT_EMAIL_REQUIRED,
        ),
    ),
    ("Products with seats", (Code.SEATS_REQUIRED,)),
    ("Amount matches the line items", (Code.AMOUNT_MISMATCH,)),
]


def checklist(
    unmet: Iterable[Unmet], configured: Iterable[tuple[str, str]] = ()
) -> list[dict[str, Any]]:
    """Every Closed-Won requirement, met or not, with the gate's own messages."""
    unmet = list(unmet)
    rows: list[dict[str, Any]] = []
    for label, codes in CHECKLIST:
        hits = [u for u in unmet if u.code in codes]
        rows.append(
            {
                "label": label,
                "met": not hits,
                "codes": list(codes),
                "messages": [u.message for u in hits],
            }
        )
    seen: set[str] = set()
    for _stage, field_name in configured:
        if field_name in seen:
            continue
        seen.add(field_name)
        hits = [u for u in unmet if u.code == Code.STAGE_REQUIREMENT and u.field == field_name]
        rows.append(
            {
                "label": f"{FIELD_LABELS.get(field_name, field_name)} (required by RevOps)",
                "met": not hits,
                "codes": [Code.STAGE_REQUIREMENT],
                "messages": [u.message for u in hits],
            }
        )
    return rows


# --- the FSM hook -----------------------------------------------------------------------


def fsm_condition(target: str) -> Callable[[Any], bool]:
    """A django-fsm-2 condition for ``target``: pure over the facts the service gathered.

    The service stores the evaluated result on the instance (``_gate_unmet``) so the
    condition does not query again; called on its own it evaluates from scratch.
    """

    def condition(instance: Any) -> bool:
        cached = getattr(instance, "_gate_unmet", None)
        if cached is not None and target in cached:
            return not cached[target]
        return not unmet_requirements(instance, target)

    condition.__name__ = f"gate_passes_for_{target}"
    return condition
