"""The gate's facts: the only part of the gate that reads the database.

:func:`gather_facts` reads what :func:`~opportunities.gate.rules.evaluate` needs for one
opportunity or a whole page of them in a constant number of queries, whatever their
number and the number of their line items:

1. line items (skipped when prefetched, or when the target does not look at them);
2. primary contacts (skipped when joined, as every selector does);
3. who already claims these contract IDs / PO numbers;
4. the RevOps-configured stage requirements.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db.models import DecimalField, Q, Value
from django.utils import timezone

from core.money import money_amount
from documents.rules import RequirementFacts

from ..stages import CLAIMING_STAGES, Stage
from .rules import CLOSED_WON_TARGETS, GateFacts, LineFacts, normalize_key, stages_up_to

if TYPE_CHECKING:
    from ..models import Opportunity

# Unsaved line items a form wants evaluated: (seats, unit price) pairs.
LineInput = Sequence[tuple[int | None, Decimal | None]]


def claims(
    *, contract_keys: AbstractSet[str], po_pairs: AbstractSet[tuple[int | None, str]]
) -> list[tuple[int, str, str, int | None]]:
    """Pending/won opportunities claiming any of these contract keys or (account, PO key)
    pairs, as ``(id, contract key, PO key, account id)``: one query for one opportunity or
    a whole page. The partial unique indexes allow one claimer per key, so the result
    stays small."""
    from ..models import Opportunity

    if not contract_keys and not po_pairs:
        return []
    match = Q(pk__in=[])
    if contract_keys:
        match |= Q(contract_key__in=contract_keys)
    if po_pairs:
        match |= Q(
            po_key__in={key for _, key in po_pairs},
            account_id__in={account for account, _ in po_pairs},
        )
    return list(
        Opportunity.objects.filter(stage__in=CLAIMING_STAGES)
        .filter(match)
        .values_list("pk", "contract_key", "po_key", "account_id")
    )


def _line_facts(
    opps: Sequence[Opportunity], closing: bool, line_items: LineInput | None
) -> list[tuple[LineFacts, ...]]:
    from ..models import LineItem

    if line_items is not None:
        given = tuple(LineFacts(seats, price) for seats, price in line_items)
        return [given for _ in opps]
    if not closing:
        return [() for _ in opps]
    loaded: dict[int, list[LineFacts]] = defaultdict(list)
    missing = []
    for opp in opps:
        prefetched = getattr(opp, "_prefetched_objects_cache", {}).get("line_items")
        if prefetched is not None:
            loaded[opp.pk] = [LineFacts(li.seats, li.unit_price) for li in prefetched]
        elif opp.pk is not None:
            missing.append(opp.pk)
    if missing:
        for opp_id, seats, price in (
            LineItem.objects.filter(opportunity_id__in=missing)
            .order_by("opportunity_id", "id")
            .values_list("opportunity_id", "seats", "unit_price")
        ):
            loaded[opp_id].append(LineFacts(seats, price))
    return [tuple(loaded.get(opp.pk, ())) if opp.pk is not None else () for opp in opps]


def _contacts(opps: Sequence[Opportunity]) -> dict[int, tuple[int | None, str]]:
    from ..models import Contact, Opportunity

    contacts: dict[int, tuple[int | None, str]] = {}
    uncached = []
    for opp in opps:
        if opp.primary_contact_id is None:
            continue
        if Opportunity.primary_contact.is_cached(opp):  # type: ignore[attr-defined]
            contact = opp.primary_contact
            if contact is not None:
                contacts[opp.primary_contact_id] = (contact.account_id, contact.email)
        else:
            uncached.append(opp.primary_contact_id)
    if uncached:
        for pk, account_id, email in Contact.objects.filter(pk__in=uncached).values_list(
            "pk", "account_id", "email"
        ):
            contacts[pk] = (account_id, email)
    return contacts


def _configuration(
    stages: Sequence[str], closing: bool
) -> tuple[tuple[tuple[str, str], ...], tuple[RequirementFacts, ...]]:
    """What RevOps configured: the required fields of ``stages`` and, for Closed-Won, the
    evidence documents: one query for both (UNION ALL of the two small tables)."""
    from documents.models import DocumentKind, EvidenceRequirement

    from ..models import StageRequirement

    if not stages:
        return (), ()
    # No ORDER BY inside a UNION (SQLite refuses it): sorted below.
    fields = (
        StageRequirement.objects.filter(stage__in=stages)
        .order_by()
        .values_list(
            Value("field"), "stage", "field", Value(None, output_field=DecimalField()), "id"
        )
    )
    query = fields
    if closing:
        query = fields.union(
            EvidenceRequirement.objects.order_by().values_list(
                Value("evidence"), Value(""), "kind", "min_amount", "id"
            ),
            all=True,
        )
    configured: list[tuple[str, str]] = []
    evidence: list[RequirementFacts] = []
    for source, stage, name, minimum, pk in query:
        if source == "field":
            configured.append((stage, name))
        else:
            label = DocumentKind(name).label if name in DocumentKind.values else name
            evidence.append(
                RequirementFacts(id=pk, kind=name, min_amount=minimum, label=str(label))
            )
    evidence.sort(key=lambda r: (r.kind, r.min_amount is not None, r.min_amount or 0, r.id))
    return tuple(sorted(configured)), tuple(evidence)


def _inactive_owners(opps: Sequence[Opportunity]) -> set[int]:
    """The deactivated owners among ``opps``' owners: none when the owners are joined (the
    transition service and the lists join them), else one query."""
    from django.contrib.auth import get_user_model

    from ..models import Opportunity

    inactive: set[int] = set()
    uncached = set()
    for opp in opps:
        if opp.owner_id is None:
            continue
        if Opportunity.owner.is_cached(opp):  # type: ignore[attr-defined]
            if not opp.owner.is_active:
                inactive.add(opp.owner_id)
        else:
            uncached.add(opp.owner_id)
    if uncached:
        inactive |= set(
            get_user_model()
            .objects.filter(pk__in=uncached, is_active=False)
            .values_list("pk", flat=True)
        )
    return inactive


def gather_facts(
    opportunities: Sequence[Opportunity],
    *,
    target: str = Stage.CLOSED_WON,
    line_items: LineInput | None = None,
) -> list[GateFacts]:
    """The facts of each opportunity for ``target``, in the order given.

    At most four queries for any number of opportunities (three when their primary
    contacts are joined, two for a target that does not need the Closed-Won gate).
    ``line_items`` replaces the saved line items of every opportunity given: a form
    evaluates unsaved rows this way (the live checklist).
    """

    opps = list(opportunities)
    if not opps:
        return []
    closing = target in CLOSED_WON_TARGETS
    items = _line_facts(opps, closing, line_items)
    contacts = _contacts(opps)
    inactive_owners = _inactive_owners(opps) if closing else set()

    contract_claimers: dict[str, set[int]] = defaultdict(set)
    po_claimers: dict[tuple[int | None, str], set[int]] = defaultdict(set)
    if closing:
        contract_keys = {normalize_key(o.contract_id) for o in opps} - {""}
        po_pairs = {
            (o.account_id, normalize_key(o.po_number))
            for o in opps
            if o.account_id and normalize_key(o.po_number)
        }
        for claimer, ck, pk_, claim_account in claims(
            contract_keys=contract_keys, po_pairs=po_pairs
        ):
            if ck:
                contract_claimers[ck].add(claimer)
            if pk_:
                po_claimers[(claim_account, pk_)].add(claimer)

    configured, requirements = _configuration(stages_up_to(target), closing)
    present: dict[int, frozenset[str]] = {}
    if requirements:
        from documents.selectors import document_kinds

        present = document_kinds([o.pk for o in opps if o.pk is not None])
    today = timezone.localdate()

    facts = []
    for opp, opp_items in zip(opps, items, strict=True):
        opp_items = tuple(
            LineFacts(li.seats, money_amount(li.unit_price, opp.currency)) for li in opp_items
        )
        contract_key = normalize_key(opp.contract_id)
        po_key = normalize_key(opp.po_number)
        contact_account_id, contact_email = contacts.get(opp.primary_contact_id or 0, (None, ""))
        facts.append(
            GateFacts(
                account_id=opp.account_id,
                amount=money_amount(opp.amount, opp.currency),
                currency=opp.currency,
                close_date=opp.close_date,
                contract_id=opp.contract_id or "",
                po_number=opp.po_number or "",
                primary_contact_id=opp.primary_contact_id,
                contact_account_id=contact_account_id,
                contact_email=contact_email or "",
                contract_start_date=opp.contract_start_date,
                term_months=opp.term_months,
                line_items=opp_items,
                contract_id_in_use=bool(contract_key)
                and bool(contract_claimers.get(contract_key, set()) - {opp.pk}),
                po_number_in_use=bool(po_key)
                and opp.account_id is not None
                and bool(po_claimers.get((opp.account_id, po_key), set()) - {opp.pk}),
                configured=configured,
                today=today,
                evidence_requirements=requirements,
                evidence_present=present.get(opp.pk, frozenset()) if opp.pk else frozenset(),
                amount_reporting=opp.amount,
                owner_active=opp.owner_id not in inactive_owners,
            )
        )
    return facts


def gather_one(
    opportunity: Opportunity,
    *,
    target: str = Stage.CLOSED_WON,
    line_items: LineInput | None = None,
) -> GateFacts:
    """:func:`gather_facts` of one opportunity."""
    return gather_facts([opportunity], target=target, line_items=line_items)[0]
