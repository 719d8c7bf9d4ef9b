"""Reads for the RevOps approval queue in the admin (issue 6).

The queue shows, for every deal on a page, whether it passes the Closed-Won gate. Calling
``gates.gather_facts`` per row would cost up to three queries a row; instead
:func:`gate_facts_for_page` gathers the same facts for a whole page in three queries (line
items, contract/PO claims, RevOps-configured requirements), and the page is evaluated
with the very same pure ``gates.evaluate``. A parity test pins it to ``gather_facts``.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.db.models import Count, Min, QuerySet, Sum
from django.utils import timezone

from . import gates
from .models import Approval, Contact, Decision, LineItem, Opportunity, StageRequirement
from .stages import OPEN_STAGES, Stage


def gate_facts_for_page(opportunities: Sequence[Opportunity]) -> dict[int, gates.GateFacts]:
    """The Closed-Won gate facts of many deals in at most four queries, whatever their
    number (three when their primary contacts are joined, as the queue's are)."""
    opps = [o for o in opportunities if o.pk is not None]
    if not opps:
        return {}

    items: dict[int, list[gates.LineFacts]] = defaultdict(list)
    missing_items = []
    for opp in opps:
        prefetched = getattr(opp, "_prefetched_objects_cache", {}).get("line_items")
        if prefetched is None:
            missing_items.append(opp.pk)
        else:
            items[opp.pk] = [gates.LineFacts(li.seats, li.unit_price) for li in prefetched]
    if missing_items:
        for opp_id, seats, price in (
            LineItem.objects.filter(opportunity_id__in=missing_items)
            .order_by("opportunity_id", "id")
            .values_list("opportunity_id", "seats", "unit_price")
        ):
            items[opp_id].append(gates.LineFacts(seats, price))

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

    # Who already claims these contract IDs / PO numbers? The partial unique indexes let
    # each key be claimed by one deal at most, so this returns at most one row per key.
    contract_keys = {gates.normalize_key(o.contract_id) for o in opps} - {""}
    po_pairs = {(o.account_id, gates.normalize_key(o.po_number)) for o in opps if o.account_id}
    claims = gates.claims(contract_keys=contract_keys, po_pairs={p for p in po_pairs if p[1]})
    contract_claimers: dict[str, set[int]] = defaultdict(set)
    po_claimers: dict[tuple[int | None, str], set[int]] = defaultdict(set)
    for claimer, ck, pk_, claim_account in claims:
        if ck:
            contract_claimers[ck].add(claimer)
        if pk_:
            po_claimers[(claim_account, pk_)].add(claimer)

    configured = tuple(
        StageRequirement.objects.filter(stage__in=(*OPEN_STAGES, Stage.PENDING_APPROVAL))
        .order_by("stage", "field")
        .values_list("stage", "field")
    )
    today = timezone.localdate()

    facts: dict[int, gates.GateFacts] = {}
    for opp in opps:
        contract_key = gates.normalize_key(opp.contract_id)
        po_key = gates.normalize_key(opp.po_number)
        contact_account_id, contact_email = contacts.get(opp.primary_contact_id or 0, (None, ""))
        facts[opp.pk] = gates.GateFacts(
            account_id=opp.account_id,
            amount=opp.amount,
            currency=opp.currency,
            close_date=opp.close_date,
            contract_id=opp.contract_id or "",
            po_number=opp.po_number or "",
            primary_contact_id=opp.primary_contact_id,
            contact_account_id=contact_account_id,
            contact_email=contact_email or "",
            contract_start_date=opp.contract_start_date,
            term_months=opp.term_months,
            line_items=tuple(items.get(opp.pk, ())),
            contract_id_in_use=bool(contract_key)
            and bool(contract_claimers.get(contract_key, set()) - {opp.pk}),
            po_number_in_use=bool(po_key)
            and opp.account_id is not None
            and bool(po_claimers.get((opp.account_id, po_key), set()) - {opp.pk}),
            configured=configured,
            today=today,
        )
    return facts


def gate_unmet_for_page(opportunities: Sequence[Opportunity]) -> dict[int, list[gates.Unmet]]:
    """Every unmet Closed-Won requirement of each deal, keyed by deal id."""
    return {
        pk: gates.evaluate(facts, Stage.CLOSED_WON)
        for pk, facts in gate_facts_for_page(opportunities).items()
    }


def queue_queryset() -> QuerySet[Approval]:
    """Approvals with everything a queue row shows joined or prefetched."""
    from django.db.models import Prefetch

    return (
        Approval.objects.select_related(
            "opportunity",
            "opportunity__account",
            "opportunity__owner",
            "opportunity__primary_contact",
            "submitted_by",
            "decided_by",
        )
        .prefetch_related(
            Prefetch(
                "opportunity__line_items",
                queryset=LineItem.objects.order_by("id").only(
                    "id", "opportunity_id", "seats", "unit_price"
                ),
            )
        )
        .order_by("submitted_at", "id")
    )


def queue_summary(request: Any = None) -> dict[str, Any]:
    """Head of the queue: how many deals wait, since when, their value per currency, and
    the owners who have deals waiting (the Owner filter's choices) — one query, grouped
    by currency and owner, run once per request (memoised on ``request``)."""
    cached = getattr(request, "_closedwon_queue_summary", None)
    if cached is not None:
        return cached
    rows = list(
        Approval.objects.filter(decision=Decision.PENDING)
        .values(
            "opportunity__currency",
            "opportunity__owner_id",
            "opportunity__owner__username",
            "opportunity__owner__first_name",
            "opportunity__owner__last_name",
        )
        .annotate(n=Count("id"), total=Sum("opportunity__amount"), oldest=Min("submitted_at"))
        .order_by()
    )
    totals: dict[str, Decimal] = defaultdict(Decimal)
    owners: dict[int, tuple[str, str, str]] = {}
    for r in rows:
        totals[r["opportunity__currency"]] += r["total"] or Decimal(0)
        owners[r["opportunity__owner_id"]] = (
            r["opportunity__owner__first_name"],
            r["opportunity__owner__last_name"],
            r["opportunity__owner__username"],
        )
    oldest = min((r["oldest"] for r in rows), default=None)
    summary = {
        "count": sum(r["n"] for r in rows),
        "totals": [
            {"currency": currency, "amount": amount}
            for currency, amount in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        "oldest_wait": waiting_label(timezone.now() - oldest) if oldest else "",
        "owners": [  # ordered and labelled as User.get_full_name() or the username
            (str(pk), f"{first} {last}".strip() or username)
            for pk, (first, last, username) in sorted(owners.items(), key=lambda kv: kv[1])
        ],
    }
    if request is not None:
        request._closedwon_queue_summary = summary
    return summary


def waiting_label(delta: dt.timedelta) -> str:
    """A wait as a person says it: "12 min", "3 h 12 min", "2 d 4 h"."""
    minutes = max(0, int(delta.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {mins} min" if mins else f"{hours} h"
    return f"{mins} min"
