"""Decision e-mails: RevOps approved or rejected a rep's Closed-Won request.

:func:`decision_email` composes the message; the transition service queues it in the
outbox in the deciding transaction (``handoffs.services.email_enqueue``, one row per
decision), so a rolled-back decision sends nothing, and a lost message or a failed send
is re-driven like a handoff (claim, attempts, schedule, relay).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from core import formatting
from core.money import money_amount

from .models import Approval, Opportunity, StageChange

DECISIONS = ("approve", "reject")


def _opportunity_url(opportunity: Opportunity) -> str:
    # With SITE_URL set (the public base URL) the link is absolute.
    return f"{settings.SITE_URL.rstrip('/')}/opportunities/{opportunity.pk}/"


def _person(user: Any) -> str:
    return formatting.person(user, empty="RevOps")


def decision_email(*, stage_change: StageChange, approval: Approval | None) -> dict[str, Any]:
    """The message for one decision, as ``{"to", "cc", "subject", "body"}``: to the
    deal's owner, copying the submitter when it was someone else."""
    opportunity = stage_change.opportunity
    approved = stage_change.transition == "approve"
    amount = formatting.money(
        money_amount(opportunity.amount, opportunity.currency),
        opportunity.currency,
        empty="no amount",
    )
    account = opportunity.account.name if opportunity.account else "no account"
    if approved:
        subject = f"Approved: {opportunity.name} is Closed-Won"
        lines = [
            f"{_person(stage_change.actor)} approved your Closed-Won request.",
            "",
            f"Deal:    {opportunity.name}",
            f"Account: {account}",
            f"Amount:  {amount}",
            "",
            "Billing, provisioning, customer success and commissions are being handed the deal now.",
        ]
    else:
        subject = f"Not approved: {opportunity.name} needs changes"
        lines = [
            f"{_person(stage_change.actor)} did not approve your Closed-Won request.",
            "",
            "Reason:",
            f"  {stage_change.reason}",
            "",
            f"Deal:    {opportunity.name}",
            f"Account: {account}",
            f"Amount:  {amount}",
            "",
            "The deal is back in Negotiation: fix what the reason says and request Closed-Won again.",
        ]
    lines += ["", f"Open the deal: {_opportunity_url(opportunity)}"]

    to = [opportunity.owner.email] if opportunity.owner.email else []
    cc = []
    if approval is not None and approval.submitted_by_id != opportunity.owner_id:
        submitter_email = approval.submitted_by.email
        if submitter_email and submitter_email not in to:
            cc.append(submitter_email)
    return {"to": to, "cc": cc, "subject": subject, "body": "\n".join(lines) + "\n"}
