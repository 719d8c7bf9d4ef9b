"""CSV imports of accounts, contacts and opportunities — every row through the services.

An import is just another path into the domain, so the same rules hold as in the UI and
the API: a row creates or updates its record with ``account_create`` /
``opportunity_update`` / …, and a row that asks for a stage gets there only by the
transitions a person would run, in order, through ``opportunity_transition`` with
``source="admin"``. The gate, the permission checks and the locks apply to each step, so
an import can never put a deal past a gate it does not meet. Closed-Won is never
imported: it is decided in the approval queue.

Each row is its own transaction: a refused row leaves nothing behind and is reported with
its error codes; the others go in. Rows are read one at a time from any iterable (a
``csv.DictReader`` over a file streams), so memory stays flat however long the file.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, cast

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Field

from core import errors
from core.keys import normalize_key
from core.money import money_text

from .. import services
from ..models import Account, Contact, Opportunity, Product
from ..stages import ACCOUNT_FIELDS, CONTACT_FIELDS, OPEN_STAGES, OpportunityType, Source, Stage

# Columns the exports write for people to read; an import ignores them.
INFORMATIONAL = {
    "stage_label",
    "version",
    "created_at",
    "updated_at",
    "closed_at",
    "account_name",
    "owner_name",
    "probability",
    "forecast_category",
    "primary_contact_name",
}


@dataclass
class RowOutcome:
    """What one row did: ``new``, ``update``, ``skip`` (nothing to change) or ``error``."""

    number: int
    action: str = "skip"
    object_id: int | None = None
    object_repr: str = ""
    instance: Any = None
    transitions: list[str] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass
class ImportReport:
    rows: int = 0
    new: int = 0
    updated: int = 0
    skipped: int = 0
    failed: list[RowOutcome] = field(default_factory=list)


class RowError(Exception):
    def __init__(self, code: str, field_name: str, message: str) -> None:
        super().__init__(message)
        self.error = {"code": code, "field": field_name, "message": message}


# --- cell parsing ------------------------------------------------------------------------


def _clean_row(row: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row.items():
        if key is None:
            continue
        name = str(key).strip().lower().replace(" ", "_")
        if name in INFORMATIONAL:
            continue
        out[name] = value.strip() if isinstance(value, str) else value
    return out


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value == "")


def _text(value: Any) -> str:
    return "" if _blank(value) else str(value).strip()


def _decimal(value: Any, name: str) -> Decimal | None:
    if _blank(value):
        return None
    try:
        number = Decimal(str(value).replace(",", "").strip())
    except InvalidOperation:
        raise RowError("invalid", name, f"{value!r} is not an amount.") from None
    if not number.is_finite():
        raise RowError("invalid", name, f"{value!r} is not an amount.")
    return number


def _int(value: Any, name: str) -> int | None:
    if _blank(value):
        return None
    try:
        number = Decimal(str(value).strip())
        if number != number.to_integral_value():
            raise InvalidOperation
        return int(number)
    except (InvalidOperation, ValueError):
        raise RowError("invalid", name, f"{value!r} is not a whole number.") from None


def _id(value: Any, name: str) -> int:
    number = _int(value, name)
    if number is None:
        raise RowError("required", name, "This column needs an id.")
    return number


def _date(value: Any, name: str) -> dt.date | None:
    if _blank(value):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        raise RowError("invalid", name, f"{value!r} is not a date (use YYYY-MM-DD).") from None


def _user(value: Any, name: str) -> Any:
    if _blank(value):
        return None
    User = get_user_model()
    text = str(value).strip()
    user = User.objects.filter(username=text).first()
    if user is None and text.isdigit():
        user = User.objects.filter(pk=int(text)).first()
    if user is None:
        raise RowError("does_not_exist", name, f"There is no user {text!r}.")
    return user


def _account(row: Mapping[str, Any], name: str = "account") -> Account | None:
    raw = row.get("account_id", row.get("account"))
    external = _text(row.get("account_external_id"))
    if not _blank(raw):
        account = Account.objects.filter(pk=_id(raw, name)).first()
        if account is None:
            raise RowError("does_not_exist", name, f"There is no account with id {raw}.")
        return account
    if external:
        account = Account.objects.filter(external_id=external).first()
        if account is None:
            raise RowError(
                "does_not_exist", name, f"There is no account with external id {external!r}."
            )
        return account
    return None


def _has_account_column(row: Mapping[str, Any]) -> bool:
    return any(k in row for k in ("account", "account_id", "account_external_id"))


# --- accounts and contacts -----------------------------------------------------------------


def account_import_row(*, actor: Any, row: Mapping[str, Any], number: int = 0) -> RowOutcome:
    """Create or update one account (matched by ``id``, else by ``external_id``)."""
    cells = _clean_row(row)
    outcome = RowOutcome(number=number)

    def work() -> None:
        existing = None
        if not _blank(cells.get("id")):
            existing = Account.objects.filter(pk=_id(cells["id"], "id")).first()
            if existing is None:
                raise RowError("not_found", "id", f"There is no account with id {cells['id']}.")
        elif _text(cells.get("external_id")):
            existing = Account.objects.filter(external_id=_text(cells["external_id"])).first()
        data: dict[str, Any] = {}
        for name in ("name", "domain", "billing_country", "external_id"):
            if name in cells:
                data[name] = _text(cells[name])
        if "billing_country" in data:
            data["billing_country"] = data["billing_country"].upper()
        if "owner" in cells:
            data["owner"] = _user(cells["owner"], "owner")
        if existing is None:
            account = services.account_create(actor=actor, data=data)
            outcome.action = "new"
        else:
            before = _state(existing, ACCOUNT_FIELDS)
            account = services.account_update(account=existing, actor=actor, data=data)
            outcome.action = "update" if _state(account, ACCOUNT_FIELDS) != before else "skip"
        outcome.object_id, outcome.object_repr, outcome.instance = account.pk, str(account), account

    return _run(outcome, work)


def _state(instance: Any, fields: Sequence[str]) -> tuple:
    """The values an import row may change (the service's own field list), to tell an
    update from a no-op."""
    return tuple(getattr(instance, instance._meta.get_field(name).attname) for name in fields)


def contact_import_row(*, actor: Any, row: Mapping[str, Any], number: int = 0) -> RowOutcome:
    """Create or update one contact (matched by ``id``)."""
    cells = _clean_row(row)
    outcome = RowOutcome(number=number)

    def work() -> None:
        existing = None
        if not _blank(cells.get("id")):
            existing = Contact.objects.filter(pk=_id(cells["id"], "id")).first()
            if existing is None:
                raise RowError("not_found", "id", f"There is no contact with id {cells['id']}.")
        data: dict[str, Any] = {}
        for name in ("first_name", "last_name", "email", "phone", "title"):
            if name in cells:
                data[name] = _text(cells[name])
        if _has_account_column(cells):
            data["account"] = _account(cells)
        if existing is None:
            contact = services.contact_create(actor=actor, data=data)
            outcome.action = "new"
        else:
            before = _state(existing, CONTACT_FIELDS)
            contact = services.contact_update(contact=existing, actor=actor, data=data)
            outcome.action = "update" if _state(contact, CONTACT_FIELDS) != before else "skip"
        outcome.object_id, outcome.object_repr, outcome.instance = contact.pk, str(contact), contact

    return _run(outcome, work)


# --- opportunities -----------------------------------------------------------------------


def parse_line_items(text: str) -> list[dict[str, Any]]:
    """``"CW-CORE x 10 @ 1200.00; CW-SSO x 10"`` → line item dicts for the services.

    The format the export writes: ``SKU x seats`` with an optional ``@ unit price``,
    separated by ``;``.
    """
    items: list[dict[str, Any]] = []
    parts = [p.strip() for p in text.split(";") if p.strip()]
    skus = set()
    parsed = []
    for index, part in enumerate(parts):
        label = f"line_items[{index}]"
        head, _, price = part.partition("@")
        sku, sep, seats = head.strip().rpartition(" x ")
        if not sep:
            raise RowError(
                "invalid",
                "line_items",
                f"{part!r}: write line items as 'SKU x seats @ unit price', separated by ';'.",
            )
        parsed.append((label, sku.strip(), seats.strip(), price.strip()))
        skus.add(sku.strip())
    # SKUs compare as people read them: "CW‐CORE" (U+2010) is CW-CORE.
    products = dict(
        Product.objects.filter(sku_key__in={normalize_key(s) for s in skus}).values_list(
            "sku_key", "pk"
        )
    )
    for _label, sku, seats, price in parsed:
        if normalize_key(sku) not in products:
            raise RowError("does_not_exist", "line_items", f"There is no product {sku!r}.")
        # Numbers stay text: the one line-item parser of the services validates them.
        items.append(
            {
                "product": products[normalize_key(sku)],
                "seats": seats,
                "unit_price": price.replace(",", "") or None,
            }
        )
    return items


def format_line_items(opportunity: Opportunity) -> str:
    """The inverse of :func:`parse_line_items` (line items and products prefetched)."""
    return "; ".join(
        f"{li.product.sku} x {li.seats}"
        + (
            f" @ {money_text(li.unit_price, opportunity.currency)}"
            if li.unit_price is not None
            else ""
        )
        for li in opportunity.line_items.all()
    )


def _stage_value(raw: Any) -> str:
    text = _text(raw)
    for value, label in Stage.choices:
        if text.lower() in (value, str(label).lower()):
            return value
    raise RowError(
        "invalid_choice", "stage", f"{text!r} is not a stage; use one of {', '.join(Stage.values)}."
    )


def transition_path(current: str, target: str) -> list[str]:
    """The transitions, in order, that take a deal from ``current`` to ``target`` the way a
    person would. Closed-Won is not reachable: RevOps approve it in the queue."""
    if current == target:
        return []
    if target == Stage.CLOSED_WON:
        raise RowError(
            "approval_required",
            "stage",
            "An import cannot make a deal Closed-Won: request it, and RevOps approve it in the queue.",
        )
    if target == Stage.CANCELLED:
        raise RowError(
            "transition_not_allowed",
            "stage",
            "An import cannot cancel a deal: RevOps request the cancellation and another approves it.",
        )
    if current in (Stage.CLOSED_WON, Stage.CANCELLED):
        raise RowError(
            "transition_not_allowed", "stage", f"A {Stage(current).label} deal cannot change stage."
        )
    prefix: list[str] = []
    if current == Stage.CLOSED_LOST:
        prefix, current = ["reopen"], Stage.QUALIFICATION
    elif current == Stage.PENDING_APPROVAL and target != Stage.CLOSED_LOST:
        prefix, current = ["withdraw"], Stage.NEGOTIATION
    if current == target:
        return prefix
    if target in OPEN_STAGES:
        return [*prefix, f"move_to_{target}"]
    if target == Stage.PENDING_APPROVAL:
        return [*prefix, "submit_for_approval"]
    return [*prefix, "mark_lost"]


OPPORTUNITY_TEXT = ("name", "contract_id", "po_number")


def opportunity_import_row(*, actor: Any, row: Mapping[str, Any], number: int = 0) -> RowOutcome:
    """Create or update one deal (matched by ``id``), then take it to the row's ``stage``
    through the transitions, each gated. Only the columns present are applied."""
    cells = _clean_row(row)
    outcome = RowOutcome(number=number)

    def work() -> None:
        existing = None
        if not _blank(cells.get("id")):
            existing = Opportunity.objects.filter(pk=_id(cells["id"], "id")).first()
            if existing is None:
                raise RowError("not_found", "id", f"There is no deal with id {cells['id']}.")
        target = _stage_value(cells["stage"]) if not _blank(cells.get("stage")) else None
        path = transition_path(existing.stage, target) if existing and target else []
        # Leaving a locked stage (withdraw) or Closed Lost (reopen) comes first, so the
        # row's new values apply to the reopened deal; moves forward come after them.
        unlocking = [name for name in path if name in ("withdraw", "reopen")]
        if existing is not None and unlocking:
            for name in unlocking:
                _transition(outcome, existing.pk, name, actor, cells)
            existing = Opportunity.objects.get(pk=existing.pk)
        data = _opportunity_data(cells, existing)
        line_items = parse_line_items(_text(cells["line_items"])) if "line_items" in cells else None
        if existing is None:
            opp = services.opportunity_create(
                actor=actor, data=data, line_items=line_items, source=Source.ADMIN
            )
            outcome.action = "new"
        else:
            opp = services.opportunity_update(
                opportunity=existing.pk,
                actor=actor,
                data=data,
                line_items=line_items,
                source=Source.ADMIN,
            )
            changed = opp.version != existing.version or bool(unlocking)
            outcome.action = "update" if changed else "skip"
        if target is not None:
            for name in transition_path(opp.stage, target):
                opp = _transition(outcome, opp.pk, name, actor, cells)
                if outcome.action == "skip":
                    outcome.action = "update"
        outcome.object_id, outcome.object_repr, outcome.instance = opp.pk, str(opp), opp

    return _run(outcome, work)


def _transition(
    outcome: RowOutcome, pk: int, name: str, actor: Any, cells: Mapping[str, Any]
) -> Opportunity:
    lost = name == "mark_lost"
    opp = services.opportunity_transition(
        opportunity=pk,
        name=name,
        actor=actor,
        source=Source.ADMIN,
        loss_reason=_text(cells.get("loss_reason")) if lost else "",
        loss_detail=_text(cells.get("loss_detail")) if lost else "",
    )
    outcome.transitions.append(name)
    return opp


def _opportunity_data(cells: Mapping[str, Any], existing: Opportunity | None) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name in OPPORTUNITY_TEXT:
        if name in cells:
            data[name] = _text(cells[name])
    if "type" in cells:
        kind = _text(cells["type"]) or OpportunityType.NEW_BUSINESS
        if kind not in OpportunityType.values:
            raise RowError(
                "invalid_choice",
                "type",
                f"{kind!r} is not one of {', '.join(OpportunityType.values)}.",
            )
        data["type"] = kind
    if "currency" in cells:
        data["currency"] = _text(cells["currency"]).upper()
    if "amount" in cells:
        data["amount"] = _decimal(cells["amount"], "amount")
    for name in ("close_date", "contract_start_date"):
        if name in cells:
            data[name] = _date(cells[name], name)
    if "term_months" in cells:
        data["term_months"] = _int(cells["term_months"], "term_months")
    if "owner" in cells and not _blank(cells["owner"]):
        data["owner"] = _user(cells["owner"], "owner")
    if _has_account_column(cells):
        data["account"] = _account(cells)
    contact_raw = cells.get("primary_contact_id", cells.get("primary_contact"))
    contact_email = _text(cells.get("primary_contact_email"))
    if not _blank(contact_raw):
        contact = Contact.objects.filter(pk=_id(contact_raw, "primary_contact")).first()
        if contact is None:
            raise RowError(
                "does_not_exist", "primary_contact", f"There is no contact with id {contact_raw}."
            )
        data["primary_contact"] = contact
    elif contact_email:
        account = data.get("account", existing.account if existing else None)
        contacts = Contact.objects.filter(email__iexact=contact_email)
        if account is not None:
            contacts = contacts.filter(account=account)
        contact = contacts.order_by("id").first()
        if contact is None:
            raise RowError(
                "does_not_exist",
                "primary_contact",
                f"There is no contact {contact_email!r} at this deal's account.",
            )
        data["primary_contact"] = contact
    elif "primary_contact" in cells or "primary_contact_id" in cells:
        data["primary_contact"] = None
    if existing is not None:
        # Unchanged cells are not writes: a locked (pending or won) deal re-imported from
        # its own export is a no-op, not a ``record_locked`` refusal.
        data = {k: v for k, v in data.items() if not _same(existing, k, v)}
    return data


def _same(opportunity: Opportunity, name: str, value: Any) -> bool:
    field_obj = cast(Field, Opportunity._meta.get_field(name))
    current = getattr(opportunity, field_obj.attname)
    if field_obj.is_relation:
        return current == (value.pk if value is not None else None)
    return current == value


# --- running a file ----------------------------------------------------------------------

Importer = Callable[..., RowOutcome]
IMPORTERS: dict[str, Importer] = {
    "accounts": account_import_row,
    "contacts": contact_import_row,
    "opportunities": opportunity_import_row,
}


def _run(outcome: RowOutcome, work: Callable[[], None]) -> RowOutcome:
    """Run one row in its own transaction: all of it, or none of it and its errors."""
    try:
        with transaction.atomic():
            work()
    except RowError as exc:
        outcome.errors = [exc.error]
    except errors.DomainError as exc:
        outcome.errors = [e.as_dict() for e in exc.errors] or [
            {"code": exc.code, "field": "non_field_errors", "message": exc.detail}
        ]
        if exc.errors and exc.code not in {"invalid", *(e.get("code") for e in exc.errors)}:
            # e.g. gate_failed: keep the overall code next to the unmet requirements.
            outcome.errors.insert(
                0, {"code": exc.code, "field": "non_field_errors", "message": exc.detail}
            )
    if outcome.errors:
        outcome.action = "error"
        outcome.instance = None
    return outcome


def import_rows(
    *,
    kind: str,
    actor: Any,
    rows: Iterable[Mapping[str, Any]],
    progress: Callable[[int], None] | None = None,
    keep_failed: int = 1000,
) -> ImportReport:
    """Import ``rows`` (e.g. a ``csv.DictReader``) of ``kind`` one at a time."""
    importer = IMPORTERS[kind]
    report = ImportReport()
    for number, row in enumerate(rows, start=1):
        outcome = importer(actor=actor, row=row, number=number)
        report.rows += 1
        if outcome.errors:
            if len(report.failed) < keep_failed:
                report.failed.append(outcome)
        elif outcome.action == "new":
            report.new += 1
        elif outcome.action == "update":
            report.updated += 1
        else:
            report.skipped += 1
        if progress is not None and number % 500 == 0:
            progress(number)
    return report


__all__ = [
    "IMPORTERS",
    "ImportReport",
    "RowOutcome",
    "account_import_row",
    "contact_import_row",
    "format_line_items",
    "import_rows",
    "opportunity_import_row",
    "parse_line_items",
    "transition_path",
]
