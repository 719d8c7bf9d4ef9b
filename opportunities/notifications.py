"""Decision e-mails: RevOps approved or rejected a rep's Closed-Won request.

Nothing leaves the process before commit:

1. :func:`decision_email_create` is called by the transition, inside its transaction. For
   ``approve`` and ``reject`` it writes a :class:`DecisionEmail` row and asks for
   ``send_decision_email.delay(stage_change_id)`` on commit, so a rolled-back decision
   sends nothing.
2. The task is thin and calls :func:`decision_email_send`, which sends with Django's
   email framework (console backend in the embedded default) and records the result on
   the row. A redelivered task finds the row sent and does not email twice.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.utils import timezone

from .models import DecisionEmail, DecisionEmailStatus, Opportunity, StageChange

logger = logging.getLogger(__name__)

DECISIONS = ("approve", "reject")


def decision_email_create(*, stage_change: StageChange) -> None:
    """Write the decision e-mail row of an ``approve`` or ``reject`` and send it after
    commit; called inside the deciding transaction."""
    if stage_change.transition not in DECISIONS:
        return
    DecisionEmail.objects.create(stage_change=stage_change)
    stage_change_id = stage_change.pk
    # robust: the decision is committed whatever the broker does; a failed publish is
    # logged and leaves the row pending (visible in the admin) instead of a 500.
    transaction.on_commit(lambda: _enqueue(stage_change_id), robust=True)


def _enqueue(stage_change_id: int) -> None:
    from .tasks import send_decision_email

    send_decision_email.delay(stage_change_id)


def _deal_url(opportunity: Opportunity) -> str:
    # With SITE_URL set (the public base URL) the link is absolute.
    return f"{settings.SITE_URL.rstrip('/')}/opportunities/{opportunity.pk}/"


def _person(user: Any) -> str:
    if user is None:
        return "RevOps"
    return user.get_full_name() or user.get_username()


def decision_email_compose(stage_change: StageChange) -> EmailMessage:
    """The message for one decision: to the deal's owner, copying the submitter when it
    was someone else."""
    opportunity = stage_change.opportunity
    approved = stage_change.transition == "approve"
    amount = (
        f"{opportunity.amount:,.2f} {opportunity.currency}"
        if opportunity.amount is not None
        else "no amount"
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
    lines += ["", f"Open the deal: {_deal_url(opportunity)}"]

    to = [opportunity.owner.email] if opportunity.owner.email else []
    approval = (
        opportunity.approvals.select_related("submitted_by")
        .filter(decided_at__lte=stage_change.at)
        .order_by("-decided_at", "-id")
        .first()
    )
    cc = []
    if approval is not None and approval.submitted_by_id != opportunity.owner_id:
        submitter_email = approval.submitted_by.email
        if submitter_email and submitter_email not in to:
            cc.append(submitter_email)
    return EmailMessage(
        subject=subject,
        body="\n".join(lines) + "\n",
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=to,
        cc=cc,
    )


COMPOSE_FIELDS = (
    "transition",
    "reason",
    "at",
    "actor__username",
    "actor__first_name",
    "actor__last_name",
    "opportunity__name",
    "opportunity__amount",
    "opportunity__currency",
    "opportunity__account__name",
    "opportunity__owner__username",
    "opportunity__owner__email",
)


def decision_email_send(*, stage_change_id: int) -> DecisionEmail | None:
    """Send the decision email of ``stage_change_id`` once.

    Enforces: one email per decision (the row is locked while sending, and a sent or
    skipped row is never sent again); a failure is recorded on the row and re-raised so
    the task retries.
    """
    failure: Exception | None = None
    with transaction.atomic():
        change = (
            StageChange.objects.select_related(
                "actor", "opportunity", "opportunity__owner", "opportunity__account"
            )
            # Only what the message shows: the worker sends one per decision.
            .only(*COMPOSE_FIELDS)
            .filter(pk=stage_change_id, transition__in=DECISIONS)
            .first()
        )
        if change is None:
            logger.warning("decision email: no decision with stage change id %s", stage_change_id)
            return None
        # The transition wrote the row (one query); create it only if it is missing.
        email = DecisionEmail.objects.select_for_update().filter(stage_change=change).first()
        if email is None:
            DecisionEmail.objects.get_or_create(stage_change=change)
            email = DecisionEmail.objects.select_for_update().get(stage_change=change)
        if email.status in (DecisionEmailStatus.SENT, DecisionEmailStatus.SKIPPED):
            return email
        message = decision_email_compose(change)
        email.subject = str(message.subject)
        email.to = ", ".join([*message.to, *message.cc])
        email.attempts += 1
        if not message.to and not message.cc:
            email.status = DecisionEmailStatus.SKIPPED
            email.error = "The deal's owner has no email address."
        else:
            try:
                message.send()
            except Exception as exc:  # noqa: BLE001 - recorded, then re-raised for a retry
                email.status = DecisionEmailStatus.FAILED
                email.error = f"{type(exc).__name__}: {exc}"[:2000]
                failure = exc
            else:
                email.status = DecisionEmailStatus.SENT
                email.error = ""
                email.sent_at = timezone.now()
        email.save()
    if failure is not None:
        raise failure
    return email
