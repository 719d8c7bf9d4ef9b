"""Webhook endpoints as data: several endpoints per event, rotation, replay, health, the
address guard, lifecycle events, and the endpoints API. Sends run in this process
against the real local receiver, which verifies every request with ``standardwebhooks``."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
import time_machine
from django.utils import timezone
from standardwebhooks import Webhook

from handoffs import endpoints, payloads, services
from handoffs.models import (
    Handoff,
    HandoffStatus,
    WebhookEndpoint,
)
from tests.api.conftest import client_for, problem
from tests.handoffs.conftest import approve
from tests.handoffs.http_receiver import Reply

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _private_allowed(settings):
    """The receiver listens on 127.0.0.1: let RevOps' endpoints point there, as DEBUG does."""
    settings.WEBHOOK_ALLOW_PRIVATE = True
    settings.WEBHOOK_REQUIRE_HTTPS = False


def deliver_due() -> list[Handoff]:
    """Send every sendable row now (what the worker does after commit)."""
    ids = list(
        Handoff.outbox.filter(
            status__in=[HandoffStatus.PENDING, HandoffStatus.RETRYING],
            next_attempt_at__lte=timezone.now(),
        ).values_list("pk", flat=True)
    )
    return services.handoffs_deliver(handoff_ids=ids)


def add_endpoint(
    revops, receiver, name: str, event_types: list[str]
) -> tuple[WebhookEndpoint, str]:
    """A RevOps endpoint at the receiver's /hooks/<name>/, whose secret the receiver holds."""
    endpoint, secret = endpoints.webhook_endpoint_create(
        actor=revops, url=receiver.url(name), event_types=event_types, description=name
    )
    receiver.secrets[name] = secret
    return endpoint, secret


def emit_won(opportunity) -> list[Handoff]:
    """Another deal.won event for ``deal`` (as a later transition would write one)."""
    return services.deliveries_create_for_event(
        event_type="deal.won",
        data=payloads.lifecycle_data(opportunity=opportunity, to_stage="closed_won"),
        opportunity=opportunity,
    )


def won_event(opportunity) -> list[Handoff]:
    """The deal.won deliveries the approval wrote (in its own transaction)."""
    return list(
        Handoff.outbox.filter(opportunity=opportunity, event_type="deal.won").order_by("pk")
    )


def test_two_endpoints_subscribed_to_one_event_each_receive_it_once(rep, revops, endpoints_env):
    receiver = endpoints_env
    first, _ = add_endpoint(revops, receiver, "warehouse", ["deal.won"])
    second, _ = add_endpoint(revops, receiver, "crm", ["deal.won", "deal.lost"])
    add_endpoint(revops, receiver, "other", ["deal.lost"])  # not subscribed to deal.won
    opportunity, _ = approve(rep, revops)

    rows = won_event(opportunity)
    assert {r.endpoint_id for r in rows} == {first.pk, second.pk}
    assert len({r.pk for r in rows}) == 2 and len({r.event_id for r in rows}) == 1
    sent = deliver_due()
    assert {h.status for h in sent} == {"delivered"}

    for name in ("warehouse", "crm"):
        got = receiver.requests(name)
        assert len(got) == 1, name
        assert got[0].verified, got[0].error
        assert got[0].payload["type"] == "deal.won"
        assert got[0].payload["version"] == 1
        assert got[0].payload["data"]["opportunity"]["id"] == opportunity.pk
    assert receiver.requests("other") == []
    # The four handoffs went to the environment's endpoints, as before.
    assert all(len(receiver.requests(kind)) == 1 for kind in ("billing", "commission"))


def test_a_second_endpoint_for_a_handoff_kind_gets_its_own_delivery(rep, revops, endpoints_env):
    receiver = endpoints_env
    endpoint, _ = add_endpoint(revops, receiver, "billing2", ["handoff.billing"])
    opportunity, _ = approve(rep, revops)
    billing = list(Handoff.objects.filter(opportunity=opportunity, kind="billing"))
    assert len(billing) == 2 and {h.endpoint_id for h in billing} >= {endpoint.pk}
    assert Handoff.objects.filter(opportunity=opportunity).count() == 5
    deliver_due()
    (mine,) = receiver.requests("billing2")
    (env,) = receiver.requests("billing")
    assert mine.verified and env.verified
    assert mine.headers["webhook-id"] != env.headers["webhook-id"]
    assert mine.payload["data"]["billing"] == env.payload["data"]["billing"]


