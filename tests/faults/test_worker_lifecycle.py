"""The outbox survives what happens to workers and the broker: a worker that is down at
approval, a broker the web process cannot reach at commit, duplicate task messages, and
a worker SIGKILLed in the middle of a slow delivery."""

from __future__ import annotations

import pytest

from handoffs.models import Handoff, HandoffAttempt
from handoffs.services import handoffs_enqueue
from opportunities.services import opportunity_transition
from tests.celery_worker import queued_messages
from tests.factories import ready_opportunity
from tests.handoffs.conftest import approve, broker_unreachable, handoffs_of, statuses, wait_until
from tests.handoffs.http_receiver import Reply

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker, pytest.mark.slow]

DELIVER = "handoffs.deliver_many"


def all_delivered(opportunity) -> bool:
    return set(statuses(opportunity).values()) == {"delivered"}


def test_worker_down_at_approval_delivers_once_it_starts(rep, revops, receiver, make_worker):
    worker = make_worker()
    opportunity, handoffs = approve(rep, revops)
    # one message carries every outbox row of the approval's transaction: the four
    # handoffs and the rep's decision e-mail
    assert queued_messages(DELIVER) == 1
    assert set(statuses(opportunity).values()) == {"pending"}

    worker.start()

    wait_until(lambda: all_delivered(opportunity), timeout=15, what="delivery", worker=worker)
    for kind, handoff in handoffs.items():
        (request,) = receiver.requests(kind)
        assert request.verified and request.headers["webhook-id"] == str(handoff.pk)


def test_two_copies_of_each_task_at_once_post_once(rep, revops, receiver, make_worker):
    """Given three messages per handoff queued back to back, when a worker with two
    processes takes them, copies of one task run at the same moment, yet each handoff is
    POSTed exactly once."""
    worker = make_worker()
    opportunity = ready_opportunity(rep)
    opportunity_transition(opportunity=opportunity, name="submit_for_approval", actor=rep)
    with broker_unreachable():  # no on-commit messages: we queue the copies ourselves
        opportunity_transition(opportunity=opportunity, name="approve", actor=revops)
    handoffs = handoffs_of(opportunity)
    for kind, handoff in handoffs.items():
        receiver.always(kind, Reply(200, delay=0.3))  # the copies overlap the first POST
        for _ in range(3):
            handoffs_enqueue([handoff.pk])
    assert queued_messages(DELIVER) == 12

    worker.start()

    wait_until(lambda: all_delivered(opportunity), timeout=15, what="delivery", worker=worker)
    wait_until(lambda: queued_messages(DELIVER) == 0, timeout=10, what="queue drained")
    for kind in handoffs:
        assert len(receiver.requests(kind)) == 1, kind
    # one attempt per handoff (the rep's decision e-mail is an outbox row of its own)
    assert HandoffAttempt.objects.filter(handoff__channel="webhook").count() == 4


def test_broker_unreachable_at_commit_the_relay_delivers_once_it_is_back(
    rep, revops, receiver, make_worker
):
    worker = make_worker()
    opportunity = ready_opportunity(rep)
    opportunity_transition(opportunity=opportunity, name="submit_for_approval", actor=rep)
    with broker_unreachable():
        opportunity_transition(opportunity=opportunity, name="approve", actor=revops)
    assert queued_messages(DELIVER) == 0  # nothing was published
    assert set(statuses(opportunity).values()) == {"pending"}

    worker.start()  # broker and worker back: only the relay knows about these rows

    wait_until(lambda: all_delivered(opportunity), timeout=15, what="relay delivery", worker=worker)
    assert "Relay enqueues" in worker.log()
    assert len(receiver.requests()) == 4 and all(r.verified for r in receiver.requests())


def test_sigkill_during_a_slow_delivery_is_delivered_after_restart_with_the_same_id(
    rep, revops, receiver, make_worker
):
    worker = make_worker().start()
    receiver.script("billing", Reply(200, delay=1.5))  # slow, but inside the read timeout

    opportunity, handoffs = approve(rep, revops)
    billing = handoffs["billing"]
    receiver.wait_for(lambda r: len(r.requests("billing")) == 1, what="billing in flight")

    worker.kill()  # the whole worker, mid-POST: nothing recorded, nothing acked

    billing.refresh_from_db()
    assert billing.status == "pending" and billing.attempts == 1
    assert HandoffAttempt.objects.get(handoff=billing).outcome == "sending"

    restarted = make_worker().start()

    wait_until(lambda: all_delivered(opportunity), timeout=20, what="redelivery", worker=restarted)
    first, second = receiver.requests("billing")
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == str(billing.pk)
    assert first.body == second.body and second.verified
    assert list(
        HandoffAttempt.objects.filter(handoff=billing)
        .order_by("number")
        .values_list("number", "outcome")
    ) == [(1, "interrupted"), (2, "delivered")]
    assert Handoff.objects.get(pk=billing.pk).attempts == 2
    assert handoffs_of(opportunity)["billing"].status == "delivered"
