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

import csv
import datetime as dt
import functools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, cast

from django.contrib.auth import get_user_model
from django.db import DatabaseError, transaction
from django.db.models import Field, Q
from django.db.models.functions import Lower

from core import errors
from core.csv_safety import unescape_cell
from core.keys import normalize_key as _normalize_key
from core.money import money_text
from core.parsing import ascii_id

from .. import services
from ..models import Account, Contact, Opportunity, Product
from ..stages import ACCOUNT_FIELDS, CONTACT_FIELDS, OPEN_STAGES, OpportunityType, Source, Stage

# A file names the same few SKUs on every row: fold each once.
normalize_key = functools.lru_cache(maxsize=4096)(_normalize_key)

# Columns the exports write for people to read; an import ignores them.
# Ids and counts fit a PostgreSQL bigint with room to spare.
MAX_INTEGER = 10**18

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
    failures: int = 0
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
        # "inf", "1e999": whole to Decimal, but no database integer (int() of an infinity
        # raises OverflowError; a 30-digit id overflows bigint in the query).
        if not number.is_finite() or abs(number) >= MAX_INTEGER:
            raise InvalidOperation
        if number != number.to_integral_value():
            raise InvalidOperation
        return int(number)
    except (InvalidOperation, ValueError, OverflowError):
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
    pk = ascii_id(text)
    if user is None and pk:
        user = User.objects.filter(pk=pk).first()
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


