"""Sending one handoff (SPEC §5), in this process against a real local receiver: signing,
what counts as success, the retry schedule in ``next_attempt_at`` (time-machine), Retry-
After, skipped kinds, and the claim that keeps two senders from both POSTing."""

from __future__ import annotations

import datetime as dt
import email.utils
import threading
import time
import uuid

import pytest
import time_machine
from django.db import close_old_connections, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from handoffs.models import Handoff, HandoffAttempt
from handoffs.services import handoff_deliver, handoffs_deliver, handoffs_relay
from tests.celery_worker import purge_queues
from tests.handoffs.conftest import approve, closed_port
from tests.handoffs.http_receiver import Reply

DEFAULT_SCHEDULE = [5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400]


def attempts_of(handoff):
    return list(HandoffAttempt.objects.filter(handoff=handoff).order_by("number"))


@pytest.mark.django_db
def test_each_handoff_is_posted_signed_with_its_id_as_idempotency_key(rep, revops, endpoints):
    _, handoffs = approve(rep, revops)

    for handoff in handoffs.values():
        assert handoff_deliver(handoff_id=handoff.pk) is not None

    assert len(endpoints.requests()) == 4
    for kind, handoff in handoffs.items():
        (request,) = endpoints.requests(kind)
        assert request.verified, request.error
        assert request.headers["webhook-id"] == str(handoff.pk)
        assert request.headers["idempotency-key"] == str(handoff.pk)
        assert request.headers["content-type"] == "application/json"
        assert request.headers["webhook-signature"].startswith("v1,")
        assert abs(int(request.headers["webhook-timestamp"]) - timezone.now().timestamp()) < 30
        assert request.payload == handoff.payload
        # Signed with this kind's own secret: another kind's secret does not verify it.
        other = "billing" if kind != "billing" else "commission"
        with pytest.raises(WebhookVerificationError):
            Webhook(endpoints.secrets[other]).verify(request.body, request.headers)
        handoff.refresh_from_db()
        assert handoff.status == "delivered" and handoff.attempts == 1
        assert handoff.delivered_at is not None and handoff.claim_token is None
        (attempt,) = attempts_of(handoff)
        assert attempt.outcome == "delivered" and attempt.status_code == 200
        assert attempt.duration_ms is not None and "ok" in attempt.response_excerpt


@pytest.mark.django_db
def test_a_delivered_handoff_is_not_sent_again(rep, revops, endpoints):
    _, handoffs = approve(rep, revops)
    handoff_deliver(handoff_id=handoffs["billing"].pk)

    assert handoff_deliver(handoff_id=handoffs["billing"].pk) is None
    assert len(endpoints.requests("billing")) == 1


@pytest.mark.django_db
def test_500_then_200_is_retried_5_seconds_later_with_the_same_id(rep, revops, endpoints):
    _, handoffs = approve(rep, revops)
    billing = handoffs["billing"]
    endpoints.script("billing", Reply(500, body=b"upstream exploded"), Reply(200))

    with time_machine.travel(timezone.now(), tick=False) as traveller:
        first_try = timezone.now()
        billing = handoff_deliver(handoff_id=billing.pk)
        assert billing.status == "retrying" and billing.attempts == 1
        assert billing.next_attempt_at == first_try + dt.timedelta(seconds=5)
        assert billing.last_error == "HTTP 500" and billing.last_status_code == 500
        (failed,) = attempts_of(billing)
        assert failed.outcome == "failed" and "upstream exploded" in failed.response_excerpt

        traveller.shift(4.9)
        assert handoff_deliver(handoff_id=billing.pk) is None  # not due yet
        assert len(endpoints.requests("billing")) == 1

        traveller.shift(0.2)
        billing = handoff_deliver(handoff_id=billing.pk)

    assert billing.status == "delivered" and billing.attempts == 2 and billing.last_error == ""
    first, second = endpoints.requests("billing")
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == str(billing.pk)
    assert first.body == second.body and first.verified and second.verified
    assert [a.outcome for a in attempts_of(billing)] == ["failed", "delivered"]


