"""End to end with a real Celery worker process (prefork, beat embedded: the relay every
0.5 s) against PostgreSQL, the broker and a real local receiver. The worker runs a short
schedule (2 s between tries, 3 retries) so failure paths play out in seconds."""

from __future__ import annotations

import time

import pytest
from standardwebhooks import Webhook

from handoffs.models import Handoff, HandoffAttempt
from handoffs.services import handoff_retry
from tests.handoffs.conftest import approve, statuses, wait_until
from tests.handoffs.http_receiver import Reply

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker, pytest.mark.slow]

KINDS = {"billing", "provisioning", "customer_success", "commission"}


def test_approve_delivers_four_signed_webhooks(rep, revops, receiver, shared_worker):
    opportunity, handoffs = approve(rep, revops)

    wait_until(
        lambda: set(statuses(opportunity).values()) == {"delivered"},
        timeout=10,
        what="four deliveries",
        worker=shared_worker,
    )

    assert {r.kind for r in receiver.requests()} == KINDS
    for kind, handoff in handoffs.items():
        (request,) = receiver.requests(kind)
        assert request.verified, request.error
        Webhook(receiver.secrets[kind]).verify(request.body, request.headers)
        assert request.headers["webhook-id"] == str(handoff.pk) == request.payload["id"]
        assert request.headers["idempotency-key"] == request.headers["webhook-id"]
        assert request.payload["type"] == f"handoff.{kind}"
        assert request.payload["data"]["opportunity"]["id"] == opportunity.pk
    data = {kind: receiver.requests(kind)[0].payload["data"] for kind in KINDS}
    assert data["billing"]["billing"]["bill_to"]["email"] == opportunity.primary_contact.email
    assert data["provisioning"]["provisioning"]["total_seats"] == 10
    assert data["commission"]["commission"]["credit_amount"] == "100.00"  # 1000.00 × 0.10
    assert data["customer_success"]["customer_success"]["owner"]["username"] == rep.username


def test_one_failing_kind_never_holds_up_the_other_three(rep, revops, receiver, shared_worker):
    """Given billing hangs past the read timeout, the other three are delivered while
    billing's first attempt is still in flight."""
    receiver.always("billing", Reply(200, delay=3))  # read timeout is 2 s

    opportunity, handoffs = approve(rep, revops)

    wait_until(
        lambda: sum(s == "delivered" for s in statuses(opportunity).values()) == 3,
        timeout=10,
        what="three deliveries",
        worker=shared_worker,
    )
    billing = Handoff.objects.get(pk=handoffs["billing"].pk)
    assert billing.status == "pending"  # still sending its first attempt
    assert HandoffAttempt.objects.get(handoff=billing).outcome == "sending"

    receiver.always("billing", Reply(200))
    wait_until(
        lambda: (
            Handoff.objects.get(pk=billing.pk).attempts >= 1
            and Handoff.objects.get(pk=billing.pk).status != "pending"
        ),
        timeout=10,
        what="billing's first attempt to time out",
        worker=shared_worker,
    )
    billing.refresh_from_db()
    assert billing.last_error.startswith("timeout")
    wait_until(
        lambda: Handoff.objects.get(pk=billing.pk).status == "delivered",
        timeout=10,
        what="billing delivered on retry",
        worker=shared_worker,
    )


def test_500_then_200_is_retrying_then_delivered_on_schedule(rep, revops, receiver, shared_worker):
    receiver.script("provisioning", Reply(500), Reply(200))

    opportunity, handoffs = approve(rep, revops)

    pk = handoffs["provisioning"].pk
    retrying = wait_until(
        lambda: Handoff.objects.filter(pk=pk, status="retrying").first(),
        timeout=10,
        what="retrying",
        worker=shared_worker,
    )
    assert retrying.attempts == 1 and retrying.last_status_code == 500
    first_at = HandoffAttempt.objects.get(handoff_id=pk, number=1).at
    assert abs((retrying.next_attempt_at - first_at).total_seconds() - 2) < 0.5

    wait_until(
        lambda: Handoff.objects.filter(pk=pk, status="delivered").exists(),
        timeout=10,
        what="delivered on retry",
        worker=shared_worker,
    )
    first, second = receiver.requests("provisioning")
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == str(pk)
    gap = second.at - first.at
    # Never before the schedule; picked up by a relay run soon after (0.5 s interval,
    # with room for a slow CI machine).
    assert 2.0 <= gap < 6.0, gap


def test_429_retry_after_is_honoured(rep, revops, receiver, shared_worker):
    receiver.script("commission", Reply(429, {"Retry-After": "4"}), Reply(200))

    _, handoffs = approve(rep, revops)

    pk = handoffs["commission"].pk
    wait_until(
        lambda: Handoff.objects.filter(pk=pk, status="delivered").exists(),
        timeout=12,
        what="delivered after Retry-After",
        worker=shared_worker,
    )
    first, second = receiver.requests("commission")
    assert second.at - first.at >= 4.0  # not at the schedule's 2 s
    assert HandoffAttempt.objects.get(handoff_id=pk, number=1).retry_after_s == 4


def test_dead_after_the_last_attempt_then_retry_re_drives_it(
    rep, revops, revops2, receiver, shared_worker
):
    receiver.always("customer_success", Reply(500))

    opportunity, handoffs = approve(rep, revops)

    pk = handoffs["customer_success"].pk
    wait_until(
        lambda: Handoff.objects.filter(pk=pk, status="dead").exists(),
        timeout=15,
        what="dead",
        worker=shared_worker,
    )
    assert Handoff.objects.get(pk=pk).attempts == 4  # first try + the 3 retries configured
    time.sleep(1.2)  # two relay runs: a dead handoff is left alone
    assert len(receiver.requests("customer_success")) == 4

    receiver.always("customer_success", Reply(200))
    handoff_retry(handoff=Handoff.objects.get(pk=pk), actor=revops2)

    wait_until(
        lambda: Handoff.objects.filter(pk=pk, status="delivered").exists(),
        timeout=5,
        what="delivered after re-drive",
        worker=shared_worker,
    )
    requests = receiver.requests("customer_success")
    assert len(requests) == 5 and {r.headers["webhook-id"] for r in requests} == {str(pk)}
    assert all(r.verified for r in requests)