def parse_line_items(text: str, products: Mapping[str, int] | None = None) -> list[dict[str, Any]]:
    """``"CW-CORE x 10 @ 1200.00; CW-SSO x 10"`` → line item dicts for the services.

    The format the export writes: ``SKU x seats`` with an optional ``@ unit price``,
    separated by ``;``. ``products`` (SKU key → product id), when a batch has read them
    already, saves the query.
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
    if products is None:
        products = dict(
            Product.objects.filter(sku_key__in={normalize_key(s) for s in skus}).values_list(
                "sku_key", "pk"
            )
        )
    for _label, sku, seats, price in parsed:
        key = normalize_key(sku)
        if key not in products:
            raise RowError("does_not_exist", "line_items", f"There is no product {sku!r}.")
        # Numbers stay text: the one line-item parser of the services validates them.
        items.append(
            {
                "product": products[key],
                "seats": seats,
                "unit_price": price.replace(",", "") or None,
            }
        )
    return items


def format_line_items(opportunity: Opportunity) -> str:
    """The inverse of :func:`parse_line_items` (line items and products prefetched)."""
    return line_items_text(
        [(li.product.sku, li.seats, li.unit_price) for li in opportunity.line_items.all()],
        opportunity.currency,
    )


def line_items_text(items: Iterable[tuple[str, int, Decimal | None]], currency: str) -> str:
    """``(sku, seats, unit price)`` triples as the export writes them:
    ``"CW-CORE x 10 @ 1200.00; CW-SSO x 10"`` (prices in the currency's minor units)."""
    return "; ".join(
        f"{sku} x {seats}" + (f" @ {money_text(price, currency)}" if price is not None else "")
        for sku, seats, price in items
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


class _Lookup:
    """How an opportunity row's references (owner, account, contact) are found: one query
    each, row by row. :class:`_BatchLookup` answers the same questions from a whole batch
    read in constant queries; both raise the same ``RowError``s."""

    def user(self, value: Any, name: str) -> Any:
        return _user(value, name)

    def account(self, cells: Mapping[str, Any]) -> Account | None:
        return _account(cells)

    def contact(self, pk: int) -> Contact | None:
        return Contact.objects.filter(pk=pk).first()

    def contact_by_email(self, email: str, account: Account | None) -> Contact | None:
        contacts = Contact.objects.filter(email__iexact=email)
        if account is not None:
            contacts = contacts.filter(account=account)
        return contacts.order_by("id").first()

    def products(self) -> Mapping[str, int] | None:
        return None


ROW_LOOKUP = _Lookup()


def _opportunity_data(
    cells: Mapping[str, Any], existing: Opportunity | None, lookup: _Lookup = ROW_LOOKUP
) -> dict[str, Any]:
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
        data["owner"] = lookup.user(cells["owner"], "owner")
    if _has_account_column(cells):
        data["account"] = lookup.account(cells)
    contact_raw = cells.get("primary_contact_id", cells.get("primary_contact"))
    contact_email = _text(cells.get("primary_contact_email"))
    if not _blank(contact_raw):
        contact = lookup.contact(_id(contact_raw, "primary_contact"))
        if contact is None:
            raise RowError(
                "does_not_exist", "primary_contact", f"There is no contact with id {contact_raw}."
            )
        data["primary_contact"] = contact
    elif contact_email:
        account = data.get("account", existing.account if existing else None)
        contact = lookup.contact_by_email(contact_email, account)
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


def _row_errors(exc: RowError | errors.DomainError) -> list[dict[str, str]]:
    """A refused row's errors as ``{"code", "field", "message"}`` dicts."""
    if isinstance(exc, RowError):
        return [exc.error]
    out = [e.as_dict() for e in exc.errors] or [
        {"code": exc.code, "field": "non_field_errors", "message": exc.detail}
    ]
    if exc.errors and exc.code not in {"invalid", *(e.get("code") for e in exc.errors)}:
        # e.g. gate_failed: keep the overall code next to the unmet requirements.
        out.insert(0, {"code": exc.code, "field": "non_field_errors", "message": exc.detail})
    return out


def _run(outcome: RowOutcome, work: Callable[[], None]) -> RowOutcome:
    """Run one row in its own transaction: all of it, or none of it and its errors."""
    try:
        with transaction.atomic():
            work()
    except (RowError, errors.DomainError) as exc:
        outcome.errors = _row_errors(exc)
    if outcome.errors:
        outcome.action = "error"
        outcome.instance = None
    return outcome


# --- opportunities in batches ------------------------------------------------------------

BATCH_SIZE = 500


class _BatchLookup(_Lookup):
    """The owners, accounts, contacts and products every row of a batch names, read in six
    queries whatever the batch's size; answers like :class:`_Lookup`."""

    def __init__(self, batch: Sequence[Mapping[str, Any]]) -> None:
        User = get_user_model()
        names, user_ids, account_ids, externals, contact_ids, emails, skus = (
            set(),
            set(),
            set(),
            set(),
            set(),
            set(),
            set(),
        )
        for cells in batch:
            owner = _text(cells.get("owner"))
            if owner:
                names.add(owner)
                if ascii_id(owner):
                    user_ids.add(cast(int, ascii_id(owner)))
            account_ids.add(_loose_int(cells.get("account_id", cells.get("account"))))
            externals.add(_text(cells.get("account_external_id")))
            contact_ids.add(
                _loose_int(cells.get("primary_contact_id", cells.get("primary_contact")))
            )
            emails.add(_text(cells.get("primary_contact_email")).lower())
            for part in _text(cells.get("line_items")).split(";"):
                sku = part.partition("@")[0].strip().rpartition(" x ")[0].strip()
                if sku:
                    skus.add(normalize_key(sku))
        users = (
            list(User.objects.filter(Q(username__in=names) | Q(pk__in=user_ids))) if names else []
        )
        self._users_by_name = {u.get_username(): u for u in users}
        self._users_by_id = {u.pk: u for u in users}
        accounts = Account.objects.filter(
            Q(pk__in=account_ids - {None}) | Q(external_id__in=externals - {""})
        )
        account_list = list(accounts) if account_ids - {None} or externals - {""} else []
        self._accounts_by_id = {a.pk: a for a in account_list}
        self._accounts_by_external = {a.external_id: a for a in account_list if a.external_id}
        contact_list: list[Contact] = []
        if contact_ids - {None} or emails - {""}:
            contact_list = list(
                Contact.objects.annotate(email_lower=Lower("email"))
                .filter(Q(pk__in=contact_ids - {None}) | Q(email_lower__in=emails - {""}))
                .order_by("id")
            )
        self._contacts_by_id = {c.pk: c for c in contact_list}
        self._contacts_by_email: dict[str, list[Contact]] = {}
        for contact in contact_list:
            self._contacts_by_email.setdefault(contact.email.lower(), []).append(contact)
        product_rows = (
            list(
                Product.objects.filter(sku_key__in=skus).values_list(
                    "sku_key", "pk", "sku", "active"
                )
            )
            if skus
            else []
        )
        self._product_ids = {key: pk for key, pk, _sku, _active in product_rows}
        self.product_info = {pk: (sku, active) for _key, pk, sku, active in product_rows}

    def user(self, value: Any, name: str) -> Any:
        if _blank(value):
            return None
        text = str(value).strip()
        user = self._users_by_name.get(text)
        if user is None and ascii_id(text):
            user = self._users_by_id.get(cast(int, ascii_id(text)))
        if user is None:
            raise RowError("does_not_exist", name, f"There is no user {text!r}.")
        return user

    def account(self, cells: Mapping[str, Any]) -> Account | None:
        raw = cells.get("account_id", cells.get("account"))
        external = _text(cells.get("account_external_id"))
        if not _blank(raw):
            account = self._accounts_by_id.get(_id(raw, "account"))
            if account is None:
                raise RowError("does_not_exist", "account", f"There is no account with id {raw}.")
            return account
        if external:
            account = self._accounts_by_external.get(external)
            if account is None:
                raise RowError(
                    "does_not_exist",
                    "account",
                    f"There is no account with external id {external!r}.",
                )
            return account
        return None

    def contact(self, pk: int) -> Contact | None:
        return self._contacts_by_id.get(pk)

    def contact_by_email(self, email: str, account: Account | None) -> Contact | None:
        for contact in self._contacts_by_email.get(email.lower(), []):
            if account is None or contact.account_id == account.pk:
                return contact
        return None

    def products(self) -> Mapping[str, int] | None:
        return self._product_ids


def _loose_int(value: Any) -> int | None:
    try:
        return _int(value, "")
    except RowError:
        return None


def _batchable(cells: Mapping[str, Any]) -> bool:
    """A new deal that stays in Prospecting needs no lock, no transition and no gate: it
    can be checked in memory and written in bulk. Updates and rows that ask for another
    stage run row by row through the transition service (each step gated)."""
    if not _blank(cells.get("id")):
        return False
    if _blank(cells.get("stage")):
        return True
    try:
        return _stage_value(cells["stage"]) == Stage.PROSPECTING
    except RowError:
        return False


def opportunity_import_batch(
    *, actor: Any, rows: Sequence[tuple[int, Mapping[str, Any]]]
) -> list[RowOutcome]:
    """Import a batch of ``(line number, row)`` pairs; one :class:`RowOutcome` per row, in
    order, with the same actions and error codes as :func:`opportunity_import_row`.

    New deals (no ``id``, no stage beyond Prospecting) are checked in memory by
    ``opportunity_prepare`` against references read for the whole batch, then written by
    ``opportunities_create_many`` in one transaction: a constant number of queries per
    batch. Every other row goes through :func:`opportunity_import_row`. A bad row is
    reported with its line number and codes and costs nothing else; if the bulk write
    itself fails (a database error), the batch's new deals are retried one by one."""
    outcomes: list[RowOutcome] = []
    fresh: list[tuple[RowOutcome, Mapping[str, Any], dict[str, Any]]] = []
    cleaned = [(number, row, _clean_row(row)) for number, row in rows]
    lookup = _BatchLookup([cells for _, _, cells in cleaned if _batchable(cells)])
    prepared: list[tuple[RowOutcome, Opportunity, list[dict[str, Any]] | None]] = []
    for number, row, cells in cleaned:
        outcome = RowOutcome(number=number)
        outcomes.append(outcome)
        if not _batchable(cells):
            outcomes[-1] = opportunity_import_row(actor=actor, row=row, number=number)
            continue
        fresh.append((outcome, row, cells))
        try:
            data = _opportunity_data(cells, None, lookup)
            text = _text(cells["line_items"]) if "line_items" in cells else None
            line_items = parse_line_items(text, lookup.products()) if text is not None else None
            opp, parsed = services.opportunity_prepare(
                actor=actor,
                data=data,
                line_items=line_items,
                products=lookup.product_info,
                references_checked=True,
            )
        except (RowError, errors.DomainError) as exc:
            outcome.errors, outcome.action = _row_errors(exc), "error"
            continue
        prepared.append((outcome, opp, parsed))
    try:
        services.opportunities_create_many(
            actor=actor,
            prepared=[(opp, parsed) for _, opp, parsed in prepared],
            source=Source.ADMIN,
        )
    except DatabaseError:
        by_number = {outcome.number: row for outcome, row, _ in fresh}
        for index, outcome in enumerate(outcomes):
            if outcome.number in by_number and outcome.ok:
                outcomes[index] = opportunity_import_row(
                    actor=actor, row=by_number[outcome.number], number=outcome.number
                )
        return outcomes
    for outcome, opp, _parsed in prepared:
        outcome.action = "new"
        outcome.object_id, outcome.object_repr, outcome.instance = opp.pk, str(opp), opp
    return outcomes


def _batches(
    rows: Iterable[Mapping[str, Any]], size: int
) -> Iterable[list[tuple[int, Mapping[str, Any]]]]:
    batch: list[tuple[int, Mapping[str, Any]]] = []
    for number, row in enumerate(rows, start=1):
        batch.append((number, row))
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def csv_rows(handle: Any, lines: dict[int, int] | None = None) -> Iterator[dict[str, Any]]:
    """The rows of an open CSV text file as dicts, formula escapes undone (an export
    imports back unchanged); ``lines``, when given, gets each row's number → the file line
    it ends on (a quoted cell may span lines), for reporting."""
    reader = csv.DictReader(handle)
    for number, row in enumerate(reader, start=1):
        if lines is not None:
            lines[number] = reader.line_num
        yield {key: unescape_cell(value) for key, value in row.items()}


def import_rows(
    *,
    kind: str,
    actor: Any,
    rows: Iterable[Mapping[str, Any]],
    progress: Callable[[int], None] | None = None,
    keep_failed: int = 1000,
    batch_size: int = BATCH_SIZE,
    on_row: Callable[[RowOutcome], None] | None = None,
) -> ImportReport:
    """Import ``rows`` (e.g. a ``csv.DictReader``) of ``kind``; line numbers count data
    rows from 1. Opportunities go in batches of ``batch_size``
    (:func:`opportunity_import_batch`), the rest one row at a time. Memory stays flat: only
    the first ``keep_failed`` failed rows are kept (without instances), and ``progress``
    (rows done) is called after each batch. ``on_row`` sees every outcome as it comes."""
    report = ImportReport()
    if kind == "opportunities":
        batches: Iterable[list[RowOutcome]] = (
            opportunity_import_batch(actor=actor, rows=batch)
            for batch in _batches(rows, batch_size)
        )
    else:
        importer = IMPORTERS[kind]
        batches = (
            [importer(actor=actor, row=row, number=number) for number, row in batch]
            for batch in _batches(rows, batch_size)
        )
    for outcomes in batches:
        for outcome in outcomes:
            outcome.instance = None
            report.rows += 1
            if on_row is not None:
                on_row(outcome)
            if outcome.errors:
                report.failures += 1
                if len(report.failed) < keep_failed:
                    report.failed.append(outcome)
            elif outcome.action == "new":
                report.new += 1
            elif outcome.action == "update":
                report.updated += 1
            else:
                report.skipped += 1
        if progress is not None:
            progress(report.rows)
    return report


__all__ = [
    "IMPORTERS",
    "ImportReport",
    "RowOutcome",
    "account_import_row",
    "contact_import_row",
    "csv_rows",
    "format_line_items",
    "import_rows",
    "opportunity_import_batch",
    "opportunity_import_row",
    "parse_line_items",
    "transition_path",
]