@pytest.mark.django_db
def test_the_default_schedule_runs_to_dead_after_the_tenth_try(rep, revops, endpoints):
    _, handoffs = approve(rep, revops)
    endpoints.always("commission", Reply(503))
    pk = handoffs["commission"].pk

    with time_machine.travel(timezone.now(), tick=False) as traveller:
        handoff = handoff_deliver(handoff_id=pk)
        for number, delay in enumerate(DEFAULT_SCHEDULE, start=1):
            assert handoff.status == "retrying" and handoff.attempts == number
            assert handoff.next_attempt_at == timezone.now() + dt.timedelta(seconds=delay)
            traveller.shift(delay - 1)
            assert handoff_deliver(handoff_id=pk) is None
            traveller.shift(1)
            handoff = handoff_deliver(handoff_id=pk)
        assert handoff.status == "dead" and handoff.attempts == 10
        assert handoff.next_attempt_at is None

        traveller.shift(dt.timedelta(days=30))
        assert handoff_deliver(handoff_id=pk) is None
        assert str(pk) not in handoffs_relay()  # the relay takes only the other three
        purge_queues()

    requests = endpoints.requests("commission")
    assert len(requests) == 10
    assert {r.headers["webhook-id"] for r in requests} == {str(pk)}
    # The other three were never touched by commission's trouble.
    assert Handoff.objects.filter(status="pending").count() == 3


def http_date(seconds_from_now: int) -> str:
    return email.utils.format_datetime(
        timezone.now() + dt.timedelta(seconds=seconds_from_now), usegmt=True
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("status", "retry_after", "expected_wait"),
    [
        (429, "120", 120),  # longer than the 5 s schedule: the receiver's wish wins
        (503, "120", 120),
        (429, "1", 5),  # shorter: never sooner than the schedule
        (429, "in a while", 5),  # unparseable: the schedule
        (503, "\u00b2", 5),  # a digit to str.isdigit() but not to float(): the schedule
        (429, "1\u00b3", 5),
        (500, "120", 5),  # only 429/503 carry a meaningful Retry-After
        (503, "HTTP-DATE+600", 600),
        (429, "999999999", 86400),  # capped at HANDOFF_MAX_RETRY_AFTER
    ],
)
def test_retry_after_is_honoured_on_429_and_503(
    rep, revops, endpoints, status, retry_after, expected_wait
):
    _, handoffs = approve(rep, revops)
    pk = handoffs["provisioning"].pk

    # On a whole second: an HTTP-date has no fractions.
    with time_machine.travel(timezone.now().replace(microsecond=0), tick=False) as traveller:
        if retry_after.startswith("HTTP-DATE+"):
            retry_after = http_date(int(retry_after.removeprefix("HTTP-DATE+")))
        endpoints.script("provisioning", Reply(status, {"Retry-After": retry_after}), Reply(200))
        start = timezone.now()
        handoff = handoff_deliver(handoff_id=pk)
        assert handoff.status == "retrying"
        assert handoff.next_attempt_at == start + dt.timedelta(seconds=expected_wait)

        traveller.shift(expected_wait - 1)
        assert handoff_deliver(handoff_id=pk) is None
        traveller.shift(1)
        assert handoff_deliver(handoff_id=pk).status == "delivered"
    assert len(endpoints.requests("provisioning")) == 2


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("status", "delivered"),
    [(200, True), (201, True), (202, True), (204, True), (301, False), (302, False)]
    + [(400, False), (401, False), (404, False), (409, False), (502, False)],
)
def test_only_a_2xx_answer_counts_as_delivered(rep, revops, endpoints, status, delivered):
    _, handoffs = approve(rep, revops)
    endpoints.script("billing", Reply(status, {"Location": endpoints.url("commission")}, body=b""))

    handoff = handoff_deliver(handoff_id=handoffs["billing"].pk)

    assert handoff.status == ("delivered" if delivered else "retrying")
    assert handoff.last_status_code == status
    assert len(endpoints.requests()) == 1  # a redirect is not followed


@pytest.mark.django_db
def test_410_gone_is_dead_at_once_and_a_re_drive_sends_it_again(rep, revops, endpoints):
    _, handoffs = approve(rep, revops)
    endpoints.script("billing", Reply(410, body=b'{"error": "endpoint removed"}'))

    handoff = handoff_deliver(handoff_id=handoffs["billing"].pk)

    assert (handoff.status, handoff.attempts, handoff.next_attempt_at) == ("dead", 1, None)
    assert handoff.last_status_code == 410
    from handoffs.services import handoff_retry
    from tests.factories import make_user

    handoff_retry(handoff=handoff, actor=make_user("revops", "ops_for_410"))
    redriven = handoff_deliver(handoff_id=handoff.pk)
    assert redriven.status == "delivered"
    assert [r.headers["webhook-id"] for r in endpoints.requests("billing")] == [str(handoff.pk)] * 2


