"""Idempotency-Key on every POST (Stripe semantics): replay, reuse, expiry, concurrency."""

from __future__ import annotations

import datetime as dt
import json
import threading

import pytest
from django.db import connection
from django.utils import timezone

from api.idempotency import LOCK_TIMEOUT
from api.models import IdempotencyKey
from opportunities.models import Account, Opportunity, StageChange
from opportunities.stages import Stage
from tests.api.conftest import client_for, problem
from tests.factories import ProductFactory, make_user, ready_opportunity


def post(client, path, body, key=None, **extra):
    if key is not None:
        extra["HTTP_IDEMPOTENCY_KEY"] = key
    return client.post(path, data=json.dumps(body), content_type="application/json", **extra)


@pytest.mark.django_db
def test_a_retried_create_replays_the_first_response_without_creating_twice(api, rep):
    client = api(rep)
    product = ProductFactory()
    body = {"name": "Big deal", "line_items": [{"product": product.pk, "seats": 3}]}

    first = post(client, "/api/v1/opportunities/", body, key="create-1")
    second = post(client, "/api/v1/opportunities/", body, key="create-1")

    assert first.status_code == second.status_code == 201
    assert json.loads(second.content) == json.loads(first.content)
    assert second["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert (second["Location"], second["ETag"]) == (first["Location"], first["ETag"])
    assert second["Content-Type"] == "application/json"
    assert Opportunity.objects.count() == 1


@pytest.mark.django_db
def test_the_body_matches_whatever_the_key_order(api, rep):
    client = api(rep)
    first = client.post(
        "/api/v1/accounts/",
        data='{"name": "Acme", "domain": "acme.example"}',
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="k",
    )
    second = client.post(
        "/api/v1/accounts/",
        data='{ "domain" : "acme.example", "name" : "Acme" }',
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="k",
    )
    assert (first.status_code, second.status_code) == (201, 201)
    assert second["Idempotent-Replayed"] == "true"
    assert Account.objects.count() == 1


@pytest.mark.django_db
def test_a_retried_transition_replays_instead_of_failing(api, rep):
    opportunity = ready_opportunity(rep)
    client = api(rep)
    path = f"/api/v1/opportunities/{opportunity.pk}/transitions/submit_for_approval/"

    first = post(client, path, {}, key="submit-1")
    again = post(client, path, {}, key="submit-1")
    fresh = post(client, path, {}, key="submit-2")

    assert (first.status_code, again.status_code) == (200, 200)
    assert json.loads(again.content)["stage"] == Stage.PENDING_APPROVAL
    assert StageChange.objects.filter(opportunity=opportunity).count() == 1
    # A new key is a new request: it really runs, and is refused from pending approval.
    problem(fresh, 409, "transition_not_allowed")


@pytest.mark.django_db
def test_an_error_outcome_is_replayed_too(api, rep):
    """Stripe semantics: the first response, whatever it was, is the answer for that key."""
    from tests.factories import OpportunityFactory

    opportunity = OpportunityFactory(owner=rep, stage=Stage.NEGOTIATION)
    client = api(rep)
    path = f"/api/v1/opportunities/{opportunity.pk}/transitions/submit_for_approval/"
    first = post(client, path, {}, key="gate")
    second = post(client, path, {}, key="gate")
    problem(first, 422, "gate_failed")
    problem(second, 422, "gate_failed")
    assert second["Idempotent-Replayed"] == "true"
    assert json.loads(second.content) == json.loads(first.content)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "second_path,second_body",
    [("/api/v1/accounts/", {"name": "Other"}), ("/api/v1/products/", {"name": "Acme"})],
)
def test_the_same_key_for_another_request_is_refused(api, revops, second_path, second_body):
    client = api(revops)
    assert post(client, "/api/v1/accounts/", {"name": "Acme"}, key="k").status_code == 201
    problem(post(client, second_path, second_body, key="k"), 422, "idempotency_key_reused")
    assert Account.objects.count() == 1


@pytest.mark.django_db
def test_keys_belong_to_one_user(api, rep, rep2):
    assert post(api(rep), "/api/v1/accounts/", {"name": "A"}, key="shared").status_code == 201
    response = post(api(rep2), "/api/v1/accounts/", {"name": "A"}, key="shared")
    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response
    assert Account.objects.count() == 2


@pytest.mark.django_db
def test_a_key_older_than_24_hours_runs_again(api, rep):
    client = api(rep)
    assert post(client, "/api/v1/accounts/", {"name": "A"}, key="old").status_code == 201
    IdempotencyKey.objects.update(created_at=timezone.now() - dt.timedelta(hours=25))
    response = post(client, "/api/v1/accounts/", {"name": "A"}, key="old")
    assert response.status_code == 201 and "Idempotent-Replayed" not in response
    assert Account.objects.count() == 2