def test_a_handoff_kind_nobody_subscribes_to_is_skipped(rep, revops, endpoints_env):
    WebhookEndpoint.objects.filter(environment_kind="commission").update(active=False)
    opportunity, handoffs = approve(rep, revops)
    commission = handoffs["commission"]
    assert commission.status == "skipped" and commission.endpoint_id is None
    assert "No active endpoint" in commission.last_error
    deliver_due()
    assert not endpoints_env.requests("commission")
    assert Handoff.objects.get(pk=commission.pk).status == "skipped"


def test_rotation_old_and_new_secret_both_verify_for_24_hours(rep, revops, endpoints_env):
    receiver = endpoints_env
    endpoint, old = add_endpoint(revops, receiver, "warehouse", ["deal.won"])
    opportunity, _ = approve(rep, revops)
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        new = endpoints.webhook_endpoint_rotate_secret(endpoint=endpoint, actor=revops)
        assert new.startswith("whsec_") and new != old
        receiver.secrets["warehouse"] = new  # the receiver holds only the new one
        won_event(opportunity)
        deliver_due()
        (request,) = receiver.requests("warehouse")
        assert request.verified, request.error
        assert len(request.headers["webhook-signature"].split()) == 2
        # A receiver that still holds only the old secret verifies the same request.
        Webhook(old).verify(request.body, request.headers)

        traveller.shift(dt.timedelta(hours=24, minutes=1))
        receiver.reset()
        receiver.secrets["warehouse"] = new
        emit_won(opportunity)
        deliver_due()
        (later,) = receiver.requests("warehouse")
        assert later.verified
        assert len(later.headers["webhook-signature"].split()) == 1
        with pytest.raises(Exception, match="(?i)signature"):
            Webhook(old).verify(later.body, later.headers)


def test_replay_resends_with_the_same_webhook_ids(rep, revops, endpoints_env):
    receiver = endpoints_env
    endpoint, _ = add_endpoint(revops, receiver, "warehouse", ["deal.won", "handoff.billing"])
    start = timezone.now()
    opportunity, _ = approve(rep, revops)
    won_event(opportunity)
    deliver_due()
    first = {r.headers["webhook-id"]: r.body for r in receiver.requests("warehouse")}
    assert len(first) == 2

    replayed = endpoints.webhook_endpoint_replay(endpoint=endpoint, actor=revops, since=start)
    assert len(replayed) == 2
    deliver_due()
    again = receiver.requests("warehouse")[2:]
    assert {r.headers["webhook-id"]: r.body for r in again} == first
    assert all(r.verified for r in again)
    # Nothing before `since` is replayed, and other endpoints are untouched.
    assert (
        endpoints.webhook_endpoint_replay(
            endpoint=endpoint, actor=revops, since=timezone.now() + dt.timedelta(seconds=1)
        )
        == []
    )
    assert len(receiver.requests("billing")) == 1


def test_one_delivery_replayed_and_a_completed_handoff_is_not(rep, revops, endpoints_env):
    opportunity, handoffs = approve(rep, revops)
    deliver_due()
    billing = Handoff.objects.get(pk=handoffs["billing"].pk)
    again = endpoints.delivery_replay(delivery=billing, actor=revops)
    assert again.status == "retrying"
    deliver_due()
    ids = [r.headers["webhook-id"] for r in endpoints_env.requests("billing")]
    assert ids == [str(billing.pk)] * 2
    services.handoff_complete(handoff=billing, actor=revops, external_ref="INV-1")
    with pytest.raises(Exception) as raised:
        endpoints.delivery_replay(delivery=billing, actor=revops)
    assert getattr(raised.value, "code", "") == "transition_not_allowed"


def test_an_endpoint_failing_for_five_days_is_disabled_and_revops_told(
    rep, revops, endpoints_env, mailoutbox
):
    receiver = endpoints_env
    endpoint, _ = add_endpoint(revops, receiver, "warehouse", ["deal.won"])
    receiver.always("warehouse", Reply(500))
    opportunity, _ = approve(rep, revops)
    start = timezone.now()
    with time_machine.travel(start, tick=False) as traveller:
        won_event(opportunity)
        deliver_due()
        endpoint.refresh_from_db()
        assert endpoint.failing_since == start and "HTTP 500" in endpoint.last_error

        traveller.shift(dt.timedelta(days=4, hours=23))
        deliver_due()  # retries keep failing
        assert endpoints.webhook_endpoints_check_health() == []

        traveller.shift(dt.timedelta(hours=2))
        (disabled,) = endpoints.webhook_endpoints_check_health()
        assert disabled.pk == endpoint.pk
        endpoint.refresh_from_db()
        assert not endpoint.active and "without a success" in endpoint.disabled_reason
        assert endpoints.webhook_endpoints_check_health() == []  # told once

        # The notice is an e-mail row of the outbox, sent like any delivery.
        (notice,) = Handoff.outbox.filter(channel="email", topic="endpoint_disabled")
        assert notice.payload["to"] == [revops.email]
        deliver_due()
        assert [m.subject for m in mailoutbox if "Webhook" in m.subject] == [
            f"Webhook endpoint disabled: {endpoint}"
        ]
        # Deliveries still queued for it go dead at once, visible and replayable.
        row = Handoff.outbox.get(endpoint=endpoint)
        Handoff.outbox.filter(pk=row.pk).update(next_attempt_at=timezone.now())
        deliver_due()
        row.refresh_from_db()
        assert row.status == "dead" and row.last_error == "The endpoint is disabled."