@pytest.mark.django_db
def test_a_kind_without_endpoint_is_skipped_visibly(rep, revops, endpoints, settings):
    settings.HANDOFF_ENDPOINTS = {
        **endpoints.endpoints(),
        "customer_success": {"url": "", "secret": ""},
    }
    _, handoffs = approve(rep, revops)

    handoff = handoff_deliver(handoff_id=handoffs["customer_success"].pk)

    assert handoff.status == "skipped" and handoff.next_attempt_at is None
    assert "HANDOFF_CUSTOMER_SUCCESS_URL" in handoff.last_error
    assert [a.outcome for a in attempts_of(handoff)] == ["skipped"]
    assert endpoints.requests() == []
    assert handoff_deliver(handoff_id=handoff.pk) is None


@pytest.mark.django_db
def test_an_endpoint_without_secret_is_never_sent_unsigned(rep, revops, endpoints, settings):
    settings.HANDOFF_ENDPOINTS = {
        **endpoints.endpoints(),
        "billing": {"url": endpoints.url("billing"), "secret": ""},
    }
    _, handoffs = approve(rep, revops)

    handoff = handoff_deliver(handoff_id=handoffs["billing"].pk)

    assert handoff.status == "retrying" and "HANDOFF_BILLING_SECRET" in handoff.last_error
    assert endpoints.requests() == []


@pytest.mark.django_db
def test_network_failures_are_attempts_with_their_error(rep, revops, endpoints, settings):
    settings.HANDOFF_READ_TIMEOUT = 0.3
    settings.HANDOFF_ENDPOINTS = {
        **endpoints.endpoints(),
        "billing": {
            "url": f"http://127.0.0.1:{closed_port()}/",
            "secret": endpoints.secrets["billing"],
        },
    }
    endpoints.script("provisioning", Reply(200, delay=1.0))
    _, handoffs = approve(rep, revops)

    refused = handoff_deliver(handoff_id=handoffs["billing"].pk)
    slow = handoff_deliver(handoff_id=handoffs["provisioning"].pk)

    assert refused.status == "retrying" and "ConnectError" in refused.last_error
    assert slow.status == "retrying" and slow.last_error.startswith("timeout")
    (attempt,) = attempts_of(slow)
    assert attempt.outcome == "failed" and attempt.status_code is None
    assert 250 <= attempt.duration_ms < 1000


@pytest.mark.django_db
def test_a_malformed_task_argument_is_ignored(db):
    assert handoff_deliver(handoff_id="not-a-uuid") is None
    assert handoff_deliver(handoff_id="6f1c1d8e-0000-4000-8000-000000000000") is None


@pytest.mark.django_db(transaction=True)
def test_two_copies_of_the_same_task_at_once_post_once(rep, revops, endpoints):
    """Given eight senders released at the same instant for one handoff, exactly one
    claims it and POSTs; the others see the claim and do nothing."""
    _, handoffs = approve(rep, revops)
    endpoints.always("billing", Reply(200, delay=0.3))
    pk = handoffs["billing"].pk
    barrier = threading.Barrier(8)
    results: list = [None] * 8

    def sender(i: int) -> None:
        try:
            barrier.wait()
            results[i] = handoff_deliver(handoff_id=pk)
        except Exception as exc:  # pragma: no cover - would fail the assertion below
            results[i] = exc
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=sender, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)

    sent = [r for r in results if isinstance(r, Handoff)]
    assert len(sent) == 1 and results.count(None) == 7, results
    assert len(endpoints.requests("billing")) == 1
    assert Handoff.objects.get(pk=pk).status == "delivered"
    assert HandoffAttempt.objects.filter(handoff_id=pk).count() == 1


@pytest.mark.django_db
def sent_decision_email() -> None:
    """The approval also queued the rep's decision e-mail in the outbox; these tests are
    about the handoffs' rows, so the e-mail is taken as sent."""
    Handoff.outbox.filter(channel="email").update(status="delivered", next_attempt_at=None)


