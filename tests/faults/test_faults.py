"""Fault injection (issue 8): nothing is lost and, per webhook-id, there is one effect.

"One effect" is what a downstream can rely on: every request for a handoff carries the
handoff's webhook-id and the same signed payload, so a receiver that deduplicates on
webhook-id (as Standard Webhooks asks) applies each handoff exactly once — and no request
ever carries an id that is not one of the deal's four handoffs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest
from django.db import close_old_connections, connection

from core import errors
from handoffs.models import CommissionCredit, Handoff
from handoffs.services import handoff_retry
from opportunities import services
from opportunities.models import Approval, Opportunity, StageChange
from tests.factories import make_user, ready_opportunity
from tests.handoffs.conftest import approve, handoffs_of, statuses, wait_until
from tests.handoffs.http_receiver import Reply

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker, pytest.mark.slow]


def assert_one_effect_per_webhook_id(receiver, opportunities) -> None:
    handoffs = {str(h.pk): h for h in Handoff.objects.filter(opportunity__in=opportunities)}
    assert len(handoffs) == 4 * len(opportunities)
    seen = receiver.requests()
    assert {r.headers["webhook-id"] for r in seen} <= set(handoffs), (
        "a request with an unknown webhook-id"
    )
    for webhook_id, handoff in handoffs.items():
        requests = receiver.requests(webhook_id=webhook_id)
        assert requests, f"{handoff.kind} never reached the receiver"
        assert all(r.verified for r in requests), [r.error for r in requests]
        assert all(r.headers["idempotency-key"] == webhook_id for r in requests)
        assert len({r.body for r in requests}) == 1, "retries must resend the identical payload"
        assert handoff.status == "delivered", (handoff.kind, handoff.status, handoff.last_error)


def test_worker_killed_after_the_post_before_marking_resends_the_same_id(
    rep, revops, receiver, make_worker
):
    """The receiver has the request (and acted on it) but the worker dies before it can
    record the answer: after a restart the handoff is sent again with the same id and
    body, and ends delivered — one effect for an idempotent receiver."""
    worker = make_worker(HANDOFF_CLAIM_LEASE="3", HANDOFF_READ_TIMEOUT="10")
    worker.start()
    receiver.script("billing", Reply(200, delay=4))  # the answer comes after the kill
    opportunity, _ = approve(rep, revops)
    receiver.wait_for(lambda r: r.requests("billing"), timeout=15, what="billing POST")

    worker.kill()
    assert statuses(opportunity)["billing"] != "delivered"
    worker.start()

    wait_until(
        lambda: set(statuses(opportunity).values()) == {"delivered"},
        timeout=40,
        what="redelivery",
        worker=worker,
    )
    assert len(receiver.requests("billing")) == 2
    assert_one_effect_per_webhook_id(receiver, [opportunity])


def test_misbehaving_endpoints_500_timeout_429_and_410(rep, revops, revops2, receiver, make_worker):
    """Four downstreams fail four ways at once; each is handled on its own."""
    worker = make_worker(HANDOFF_READ_TIMEOUT="1", HANDOFF_RETRY_DELAYS="1,1,1")
    worker.start()
    receiver.script("billing", Reply(500), Reply(200))
    receiver.script("provisioning", Reply(200, delay=2.5), Reply(200))  # first answer too late
    receiver.script("customer_success", Reply(429, {"Retry-After": "2"}), Reply(200))
    receiver.script("commission", Reply(410), Reply(200))
    opportunity, handoffs = approve(rep, revops)

    wait_until(
        lambda: (
            statuses(opportunity)
            == {
                "billing": "delivered",
                "provisioning": "delivered",
                "customer_success": "delivered",
                "commission": "dead",
            }
        ),
        timeout=30,
        what="three delivered, commission dead",
        worker=worker,
    )
    cs = receiver.requests("customer_success")
    assert len(cs) == 2 and cs[1].at - cs[0].at >= 1.9, "Retry-After: 2 was not honoured"
    assert len(receiver.requests("commission")) == 1, "410 Gone must not be retried"

    handoff_retry(handoff=Handoff.objects.get(pk=handoffs["commission"].pk), actor=revops2)
    wait_until(
        lambda: statuses(opportunity)["commission"] == "delivered",
        timeout=15,
        what="re-driven commission",
        worker=worker,
    )
    assert_one_effect_per_webhook_id(receiver, [opportunity])


PG_CTL = shutil.which("pg_ctlcluster")


def restart_postgres() -> None:
    version = sorted(os.listdir("/etc/postgresql"))[0]
    subprocess.run(
        [PG_CTL, "--skip-systemctl-redirect", version, "main", "restart"], check=True, timeout=120
    )


def test_postgresql_restart_during_the_relay_loses_nothing(
    rep, revops, receiver, make_worker, is_postgres
):
    assert is_postgres
    assert PG_CTL and Path("/etc/postgresql").is_dir(), (
        "needs the local PostgreSQL cluster (pg_ctlcluster)"
    )
    worker = make_worker()
    for kind in ("billing", "provisioning", "customer_success", "commission"):
        receiver.always(kind, Reply(200, delay=0.4))
    opportunities = [approve(rep, revops)[0] for _ in range(3)]
    worker.start()
    receiver.wait_for(lambda r: len(r.requests()) >= 2, timeout=15, what="first deliveries")

    restart_postgres()
    connection.close()  # this process's connection died with the server
    close_old_connections()

    wait_until(
        lambda: all(set(statuses(d).values()) == {"delivered"} for d in opportunities),
        timeout=60,
        what="all delivered after the restart",
        worker=worker,
    )
    assert_one_effect_per_webhook_id(receiver, opportunities)


def test_twenty_concurrent_approvals_of_one_deal(rep, receiver, make_worker):
    opportunity = ready_opportunity(rep)
    services.opportunity_transition(opportunity=opportunity, name="submit_for_approval", actor=rep)
    approvers = [make_user("revops", f"racer{i}") for i in range(20)]
    barrier = threading.Barrier(20)
    results: list[object] = [None] * 20

    def approve_now(i: int) -> None:
        try:
            barrier.wait()
            results[i] = services.opportunity_transition(
                opportunity=opportunity.pk, name="approve", actor=approvers[i]
            )
        except Exception as exc:  # noqa: BLE001
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=approve_now, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)

    assert sum(isinstance(r, Opportunity) for r in results) == 1, results
    refused = [r for r in results if not isinstance(r, Opportunity)]
    assert all(isinstance(r, errors.DomainError) for r in refused), refused
    assert {r.code for r in refused} <= {"transition_not_allowed", "concurrent_update"}
    assert Approval.objects.filter(opportunity=opportunity, decision="approved").count() == 1
    assert StageChange.objects.filter(opportunity=opportunity, transition="approve").count() == 1
    assert sorted(
        Handoff.objects.filter(opportunity=opportunity).values_list("kind", flat=True)
    ) == [
        "billing",
        "commission",
        "customer_success",
        "provisioning",
    ]
    assert CommissionCredit.objects.filter(opportunity=opportunity).count() == 1

    worker = make_worker()
    worker.start()
    wait_until(
        lambda: set(statuses(opportunity).values()) == {"delivered"},
        timeout=20,
        what="delivery",
        worker=worker,
    )
    time.sleep(1)  # a late duplicate would show up here
    assert len(receiver.requests()) == 4
    assert_one_effect_per_webhook_id(receiver, [opportunity])
    assert handoffs_of(opportunity)
