"""Decision emails: the rep hears that RevOps approved or rejected their deal.

The receiver runs inside the decision's transaction and only asks for the task on
commit; the task calls ``notifications.decision_email_send``. Most tests call that
service directly and read Django's locmem outbox; one runs the task for real in a
Celery worker.
"""

from __future__ import annotations

import time

import pytest
from django.core import mail

from opportunities import notifications, services
from opportunities.models import DecisionEmail, DecisionEmailStatus, StageChange
from opportunities.stages import Source
from tests.admin.conftest import approve_url, client_for, pending_deal, reject_url

pytestmark = pytest.mark.django_db


def decide(approval, name, actor, **params) -> StageChange:
    services.opportunity_transition(
        opportunity=approval.opportunity_id, name=name, actor=actor, source=Source.ADMIN, **params
    )
    return StageChange.objects.get(opportunity_id=approval.opportunity_id, transition=name)


def test_a_decision_records_an_email_and_asks_for_it_only_after_commit(
    rep, revops, django_capture_on_commit_callbacks
):
    approval = pending_deal(rep)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client_for(revops).post(reject_url(approval), {"reason": "Wrong PO"})

    assert response.status_code == 302
    change = StageChange.objects.get(transition="reject")
    email = DecisionEmail.objects.get(stage_change=change)
    assert email.status == DecisionEmailStatus.PENDING
    assert len(mail.outbox) == 0  # nothing leaves before commit
    assert callbacks  # the task is published from an on_commit callback


def test_other_transitions_send_no_decision_email(rep):
    approval = pending_deal(rep)

    services.opportunity_transition(opportunity=approval.opportunity_id, name="withdraw", actor=rep)

    assert not DecisionEmail.objects.exists()


def test_the_rep_is_told_their_deal_was_approved(rep, revops):
    revops.first_name, revops.last_name = "Rita", "Reyes"
    revops.save()
    change = decide(pending_deal(rep, name="Acme renewal"), "approve", revops)

    notifications.decision_email_send(stage_change_id=change.pk)

    [message] = mail.outbox
    assert message.to == [rep.email]
    assert message.subject == "Approved: Acme renewal is Closed-Won"
    assert "Rita Reyes approved your Closed-Won request." in message.body
    assert f"/opportunities/{change.opportunity_id}/" in message.body
    email = DecisionEmail.objects.get(stage_change=change)
    assert (email.status, email.to, email.attempts) == (DecisionEmailStatus.SENT, rep.email, 1)


def test_the_rep_is_told_why_their_deal_was_rejected(rep, revops):
    change = decide(
        pending_deal(rep, name="Globex"), "reject", revops, reason="PO is for the wrong entity"
    )

    notifications.decision_email_send(stage_change_id=change.pk)

    [message] = mail.outbox
    assert message.subject == "Not approved: Globex needs changes"
    assert "PO is for the wrong entity" in message.body


def test_the_submitter_is_copied_when_someone_else_owns_the_deal(rep, revops, revops2):
    approval = pending_deal(revops2)
    services.opportunity_update(
        opportunity=approval.opportunity_id, actor=revops, data={"owner": rep}, source=Source.ADMIN
    )
    change = decide(approval, "approve", revops)

    notifications.decision_email_send(stage_change_id=change.pk)

    [message] = mail.outbox
    assert (message.to, message.cc) == ([rep.email], [revops2.email])


def test_a_redelivered_task_does_not_email_twice(rep, revops):
    change = decide(pending_deal(rep), "approve", revops)

    notifications.decision_email_send(stage_change_id=change.pk)
    notifications.decision_email_send(stage_change_id=change.pk)

    assert len(mail.outbox) == 1


def test_a_rep_without_an_email_address_is_skipped_visibly(rep, revops):
    rep.email = ""
    rep.save()
    change = decide(pending_deal(rep), "approve", revops)

    email = notifications.decision_email_send(stage_change_id=change.pk)

    assert email is not None and email.status == DecisionEmailStatus.SKIPPED
    assert mail.outbox == []


def test_a_mail_server_that_is_down_is_recorded_and_retried(rep, revops, settings):
    # a real SMTP backend aimed at a closed local port
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2
    change = decide(pending_deal(rep), "approve", revops)

    with pytest.raises(OSError):
        notifications.decision_email_send(stage_change_id=change.pk)

    email = DecisionEmail.objects.get(stage_change=change)
    assert (email.status, email.attempts) == (DecisionEmailStatus.FAILED, 1)
    assert "Connection refused" in email.error or "Errno" in email.error

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    notifications.decision_email_send(stage_change_id=change.pk)
    email.refresh_from_db()
    assert (email.status, email.attempts, len(mail.outbox)) == (DecisionEmailStatus.SENT, 2, 1)


def test_an_unknown_stage_change_is_ignored(db):
    assert notifications.decision_email_send(stage_change_id=987654) is None


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_celery_worker_sends_the_email_after_the_approval_commits(rep, revops):
    from celery.contrib.testing.worker import start_worker

    from closedwon.celery import app
    from tests.celery_worker import purge_queues

    purge_queues()  # messages left by earlier tests that approved without a worker
    approval = pending_deal(rep, name="Worker deal")
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        response = client_for(revops).post(approve_url(approval))
        assert response.status_code == 302
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not mail.outbox:
            time.sleep(0.1)

    assert [m.subject for m in mail.outbox] == ["Approved: Worker deal is Closed-Won"]
    assert DecisionEmail.objects.get().status == DecisionEmailStatus.SENT