def test_relay_claims_only_due_unclaimed_rows_and_reclaims_after_the_lease(
    rep, revops, endpoints, settings
):
    settings.HANDOFF_DISPATCH_LEASE = 60
    _, handoffs = approve(rep, revops)
    sent_decision_email()
    future = timezone.now() + dt.timedelta(minutes=5)
    Handoff.objects.filter(pk=handoffs["billing"].pk).update(
        status="retrying", next_attempt_at=future
    )
    Handoff.objects.filter(pk=handoffs["commission"].pk).update(status="dead", next_attempt_at=None)
    try:
        with time_machine.travel(timezone.now(), tick=False) as traveller:
            # New rows are left to their on-commit messages for the grace period...
            assert handoffs_relay() == []
            traveller.shift(settings.HANDOFF_RELAY_GRACE + 1)
            # ...then the relay takes the due ones.
            claimed = handoffs_relay()
            assert sorted(claimed) == sorted(
                str(handoffs[k].pk) for k in ("provisioning", "customer_success")
            )
            assert handoffs_relay() == []  # still reserved for the messages just sent

            # A copy of the task without the relay's token must not take the row...
            assert handoff_deliver(handoff_id=handoffs["provisioning"].pk) is None
            # ...the message carrying it does.
            token = Handoff.objects.get(pk=handoffs["provisioning"].pk).claim_token
            assert handoff_deliver(handoff_id=handoffs["provisioning"].pk, claim_token=token)
            assert (
                handoff_deliver(handoff_id=handoffs["provisioning"].pk, claim_token=token) is None
            )  # the same message twice: once

            traveller.shift(61)  # the CS message was lost: its reservation expires
            assert handoffs_relay() == [str(handoffs["customer_success"].pk)]
            traveller.shift(dt.timedelta(minutes=5))
            assert str(handoffs["billing"].pk) in handoffs_relay()
    finally:
        purge_queues()
    assert len(endpoints.requests()) == 1


@pytest.mark.django_db(transaction=True)
def test_relay_skips_rows_locked_by_another_relay(rep, revops, is_postgres, settings):
    """SELECT … FOR UPDATE SKIP LOCKED: a second relay neither waits for nor takes rows a
    first one holds."""
    assert is_postgres, (
        "SKIP LOCKED is PostgreSQL's; SQLite serializes writers instead: make test runs on PostgreSQL"
    )
    _, handoffs = approve(rep, revops)
    sent_decision_email()
    Handoff.objects.update(claim_token=None, claimed_until=None)  # the commit's tasks
    locked, release = threading.Event(), threading.Event()

    def first_relay() -> None:
        try:
            with transaction.atomic():
                list(Handoff.objects.select_for_update().filter(kind="billing"))
                locked.set()
                release.wait(10)
        finally:
            connection.close()

    holder = threading.Thread(target=first_relay)
    holder.start()
    try:
        assert locked.wait(5)
        later = timezone.now() + dt.timedelta(seconds=settings.HANDOFF_RELAY_GRACE + 1)
        with time_machine.travel(later):
            claimed = handoffs_relay()
        assert str(handoffs["billing"].pk) not in claimed
        assert len(claimed) == 3
    finally:
        release.set()
        holder.join(10)
        purge_queues()


@pytest.mark.django_db
def test_only_an_excerpt_of_a_huge_answer_is_read_and_kept(rep, revops, endpoints):
    endpoints.script("billing", Reply(500, body=b"x" * 5_000_000))
    _, handoffs = approve(rep, revops)

    handoff = handoff_deliver(handoff_id=handoffs["billing"].pk)

    (attempt,) = attempts_of(handoff)
    assert attempt.response_excerpt == "x" * 500 and handoff.status == "retrying"


@pytest.mark.django_db
def test_one_batch_posts_its_handoffs_at_the_same_time(rep, revops, endpoints):
    """Given four endpoints that each take 0.5 s to answer, when one task delivers the
    approval's four handoffs, the POSTs overlap (well under 4 × 0.5 s) and each handoff
    gets its own claim, attempt row and result — a 500 on one does not touch the rest."""
    _, handoffs = approve(rep, revops)
    for kind in handoffs:
        endpoints.always(kind, Reply(200, delay=0.5))
    endpoints.always("provisioning", Reply(500, delay=0.5))

    started = time.monotonic()
    sent = handoffs_deliver(handoff_ids=[h.pk for h in handoffs.values()])
    elapsed = time.monotonic() - started

    assert elapsed < 1.5, elapsed
    assert [h.pk for h in sent] == [h.pk for h in handoffs.values()]
    assert {h.kind: h.status for h in sent} == {
        "billing": "delivered",
        "provisioning": "retrying",
        "customer_success": "delivered",
        "commission": "delivered",
    }
    for kind, handoff in handoffs.items():
        (request,) = endpoints.requests(kind)
        assert request.verified and request.headers["webhook-id"] == str(handoff.pk)
        (attempt,) = attempts_of(handoff)
        assert attempt.outcome == ("failed" if kind == "provisioning" else "delivered")
        stored = Handoff.objects.get(pk=handoff.pk)
        assert (stored.status, stored.attempts, stored.claim_token) == (
            "retrying" if kind == "provisioning" else "delivered",
            1,
            None,
        )
    # Nothing is due again: a second run of the same task sends nothing.
    assert handoffs_deliver(handoff_ids=[h.pk for h in handoffs.values()]) == []
    assert len(endpoints.requests()) == 4


