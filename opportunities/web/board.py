"""Rep UI additions around the board and the deal page: days in stage, the stale flag,
the next step on a card, the stages a deal really visited, and the approval page's live
handoff list.

Reads cost a constant number of queries whatever the number of cards: one grouped query
for when each card's deal last changed stage.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, cast

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Max
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from core import errors

from .. import policies, selectors, services
from ..models import Approval, Opportunity, StageChange
from ..stages import OPEN_STAGES, STAGE_ORDER, Source, Stage
from .http import safe_next

# Days without any change after which an open deal is flagged stale, per stage. A stage
# missing here uses DEFAULT_STALE_DAYS. Override with settings.BOARD_STALE_DAYS.
DEFAULT_STALE_DAYS = 14
STALE_DAYS: dict[str, int] = {
    Stage.PROSPECTING: 30,
    Stage.QUALIFICATION: 21,
    Stage.PROPOSAL: 14,
    Stage.NEGOTIATION: 10,
    Stage.PENDING_APPROVAL: 3,
}


def stale_days(stage: str) -> int:
    """Days without a change before a deal in ``stage`` is stale (settings win)."""
    configured: dict[str, int] = getattr(settings, "BOARD_STALE_DAYS", {}) or {}
    return int(configured.get(stage, STALE_DAYS.get(stage, DEFAULT_STALE_DAYS)))


@dataclass(frozen=True)
class CardFlags:
    """What a board card shows beyond the deal's own fields.

    ``days_in_stage``: whole days since the deal entered its stage (since creation when it
    never moved). ``stale_reasons``: human sentences, empty when the deal is not stale.
    """

    days_in_stage: int
    stale_reasons: tuple[str, ...]

    @property
    def stale(self) -> bool:
        return bool(self.stale_reasons)


_NOT_READ = object()


def entered_stage_at(opportunities: Iterable[Opportunity]) -> dict[int, dt.datetime]:
    """When each deal last changed stage: the ``entered_stage_at`` the board's card query
    annotates, else one grouped query over StageChange for the deals without it."""
    out: dict[int, dt.datetime] = {}
    ids = []
    for o in opportunities:
        known = getattr(o, "entered_stage_at", _NOT_READ)
        if known is _NOT_READ:
            ids.append(o.pk)
        elif known is not None:
            out[o.pk] = cast(dt.datetime, known)
    if not ids:
        return out
    rows = (
        StageChange.objects.filter(opportunity_id__in=ids)
        .order_by()
        .values("opportunity_id")
        .annotate(last=Max("at"))
    )
    out.update({row["opportunity_id"]: row["last"] for row in rows})
    return out


def card_flags(
    opportunities: Iterable[Opportunity], *, now: dt.datetime | None = None
) -> dict[int, CardFlags]:
    """Days in stage and the stale flag of each deal, keyed by id (one query)."""
    opportunities = list(opportunities)
    now = now or timezone.now()
    today = timezone.localdate(now)
    entered = entered_stage_at(opportunities)
    out: dict[int, CardFlags] = {}
    for opp in opportunities:
        since = entered.get(opp.pk) or opp.created_at
        days = max(0, (now - since).days) if since else 0
        reasons: list[str] = []
        limit = stale_days(opp.stage)
        idle = (now - opp.updated_at).days if opp.updated_at else 0
        if idle >= limit:
            reasons.append(f"No change for {idle} days (stale after {limit} in this stage).")
        if opp.stage in OPEN_STAGES and opp.close_date and opp.close_date < today:
            reasons.append("The close date has passed.")
        out[opp.pk] = CardFlags(days, tuple(reasons))
    return out


def decorate_columns(columns: Iterable[Any]) -> None:
    """Attach ``flags`` (CardFlags) to every card of the board's columns, in one query."""
    columns = list(columns)
    cards = [card for column in columns for card in column.cards]
    flags = card_flags(cards)
    for card in cards:
        card.flags = flags[card.pk]


# --- the stage path --------------------------------------------------------------------------