@pytest.mark.django_db
def test_a_reservation_left_by_a_dead_request_is_taken_over(api, rep):
    client = api(rep)
    assert post(client, "/api/v1/accounts/", {"name": "A"}, key="dead").status_code == 201
    # Given the row looks like a request that reserved the key and died (its work rolled
    # back with it, so no response was stored)…
    Account.objects.all().delete()
    IdempotencyKey.objects.update(
        response_status=None, locked_at=timezone.now() - LOCK_TIMEOUT - dt.timedelta(seconds=1)
    )
    # …when the client retries, the work runs once more and its response is stored.
    response = post(client, "/api/v1/accounts/", {"name": "A"}, key="dead")
    assert response.status_code == 201 and "Idempotent-Replayed" not in response
    assert Account.objects.count() == 1
    assert IdempotencyKey.objects.get().response_status == 201


@pytest.mark.django_db
def test_posts_without_a_key_are_not_recorded(api, rep):
    assert post(api(rep), "/api/v1/accounts/", {"name": "A"}).status_code == 201
    assert not IdempotencyKey.objects.exists()


# --- concurrency: real threads, real transactions (PostgreSQL) --------------------------------


def _race(n, fn):
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def run(i):
        try:
            barrier.wait(timeout=10)
            results[i] = fn(i)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


@pytest.mark.django_db(transaction=True)
def test_concurrent_creates_with_one_key_never_both_run(is_postgres):
    assert is_postgres, (
        "needs PostgreSQL row locks and concurrent connections: make test runs on PostgreSQL"
    )
    rep = make_user("rep")
    product = ProductFactory()
    clients = [client_for(rep) for _ in range(6)]
    body = {"name": "Raced deal", "line_items": [{"product": product.pk, "seats": 2}]}

    responses = _race(
        6, lambda i: post(clients[i], "/api/v1/opportunities/", body, key="race-create")
    )

    statuses = sorted(r.status_code for r in responses)
    assert Opportunity.objects.count() == 1
    assert 201 in statuses and set(statuses) <= {201, 409}
    for response in responses:
        if response.status_code == 409:
            problem(response, 409, "concurrent_update")
        else:
            assert json.loads(response.content)["name"] == "Raced deal"
    assert IdempotencyKey.objects.get().response_status == 201


@pytest.mark.django_db(transaction=True)
def test_concurrent_transitions_with_one_key_run_once(is_postgres):
    assert is_postgres, (
        "needs PostgreSQL row locks and concurrent connections: make test runs on PostgreSQL"
    )
    rep = make_user("rep")
    opportunity = ready_opportunity(rep)
    clients = [client_for(rep) for _ in range(6)]
    path = f"/api/v1/opportunities/{opportunity.pk}/transitions/submit_for_approval/"

    responses = _race(6, lambda i: post(clients[i], path, {}, key="race-submit"))

    assert StageChange.objects.filter(opportunity=opportunity).count() == 1
    assert Opportunity.objects.get(pk=opportunity.pk).stage == Stage.PENDING_APPROVAL
    assert {r.status_code for r in responses} <= {200, 409}
    assert any(r.status_code == 200 for r in responses)


@pytest.mark.django_db(transaction=True)
def test_a_request_that_loses_the_row_lock_gets_409_and_may_retry_with_its_key(is_postgres):
    """Lost a race on the same row (the lock could not be had in time): 409
    concurrent_update. That outcome is transient, so the key is released: the retry with
    the same key runs for real instead of replaying the 409."""
    assert is_postgres, "needs PostgreSQL row locks: make test runs on PostgreSQL"
    from django.db import connections, transaction

    rep = make_user("rep")
    opportunity = ready_opportunity(rep)
    client = client_for(rep)
    path = f"/api/v1/opportunities/{opportunity.pk}/transitions/submit_for_approval/"
    holding, release = threading.Event(), threading.Event()

    def hold_the_row():
        try:
            with transaction.atomic():
                Opportunity.objects.select_for_update().get(pk=opportunity.pk)
                holding.set()
                release.wait(timeout=30)
        finally:
            connections["default"].close()

    holder = threading.Thread(target=hold_the_row)
    holder.start()
    try:
        assert holding.wait(timeout=10)
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '200ms'")
        response = post(client, path, {}, key="lock")
    finally:
        release.set()
        holder.join(timeout=30)
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")
    problem(response, 409, "concurrent_update")
    assert Opportunity.objects.get(pk=opportunity.pk).stage == Stage.NEGOTIATION
    assert not IdempotencyKey.objects.filter(key="lock").exists()

    retry = post(client, path, {}, key="lock")
    assert retry.status_code == 200 and "Idempotent-Replayed" not in retry
    assert Opportunity.objects.get(pk=opportunity.pk).stage == Stage.PENDING_APPROVAL


@pytest.mark.django_db
def test_purge_deletes_only_expired_keys(api, rep):
    from django.core.management import call_command

    client = api(rep)
    for key in ("old", "new"):
        assert post(client, "/api/v1/accounts/", {"name": key}, key=key).status_code == 201
    IdempotencyKey.objects.filter(key="old").update(
        created_at=timezone.now() - dt.timedelta(hours=25)
    )
    call_command("purge_idempotency_keys")
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["new"]