@pytest.mark.django_db
def test_a_batch_skips_malformed_and_repeated_ids(rep, revops, endpoints):
    _, handoffs = approve(rep, revops)
    billing = handoffs["billing"].pk
    sent = handoffs_deliver(handoff_ids=["not-a-uuid", billing, str(billing)])
    assert [h.pk for h in sent] == [billing]
    assert len(endpoints.requests("billing")) == 1
    assert handoffs_deliver(handoff_ids=[billing], claim_token="not-a-uuid") == []


@pytest.mark.django_db
def test_a_send_that_raises_is_a_failed_attempt_and_the_batch_keeps_its_results(
    rep, revops, endpoints, monkeypatch
):
    from handoffs import delivery

    real_post = delivery.post

    def post(*, url, **kwargs):
        if "/billing" in url:
            raise RuntimeError("bug in the sender")
        return real_post(url=url, **kwargs)

    monkeypatch.setattr(delivery, "post", post)
    _, handoffs = approve(rep, revops)
    sent = handoffs_deliver(handoff_ids=[h.pk for h in handoffs.values()])

    by_kind = {h.kind: h for h in sent}
    assert by_kind["billing"].status == "retrying"
    assert by_kind["billing"].last_error == "internal error: RuntimeError"
    (attempt,) = attempts_of(by_kind["billing"])
    assert attempt.outcome == "failed"
    assert endpoints.requests("billing") == []
    assert {by_kind[k].status for k in ("provisioning", "customer_success", "commission")} == {
        "delivered"
    }


@pytest.mark.django_db(transaction=True)
def test_a_claim_lost_mid_post_keeps_the_other_owners_row_and_records_the_rest(
    rep, revops, endpoints, monkeypatch
):
    """Given a batch of four whose billing claim is taken over by another worker while the
    POSTs are in flight (its lease ran out), when the answers come in, then the three rows
    still ours are delivered by one UPDATE, and billing keeps the other owner's claim and
    status (our POST stays visible as its attempt row)."""
    from handoffs import services

    _, handoffs = approve(rep, revops)
    Handoff.objects.update(claim_token=None, claimed_until=None)  # the commit's tasks
    for kind in handoffs:
        endpoints.always(kind, Reply(200, delay=0.2))
    other = uuid.uuid4()
    real_send = services._send

    def send_and_lose_billing(handoff):
        if handoff.kind == "billing":
            Handoff.outbox.filter(pk=handoff.pk).update(claim_token=other)
            close_old_connections()
        return real_send(handoff)

    monkeypatch.setattr(services, "_send", send_and_lose_billing)
    sent = handoffs_deliver(handoff_ids=[h.pk for h in handoffs.values()])

    assert {h.kind: h.status for h in sent} == {
        "billing": "pending",
        "provisioning": "delivered",
        "customer_success": "delivered",
        "commission": "delivered",
    }
    billing = Handoff.objects.get(pk=handoffs["billing"].pk)
    assert (billing.status, billing.claim_token) == ("pending", other)
    (attempt,) = attempts_of(billing)
    assert (attempt.outcome, attempt.status_code) == ("delivered", 200)
    for kind in ("provisioning", "customer_success", "commission"):
        stored = Handoff.objects.get(pk=handoffs[kind].pk)
        assert (stored.status, stored.claim_token) == ("delivered", None)


@pytest.mark.django_db
def test_a_cookie_one_receiver_sets_never_rides_along_with_a_later_post(rep, revops, endpoints):
    """The worker's HTTP client is shared by every POST of the process: a Set-Cookie from
    one answer must not come back in the next request, to it or to anyone else."""
    _, handoffs = approve(rep, revops)
    endpoints.always("billing", Reply(200, headers={"set-cookie": "session=abc; Path=/"}))

    handoff_deliver(handoff_id=handoffs["billing"].pk)
    handoff_deliver(handoff_id=handoffs["provisioning"].pk)

    (second,) = endpoints.requests("provisioning")
    assert second.verified and "cookie" not in second.headers


