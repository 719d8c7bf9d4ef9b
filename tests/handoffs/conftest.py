"""Fixtures for the handoff tests: a real local receiver, real Celery workers, helpers."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from handoffs.models import Handoff
from opportunities.services import opportunity_transition
from tests.celery_worker import CeleryWorker, purge_queues
from tests.factories import ready_opportunity
from tests.handoffs.http_receiver import Receiver

# Short timeouts and schedules for the worker subprocess, so failure paths play out in
# seconds. The in-process tests use the real default schedule (with time-machine).
WORKER_ENV = {
    "HANDOFF_CONNECT_TIMEOUT": "1",
    "HANDOFF_READ_TIMEOUT": "2",
    "HANDOFF_CLAIM_LEASE": "6",
    "HANDOFF_DISPATCH_LEASE": "3",
    "HANDOFF_RELAY_INTERVAL": "0.5",
    "HANDOFF_RETRY_DELAYS": "2,2,2",
    "LOG_LEVEL": "INFO",
}


@pytest.fixture(scope="session")
def handoff_receiver() -> Iterator[Receiver]:
    receiver = Receiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture
def receiver(handoff_receiver: Receiver) -> Iterator[Receiver]:
    handoff_receiver.reset()
    yield handoff_receiver
    handoff_receiver.reset()


@pytest.fixture
def endpoints(settings, receiver: Receiver) -> Receiver:
    """Point this process's handoff endpoints at the local receiver (in-process sends)."""
    settings.HANDOFF_ENDPOINTS = receiver.endpoints()
    return receiver


@pytest.fixture
def make_worker(
    handoff_receiver, tmp_path, django_db_setup
) -> Iterator[Callable[..., CeleryWorker]]:
    """A factory of (not yet started) workers wired to the receiver; all stopped after."""
    workers: list[CeleryWorker] = []

    def make(**env: str) -> CeleryWorker:
        worker = CeleryWorker(
            env={**WORKER_ENV, **handoff_receiver.env(), **env},
            log_dir=tmp_path,
            name=f"w{len(workers)}",
        )
        workers.append(worker)
        return worker

    purge_queues()
    yield make
    for worker in workers:
        worker.stop()
    purge_queues()


@pytest.fixture(scope="module")
def shared_worker(handoff_receiver, tmp_path_factory, django_db_setup) -> Iterator[CeleryWorker]:
    """One running worker (with beat: the relay every 0.5 s) for a whole test module."""
    purge_queues()
    worker = CeleryWorker(
        env={**WORKER_ENV, **handoff_receiver.env()},
        log_dir=tmp_path_factory.mktemp("worker"),
        name="shared",
    ).start()
    yield worker
    worker.stop()
    purge_queues()


def approve(rep, revops, **opportunity_fields: Any):
    """A ready deal taken through submit and approve by the services; returns the deal and
    its handoffs by kind."""
    opportunity = ready_opportunity(rep, **opportunity_fields)
    opportunity_transition(opportunity=opportunity, name="submit_for_approval", actor=rep)
    opportunity_transition(opportunity=opportunity, name="approve", actor=revops)
    return opportunity, handoffs_of(opportunity)


def handoffs_of(opportunity) -> dict[str, Handoff]:
    return {h.kind: h for h in Handoff.objects.filter(opportunity=opportunity)}


def wait_until(
    predicate: Callable[[], Any],
    timeout: float = 10.0,
    what: str = "",
    worker: CeleryWorker | None = None,
) -> Any:
    """Poll ``predicate`` until it returns something truthy, or fail with context."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            detail = list(Handoff.objects.values_list("kind", "status", "attempts", "last_error"))
            log = worker.log()[-3000:] if worker else ""
            raise AssertionError(f"timed out waiting for {what}; handoffs: {detail}\n{log}")
        time.sleep(0.05)


def statuses(opportunity) -> dict[str, str]:
    return dict(Handoff.objects.filter(opportunity=opportunity).values_list("kind", "status"))


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def broker_unreachable() -> Iterator[None]:
    """Make *this* process's publisher point at a port where nothing listens (a broker
    outage as the web process sees it); the worker keeps its own connection."""
    from closedwon.celery import app

    def reset_publisher() -> None:
        # Drop the cached pools only: kombu keeps one pool per broker URL, so the good
        # one (still open) is found again when the URL is restored.
        app._pool = None
        app.amqp._producer_pool = None

    # Celery reads CELERY_BROKER_URL from the environment before its own config.
    good_conf, good_env = app.conf.broker_url, os.environ.get("CELERY_BROKER_URL")
    nowhere = f"redis://127.0.0.1:{closed_port()}/0"
    reset_publisher()
    app.conf.broker_url = os.environ["CELERY_BROKER_URL"] = nowhere
    try:
        assert app.connection_for_write().port == int(nowhere.rsplit(":", 1)[1][:-2])
        yield
    finally:
        reset_publisher()
        app.conf.broker_url = good_conf
        if good_env is None:
            del os.environ["CELERY_BROKER_URL"]
        else:
            os.environ["CELERY_BROKER_URL"] = good_env


@pytest.fixture
def endpoints_env(endpoints: Receiver) -> Receiver:
    """The receiver as the HANDOFF_<KIND>_URL endpoints, and room for more endpoints."""
    return endpoints