def visited_stages(opportunity: Opportunity) -> set[str]:
    """Every stage the deal has been in (from its stage changes), its current one included."""
    rows = StageChange.objects.filter(opportunity_id=opportunity.pk).values_list(
        "from_stage", "to_stage"
    )
    visited = {opportunity.stage}
    for from_stage, to_stage in rows:
        visited.update(s for s in (from_stage, to_stage) if s)
    return visited


def stage_path(opportunity: Opportunity) -> list[dict[str, Any]]:
    """The stage path bar: open stages, pending, then won (or lost).

    A stage is ticked ("done") only when the deal was really in it and has moved on; a
    skipped stage stays "todo" (a deal dragged from Prospecting to Negotiation never was in
    Qualification or Proposal). One query.
    """
    final = Stage.CLOSED_LOST if opportunity.stage == Stage.CLOSED_LOST else Stage.CLOSED_WON
    steps = [*STAGE_ORDER[:-1], final]
    visited = visited_stages(opportunity)
    out = []
    for stage in steps:
        if stage == opportunity.stage:
            state = "current"
        elif stage in visited:
            state = "done"
        else:
            state = "todo"
        out.append(
            {
                "stage": stage,
                "label": "Pending approval"
                if stage == Stage.PENDING_APPROVAL
                else str(Stage(stage).label),
                "state": state,
            }
        )
    return out


# --- next step on a card -------------------------------------------------------------------


class NextStepForm(forms.Form):
    next_step = forms.CharField(label="Next step", max_length=200, required=False)
    next_step_date = forms.DateField(
        label="By", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)


@login_required
@require_POST
def next_step(request: HttpRequest, pk: int) -> HttpResponse:
    """Set (or clear) a deal's next step and its date, through ``opportunity_update``.

    Redirects back (``next``) with a message; refusals (permission, stale version,
    invalid date) come back as an error message and change nothing.
    """
    opportunity = selectors.opportunity_get(pk)
    if opportunity is None:
        raise Http404("No such deal.")
    back = safe_next(request, reverse("pipeline"))
    form = NextStepForm(request.POST)
    if not form.is_valid():
        first = next(iter(form.errors.values()))[0]
        messages.error(request, f"The next step of “{opportunity.name}” was not saved.\n{first}")
        return HttpResponseRedirect(back)
    try:
        services.opportunity_update(
            opportunity=opportunity.pk,
            actor=request.user,
            data={
                "next_step": form.cleaned_data["next_step"].strip(),
                "next_step_date": form.cleaned_data["next_step_date"],
            },
            expected_version=form.cleaned_data.get("version"),
            source=Source.UI,
        )
    except errors.StaleVersion:
        messages.error(
            request,
            f"The next step of “{opportunity.name}” was not saved.\n"
            "Someone changed this deal meanwhile: reload and try again.",
        )
    except errors.DomainError as exc:
        lines = [str(e.get("message")) for e in exc.errors if e.get("message")] or [exc.detail]
        messages.error(
            request, "\n".join([f"The next step of “{opportunity.name}” was not saved.", *lines])
        )
    else:
        messages.success(request, f"Next step of “{opportunity.name}” saved.")
    return HttpResponseRedirect(back)


# --- the approval page's handoffs, live --------------------------------------------------------


@login_required
@require_GET
def approval_handoffs(request: HttpRequest, pk: int) -> HttpResponse:
    """The handoff table of a Closed-Won approval (RevOps only), for the approval page to
    poll while any handoff is still on its way (pending or retrying)."""
    if not policies.is_revops(request.user):
        raise Http404("No such approval.")
    from ..admin.queue_page import _handoff_console_url, handoffs_of

    approval = Approval.objects.select_related("opportunity").filter(pk=pk).first()
    if approval is None:
        raise Http404("No such approval.")
    handoffs = handoffs_of(approval)
    return render(
        request,
        "admin/opportunities/closedwonapproval/_handoffs.html",
        {
            "approval": approval,
            "handoffs": handoffs,
            "handoff_console_url": _handoff_console_url(approval.opportunity),
            "poll_url": reverse("approval-handoffs", args=[approval.pk]),
        },
    )