@pytest.mark.django_db
def test_the_sending_threads_are_kept_between_batches_and_not_inherited_after_a_fork(
    rep, revops, endpoints, monkeypatch
):
    """A worker process reuses its sending threads from one task to the next (no thread per
    POST per task); a process forked from it builds its own pool."""
    from handoffs import services

    def senders_alive():
        return [t for t in threading.enumerate() if t.name.startswith("handoff-send")]

    pool = services._senders()
    for _ in range(3):
        _, handoffs = approve(rep, revops)
        sent = handoffs_deliver(handoff_ids=[h.pk for h in handoffs.values()])
        assert {h.status for h in sent} == {"delivered"}
        assert services._senders() is pool
        # The pool's threads sent them and stay; at most one per POST at once, whatever
        # the number of batches.
        assert 1 <= len(senders_alive()) <= len(handoffs)
    assert len(endpoints.requests()) == 12

    pid = services.os.getpid()
    monkeypatch.setattr(services.os, "getpid", lambda: pid + 1)
    assert services._senders() is not pool


def test_the_http_client_is_built_once_when_a_worker_process_starts(monkeypatch):
    """worker_process_init builds the client (and loads the CA bundle) before any task;
    threads asking for it at the same moment share one build."""
    from celery.signals import worker_process_init

    from handoffs import delivery

    delivery._build_client.cache_clear()
    delivery._tls_context.cache_clear()
    worker_process_init.send(sender=None)
    assert delivery._build_client.cache_info().currsize == 1
    assert delivery._tls_context.cache_info().misses == 1

    delivery._build_client.cache_clear()
    delivery._tls_context.cache_clear()
    built = []
    real = delivery.ssl.create_default_context

    def slow_context(*args, **kwargs):
        time.sleep(0.05)  # long enough for every thread to arrive while the first builds
        return real(*args, **kwargs)

    monkeypatch.setattr(delivery.ssl, "create_default_context", slow_context)
    start = threading.Barrier(8)

    def ask():
        start.wait()
        built.append(delivery._client())

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(client) for client in built}) == 1
    assert delivery._tls_context.cache_info().misses == 1


@pytest.mark.django_db
def test_a_healthy_endpoint_recorded_within_the_minute_costs_no_write(rep, revops, endpoints):
    """A success on an endpoint already marked healthy less than a minute ago writes
    nothing to the endpoint; an older mark, or a running failure, is written."""
    from handoffs.models import WebhookEndpoint

    _, handoffs = approve(rep, revops)
    handoffs_deliver(handoff_ids=[handoffs["billing"].pk])
    billing = WebhookEndpoint.objects.get(environment_kind="billing")
    assert billing.last_success_at is not None and billing.failing_since is None
    first_mark = billing.last_success_at

    _, again = approve(rep, revops)
    with CaptureQueriesContext(connection) as queries:
        handoffs_deliver(handoff_ids=[again["billing"].pk])
    endpoint_writes = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].startswith('UPDATE "handoffs_webhookendpoint"')
    ]
    assert endpoint_writes == []
    billing.refresh_from_db()
    assert billing.last_success_at == first_mark

    WebhookEndpoint.objects.filter(pk=billing.pk).update(
        failing_since=timezone.now(), last_success_at=timezone.now()
    )
    _, third = approve(rep, revops)
    handoffs_deliver(handoff_ids=[third["billing"].pk])
    billing.refresh_from_db()
    assert billing.failing_since is None

    WebhookEndpoint.objects.filter(pk=billing.pk).update(
        last_success_at=timezone.now() - dt.timedelta(minutes=2)
    )
    _, fourth = approve(rep, revops)
    handoffs_deliver(handoff_ids=[fourth["billing"].pk])
    billing.refresh_from_db()
    assert billing.last_success_at > timezone.now() - dt.timedelta(seconds=30)


@pytest.mark.django_db
def test_a_post_is_not_logged_again_by_the_http_library(rep, revops, endpoints, caplog):
    """Each POST is an attempt row already; httpx's own line per request stays out of the
    worker's INFO log."""
    caplog.set_level("INFO")
    _, handoffs = approve(rep, revops)
    handoffs_deliver(handoff_ids=[h.pk for h in handoffs.values()])
    assert len(endpoints.requests()) == 4
    assert not [r for r in caplog.records if r.name.startswith("httpx")]
