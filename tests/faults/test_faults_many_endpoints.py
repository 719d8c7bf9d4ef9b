"""Fault injection with several endpoints per event: every handoff kind and ``deal.won``
go to two endpoints (the HANDOFF_<KIND>_URL one and one RevOps added). Through a worker
SIGKILL mid-send, a broker outage at approval time and a PostgreSQL restart, every
delivery arrives, verified, at its own endpoint, and per webhook-id there is one effect
(every request for an id carries the identical signed body)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from django.db import close_old_connections, connection

from handoffs.models import Handoff, HandoffKind, WebhookEndpoint, WebhookSecret
from tests.handoffs.conftest import approve, broker_unreachable, wait_until
from tests.handoffs.http_receiver import Reply, new_secret

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker, pytest.mark.slow]

# RevOps' endpoints point at 127.0.0.1: the worker must allow it (as DEBUG would).
ALLOW_LOCAL = {"WEBHOOK_ALLOW_PRIVATE": "1", "WEBHOOK_REQUIRE_HTTPS": "0"}


@pytest.fixture
def second_endpoints(receiver) -> dict[str, WebhookEndpoint]:
    """A second endpoint per handoff kind, also subscribed to deal.won, at
    /hooks/<kind>-2/ with its own secret (which the receiver holds)."""
    made = {}
    for kind in HandoffKind.values:
        name = f"{kind}-2"
        secret = new_secret()
        receiver.secrets[name] = secret
        endpoint = WebhookEndpoint.objects.create(
            url=receiver.url(name),
            description=name,
            event_types=[f"handoff.{kind}", "deal.won"],
        )
        WebhookSecret.objects.create(endpoint=endpoint, secret=secret)
        made[name] = endpoint
    return made


def approve_and_win(rep, revops):
    """The approval writes the handoffs and the deal.won deliveries in its transaction."""
    opportunity, _ = approve(rep, revops)
    return opportunity


def rows_of(opportunities) -> list[Handoff]:
    """The webhook deliveries of ``deals`` (the rep's decision e-mail is an outbox row
    too, sent by another channel)."""
    return list(
        Handoff.outbox.filter(opportunity__in=opportunities, channel="webhook").select_related(
            "endpoint"
        )
    )


def all_delivered(opportunities) -> bool:
    rows = rows_of(opportunities)
    return bool(rows) and all(r.status == "delivered" for r in rows)


def assert_one_effect_each(receiver, opportunities) -> None:
    rows = {str(r.pk): r for r in rows_of(opportunities)}
    # Four handoff kinds × two endpoints, and deal.won to the four second endpoints.
    assert len(rows) == 12 * len(opportunities)
    seen = receiver.requests()
    assert {r.headers["webhook-id"] for r in seen} <= set(rows), "an unknown webhook-id"
    for webhook_id, row in rows.items():
        requests = receiver.requests(webhook_id=webhook_id)
        assert requests, f"{row.event_type} to {row.endpoint} never arrived"
        where = row.endpoint.environment_kind or row.endpoint.description
        assert {r.kind for r in requests} == {where}, "delivered to the wrong endpoint"
        assert all(r.verified for r in requests), [r.error for r in requests]
        assert len({r.body for r in requests}) == 1, "retries must resend the identical body"
        assert row.status == "delivered", (row.event_type, row.status, row.last_error)


def test_worker_killed_mid_send_with_two_endpoints_per_event(
    rep, revops, receiver, make_worker, second_endpoints
):
    worker = make_worker(HANDOFF_CLAIM_LEASE="3", HANDOFF_READ_TIMEOUT="10", **ALLOW_LOCAL)
    worker.start()
    receiver.script("billing-2", Reply(200, delay=4))  # the answer comes after the kill
    opportunity = approve_and_win(rep, revops)
    receiver.wait_for(lambda r: r.requests("billing-2"), timeout=15, what="billing-2 POST")
    slow_id = receiver.requests("billing-2")[0].headers["webhook-id"]
    worker.kill()
    worker.start()
    wait_until(lambda: all_delivered([opportunity]), timeout=45, what="redelivery", worker=worker)
    # The request the kill interrupted was sent again, with the same id.
    assert len(receiver.requests(webhook_id=slow_id)) == 2
    assert_one_effect_each(receiver, [opportunity])


def test_broker_down_at_approval_with_two_endpoints_per_event(
    rep, revops, receiver, make_worker, second_endpoints
):
    with broker_unreachable():
        opportunity = approve_and_win(rep, revops)
    assert len(rows_of([opportunity])) == 12 and not receiver.requests()
    worker = make_worker(**ALLOW_LOCAL)
    worker.start()
    wait_until(
        lambda: all_delivered([opportunity]), timeout=40, what="relay delivery", worker=worker
    )
    assert_one_effect_each(receiver, [opportunity])


PG_CTL = shutil.which("pg_ctlcluster")


def test_postgresql_restart_with_two_endpoints_per_event(
    rep, revops, receiver, make_worker, second_endpoints, is_postgres
):
    assert is_postgres
    assert PG_CTL and Path("/etc/postgresql").is_dir(), "needs the local PostgreSQL cluster"
    worker = make_worker(**ALLOW_LOCAL)
    for name in [*HandoffKind.values, *second_endpoints]:
        receiver.always(name, Reply(200, delay=0.3))
    opportunities = [approve_and_win(rep, revops) for _ in range(2)]
    worker.start()
    receiver.wait_for(lambda r: len(r.requests()) >= 2, timeout=15, what="first deliveries")

    version = sorted(os.listdir("/etc/postgresql"))[0]
    subprocess.run(
        [PG_CTL, "--skip-systemctl-redirect", version, "main", "restart"], check=True, timeout=120
    )
    connection.close()
    close_old_connections()

    wait_until(
        lambda: all_delivered(opportunities), timeout=90, what="all delivered", worker=worker
    )
    assert_one_effect_each(receiver, opportunities)