def test_a_success_ends_the_failure_run(rep, revops, endpoints_env):
    receiver = endpoints_env
    endpoint, _ = add_endpoint(revops, receiver, "warehouse", ["deal.won"])
    receiver.script("warehouse", Reply(503), Reply(200))
    opportunity, _ = approve(rep, revops)
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        won_event(opportunity)
        deliver_due()
        endpoint.refresh_from_db()
        assert endpoint.failing_since is not None
        traveller.shift(dt.timedelta(seconds=6))
        deliver_due()
        endpoint.refresh_from_db()
        assert endpoint.failing_since is None and endpoint.last_success_at


def test_private_addresses_are_refused_at_save_and_at_send(settings, rep, revops, endpoints_env):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    for url in (
        endpoints_env.url("x"),
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:8080/hook",
        "http://10.1.2.3/hook",
    ):
        with pytest.raises(Exception) as raised:
            endpoints.webhook_endpoint_create(actor=revops, url=url, event_types=["deal.won"])
        assert getattr(raised.value, "code", "") == "url_not_allowed", url
    settings.WEBHOOK_REQUIRE_HTTPS = True
    with pytest.raises(Exception) as raised:
        endpoints.webhook_endpoint_create(
            actor=revops, url="http://example.com/hook", event_types=["deal.won"]
        )
    assert getattr(raised.value, "code", "") == "url_not_allowed"

    # Inside WEBHOOK_ALLOWED_NETWORKS a private address is fine (http only without HTTPS).
    settings.WEBHOOK_REQUIRE_HTTPS = False
    settings.WEBHOOK_ALLOWED_NETWORKS = ("127.0.0.0/8",)
    endpoint, _ = add_endpoint(revops, endpoints_env, "warehouse", ["deal.won"])

    # At send the check runs again: the operator withdrew the network meanwhile.
    settings.WEBHOOK_ALLOWED_NETWORKS = ()
    opportunity, _ = approve(rep, revops)
    won_event(opportunity)
    deliver_due()
    row = Handoff.outbox.get(endpoint=endpoint)
    assert row.status == "retrying" and row.last_error.startswith("url_not_allowed")
    assert endpoints_env.requests("warehouse") == []
    # The environment's endpoints are trusted: the handoffs still went out.
    assert len(endpoints_env.requests("billing")) == 1


def test_lifecycle_events_nobody_subscribes_to_write_nothing(rep, revops):
    opportunity, _ = approve(rep, revops)
    assert won_event(opportunity) == []
    with pytest.raises(ValueError):
        services.deliveries_create_for_event(event_type="deal.exploded", data={})
    with pytest.raises(ValueError):
        services.deliveries_create_for_event(event_type="handoff.billing", data={})


# --- the API -------------------------------------------------------------------------------


@pytest.fixture
def api():
    return client_for


def post(client, path, body=None):
    return client.post(path, data=json.dumps(body or {}), content_type="application/json")


