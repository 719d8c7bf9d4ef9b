"""Decision e-mails: the rep hears that RevOps approved or rejected their deal.

The transition queues the message in the outbox in the deciding transaction (one row per
decision); the outbox delivers it after commit with the same claim / attempt / schedule /
relay machinery as the webhooks. Most tests deliver the due rows by calling the delivery
service and read Django's locmem outbox; one runs a real Celery worker.
"""

from __future__ import annotations

import time

import pytest
from django.core import mail
from django.utils import timezone

from handoffs import services as outbox
from handoffs.models import Handoff, HandoffStatus
from opportunities import services
from opportunities.models import StageChange
from opportunities.stages import Source
from tests.admin.conftest import approve_url, client_for, pending_opportunity, reject_url

pytestmark = pytest.mark.django_db


def decide(approval, name, actor, **params) -> StageChange:
    services.opportunity_transition(
        opportunity=approval.opportunity_id, name=name, actor=actor, source=Source.ADMIN, **params
    )
    return StageChange.objects.get(opportunity_id=approval.opportunity_id, transition=name)


def decision_row(change: StageChange) -> Handoff:
    return Handoff.outbox.get(dedupe_key=f"decision:{change.pk}")


def deliver(row: Handoff) -> Handoff:
    Handoff.outbox.filter(pk=row.pk).update(next_attempt_at=timezone.now())
    outbox.handoffs_deliver(handoff_ids=[row.pk])
    row.refresh_from_db()
    return row


def test_a_decision_queues_an_email_in_the_outbox_and_sends_only_after_commit(
    rep, revops, django_capture_on_commit_callbacks
):
    approval = pending_opportunity(rep)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client_for(revops).post(reject_url(approval), {"reason": "Wrong PO"})

    assert response.status_code == 302
    row = decision_row(StageChange.objects.get(transition="reject"))
    assert (row.channel, row.event_type, row.status) == ("email", "email.decision", "pending")
    assert len(mail.outbox) == 0  # nothing leaves before commit
    assert callbacks  # the outbox publishes from an on_commit callback


def test_other_transitions_send_no_decision_email(rep):
    approval = pending_opportunity(rep)

    services.opportunity_transition(opportunity=approval.opportunity_id, name="withdraw", actor=rep)

    assert not Handoff.outbox.filter(channel="email").exists()


def test_the_rep_is_told_their_deal_was_approved(rep, revops):
    revops.first_name, revops.last_name = "Rita", "Reyes"
    revops.save()
    change = decide(pending_opportunity(rep, name="Acme renewal"), "approve", revops)

    row = deliver(decision_row(change))

    [message] = mail.outbox
    assert message.to == [rep.email]
    assert message.subject == "Approved: Acme renewal is Closed-Won"
    assert "Rita Reyes approved your Closed-Won request." in message.body
    assert f"/opportunities/{change.opportunity_id}/" in message.body
    assert row.status == HandoffStatus.DELIVERED
    assert row.attempts == row.attempt_rows.count() == 1


def test_the_rep_is_told_why_their_deal_was_rejected(rep, revops):
    change = decide(
        pending_opportunity(rep, name="Globex"),
        "reject",
        revops,
        reason="PO is for the wrong entity",
    )

    deliver(decision_row(change))

    [message] = mail.outbox
    assert message.subject == "Not approved: Globex needs changes"
    assert "PO is for the wrong entity" in message.body


def test_the_submitter_is_copied_when_someone_else_owns_the_deal(rep, revops, revops2):
    approval = pending_opportunity(revops2)
    services.opportunity_update(
        opportunity=approval.opportunity_id, actor=revops, data={"owner": rep}, source=Source.ADMIN
    )
    change = decide(approval, "approve", revops)

    deliver(decision_row(change))

    [message] = mail.outbox
    assert (message.to, message.cc) == ([rep.email], [revops2.email])


def test_a_redelivered_message_does_not_email_twice(rep, revops):
    change = decide(pending_opportunity(rep), "approve", revops)
    row = decision_row(change)

    deliver(row)
    outbox.handoffs_deliver(handoff_ids=[row.pk])

    assert len(mail.outbox) == 1


def test_a_rep_without_an_email_address_is_skipped_visibly(rep, revops):
    rep.email = ""
    rep.save()
    change = decide(pending_opportunity(rep), "approve", revops)

    row = decision_row(change)

    assert row.status == HandoffStatus.SKIPPED
    assert mail.outbox == []


def test_a_mail_server_that_is_down_is_recorded_and_retried(rep, revops, settings):
    # a real SMTP backend aimed at a closed local port
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2
    change = decide(pending_opportunity(rep), "approve", revops)

    row = deliver(decision_row(change))

    assert row.status == HandoffStatus.RETRYING
    assert row.next_attempt_at is not None and row.next_attempt_at > timezone.now()
    [attempt] = row.attempt_rows.all()
    assert "refused" in attempt.error.lower() or "errno" in attempt.error.lower()

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    row = deliver(row)
    assert (row.status, row.attempts, len(mail.outbox)) == (HandoffStatus.DELIVERED, 2, 1)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_celery_worker_sends_the_email_after_the_approval_commits(rep, revops):
    from celery.contrib.testing.worker import start_worker

    from closedwon.celery import app
    from tests.celery_worker import purge_queues

    purge_queues()  # messages left by earlier tests that approved without a worker
    approval = pending_opportunity(rep, name="Worker deal")
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        response = client_for(revops).post(approve_url(approval))
        assert response.status_code == 302
        deadline = time.monotonic() + 20
        decision = "Approved: Worker deal is Closed-Won"
        while time.monotonic() < deadline and decision not in [m.subject for m in mail.outbox]:
            time.sleep(0.1)

    # The submission told the RevOps step's members too (its own outbox row).
    assert [m.subject for m in mail.outbox if not m.subject.startswith("[RevOps]")] == [decision]
    assert (
        Handoff.outbox.get(channel="email", event_type="email.decision").status
        == HandoffStatus.DELIVERED
    )