def test_endpoints_api_crud_secret_once_rotate_replay(api, rep, revops, endpoints_env):
    client = api(revops)
    created = post(
        client,
        "/api/v1/webhook-endpoints/",
        {
            "url": endpoints_env.url("warehouse"),
            "description": "Warehouse",
            "event_types": ["deal.won", "handoff.billing"],
        },
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["secret"].startswith("whsec_") and body["managed_by"] == "api"
    pk = body["id"]
    shown = client.get(f"/api/v1/webhook-endpoints/{pk}/").json()
    assert "secret" not in shown and shown["event_types"] == ["deal.won", "handoff.billing"]
    listed = client.get("/api/v1/webhook-endpoints/").json()
    assert {e["managed_by"] for e in listed["results"]} == {"environment", "api"}

    patched = client.patch(
        f"/api/v1/webhook-endpoints/{pk}/",
        data=json.dumps({"event_types": ["deal.won"], "active": False}),
        content_type="application/json",
    )
    assert patched.status_code == 200 and patched.json()["active"] is False
    problem(
        post(client, f"/api/v1/webhook-endpoints/{pk}/replay/", {"since": "2020-01-01T00:00:00Z"}),
        409,
        "transition_not_allowed",
    )
    client.patch(
        f"/api/v1/webhook-endpoints/{pk}/",
        data=json.dumps({"active": True}),
        content_type="application/json",
    )

    rotated = post(client, f"/api/v1/webhook-endpoints/{pk}/rotate-secret/")
    assert rotated.status_code == 200
    assert rotated.json()["secret"] not in (body["secret"], "")

    replay = post(
        client, f"/api/v1/webhook-endpoints/{pk}/replay/", {"since": "2020-01-01T00:00:00Z"}
    )
    assert replay.status_code == 202 and replay.json() == {"replayed": 0, "ids": []}
    problem(
        post(client, f"/api/v1/webhook-endpoints/{pk}/replay/", {"since": "soon"}), 400, "invalid"
    )

    assert client.delete(f"/api/v1/webhook-endpoints/{pk}/").status_code == 204
    problem(client.get(f"/api/v1/webhook-endpoints/{pk}/"), 404, "not_found")


def test_endpoints_api_refuses_bad_input_and_non_revops(api, rep, revops, settings, endpoints_env):
    client = api(revops)
    settings.WEBHOOK_ALLOW_PRIVATE = False
    problem(
        post(
            client,
            "/api/v1/webhook-endpoints/",
            {"url": "http://127.0.0.1:9/x", "event_types": ["deal.won"]},
        ),
        400,
        "url_not_allowed",
    )
    problem(
        post(
            client,
            "/api/v1/webhook-endpoints/",
            {"url": "https://example.com/x", "event_types": ["deal.nope"]},
        ),
        400,
        "invalid",
    )
    problem(
        post(
            client,
            "/api/v1/webhook-endpoints/",
            {"url": "https://example.com/x", "event_types": []},
        ),
        400,
        "invalid",
    )
    assert WebhookEndpoint.objects.exclude(environment_kind="").count() == 4
    assert WebhookEndpoint.objects.count() == 4

    env = WebhookEndpoint.objects.get(environment_kind="billing")
    problem(client.delete(f"/api/v1/webhook-endpoints/{env.pk}/"), 409, "transition_not_allowed")
    problem(
        client.patch(
            f"/api/v1/webhook-endpoints/{env.pk}/",
            data=json.dumps({"url": "https://example.com/"}),
            content_type="application/json",
        ),
        400,
        "invalid",
    )
    problem(
        post(client, f"/api/v1/webhook-endpoints/{env.pk}/rotate-secret/"),
        409,
        "transition_not_allowed",
    )
    problem(client.get(f"/api/v1/webhook-endpoints/{uuid.uuid4()}/"), 404, "not_found")

    seller = api(rep)
    assert seller.get("/api/v1/webhook-endpoints/").status_code == 403
    assert seller.get("/api/v1/webhook-deliveries/").status_code == 403
    problem(
        post(
            seller,
            "/api/v1/webhook-endpoints/",
            {"url": "https://example.com/x", "event_types": ["deal.won"]},
        ),
        403,
        "permission_denied",
    )


def test_deliveries_api_lists_every_event_type_with_filters(api, rep, revops, endpoints_env):
    endpoint, _ = add_endpoint(revops, endpoints_env, "warehouse", ["deal.won"])
    opportunity, _ = approve(rep, revops)
    won_event(opportunity)
    deliver_due()
    client = api(revops)
    every = client.get("/api/v1/webhook-deliveries/").json()
    assert len(every["results"]) == 5
    assert {d["event_type"] for d in every["results"]} == {
        "deal.won",
        "handoff.billing",
        "handoff.provisioning",
        "handoff.customer_success",
        "handoff.commission",
    }
    mine = client.get(f"/api/v1/webhook-deliveries/?endpoint={endpoint.pk}").json()
    (row,) = mine["results"]
    assert row["status"] == "delivered" and row["attempt_rows"][0]["outcome"] == "delivered"
    assert (
        client.get("/api/v1/webhook-deliveries/?event_type=deal.won&status=dead").json()["results"]
        == []
    )
    by_opportunity = client.get(f"/api/v1/webhook-deliveries/?opportunity={opportunity.pk}").json()
    assert len(by_opportunity["results"]) == 5
    problem(client.get("/api/v1/webhook-deliveries/?status=lost"), 400, "invalid")
    # The handoffs list still shows the four handoffs only.
    assert len(client.get("/api/v1/handoffs/").json()["results"]) == 4
