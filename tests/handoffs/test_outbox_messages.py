"""E-mail and chat messages go through the same outbox as the webhooks (claim, attempts,
schedule, dead, re-drive); handoff SLAs; the event schemas; the console pages."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import jsonschema
import pytest
import time_machine
from django.conf import settings as django_settings
from django.urls import reverse
from django.utils import timezone

from handoffs import endpoints, events, payloads, services, sla
from handoffs.management.commands.handoffs_schemas import docs_with_schemas
from handoffs.models import Handoff, HandoffAttempt, HandoffStatus, WebhookEndpoint
from tests.handoffs.conftest import approve
from tests.handoffs.http_receiver import Reply

pytestmark = pytest.mark.django_db


def deliver_due() -> list[Handoff]:
    ids = list(
        Handoff.outbox.filter(
            status__in=[HandoffStatus.PENDING, HandoffStatus.RETRYING],
            next_attempt_at__lte=timezone.now(),
        ).values_list("pk", flat=True)
    )
    return services.handoffs_deliver(handoff_ids=ids)


def decision_email(**overrides):
    fields = {
        "to": ["rep@example.com"],
        "cc": ["lead@example.com", "rep@example.com"],
        "subject": "Approved: ACME is Closed-Won",
        "body": "RevOps approved your Closed-Won request.",
        "dedupe_key": "decision:42",
    }
    return services.email_enqueue(**{**fields, **overrides})


def test_an_email_is_an_outbox_row_sent_once_per_dedupe_key(mailoutbox):
    row = decision_email()
    assert decision_email().pk == row.pk  # a second enqueue is a no-op
    assert (row.channel, row.event_type, row.status) == ("email", "email.decision", "pending")
    assert row.payload["cc"] == ["lead@example.com"]  # no one twice
    assert not Handoff.objects.filter(pk=row.pk).exists()  # not a handoff

    (sent,) = deliver_due()
    assert sent.status == "delivered"
    (mail,) = mailoutbox
    assert (mail.to, mail.cc, mail.subject) == (
        ["rep@example.com"],
        ["lead@example.com"],
        "Approved: ACME is Closed-Won",
    )
    assert deliver_due() == []  # nothing left: a redelivered task sends nothing
    assert HandoffAttempt.objects.get(handoff=row).outcome == "delivered"


def test_a_failing_mail_server_is_retried_on_the_schedule_then_dead(settings, mailoutbox):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 1
    settings.HANDOFF_RETRY_DELAYS = (5, 60)
    row = decision_email()
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        (first,) = deliver_due()
        assert first.status == "retrying" and "Connection" in first.last_error
        assert first.next_attempt_at == timezone.now() + dt.timedelta(seconds=5)
        traveller.shift(6)
        deliver_due()
        traveller.shift(61)
        (last,) = deliver_due()
        assert last.status == "dead" and last.attempts == 3

    # The mail server is back: RevOps send it again, same row.
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    revops = _revops()
    endpoints.delivery_replay(delivery=row, actor=revops)
    (again,) = deliver_due()
    assert again.status == "delivered" and len(mailoutbox) == 1


def _revops():
    from tests.factories import make_user

    return make_user("revops", "revops_rhea")


def test_an_email_without_recipients_is_skipped(mailoutbox):
    row = decision_email(to=[" "], dedupe_key="decision:43")
    assert row.status == "skipped" and row.last_error
    assert deliver_due() == [] and mailoutbox == []


def test_a_chat_message_posts_text_json_to_the_incoming_webhook(settings, receiver):
    settings.CHAT_WEBHOOK_URL = receiver.url("chat")
    row = services.chat_enqueue(text="Approve ACME (120,000 EUR)?", dedupe_key="approval:7:finance")
    assert services.chat_enqueue(text="again", dedupe_key="approval:7:finance").pk == row.pk
    receiver.script("chat", Reply(500), Reply(200))
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        (first,) = deliver_due()
        assert first.status == "retrying" and first.last_error == "HTTP 500"
        traveller.shift(6)
        (second,) = deliver_due()
    assert second.status == "delivered"
    bodies = [json.loads(r.body) for r in receiver.requests("chat")]
    assert bodies == [{"text": "Approve ACME (120,000 EUR)?"}] * 2
    settings.CHAT_WEBHOOK_URL = ""
    assert services.chat_enqueue(text="x", dedupe_key="approval:8").status == "skipped"


# --- SLAs ------------------------------------------------------------------------------------


def test_overdue_handoffs_are_listed_oldest_first_and_revops_told_once(
    settings, rep, revops, endpoints, mailoutbox
):
    settings.HANDOFF_SLA_HOURS = {
        "billing": 24,
        "provisioning": 24,
        "customer_success": 72,
        "commission": 168,
    }
    start = timezone.now()
    with time_machine.travel(start, tick=False) as traveller:
        older, handoffs = approve(rep, revops)
        traveller.shift(dt.timedelta(hours=1))
        newer, _ = approve(rep, revops)
        deliver_due()
        services.handoff_complete(
            handoff=Handoff.objects.get(pk=handoffs["billing"].pk),
            actor=revops,
            external_ref="INV-1",
        )
        assert list(sla.overdue_handoffs()) == []
        assert sla.handoffs_notify_overdue() == []

        traveller.shift(dt.timedelta(hours=24))  # 25 h after the first approval
        overdue = list(sla.overdue_handoffs())
        # The older deal's provisioning (its billing is completed); the newer deal is 24 h old.
        assert [(h.opportunity_id, h.kind) for h in overdue] == [(older.pk, "provisioning")]
        opened = list(sla.open_handoffs())
        assert [h.opportunity_id for h in opened][:3] == [older.pk] * 3  # oldest first
        assert (older.pk, "billing") not in {(h.opportunity_id, h.kind) for h in opened}

        (told,) = sla.handoffs_notify_overdue()
        assert told.kind == "provisioning"
        assert sla.handoffs_notify_overdue() == []  # once per overdue handoff
        traveller.shift(dt.timedelta(hours=2))
        assert {h.opportunity_id for h in sla.handoffs_notify_overdue()} == {newer.pk}
        deliver_due()
    assert sorted(m.subject for m in mailoutbox if m.subject.startswith("Overdue")) == sorted(
        [
            f"Overdue provisioning handoff: {older.name}",
            f"Overdue provisioning handoff: {newer.name}",
            f"Overdue billing handoff: {newer.name}",
        ]
    )


# --- schemas ---------------------------------------------------------------------------------


def test_docs_carry_the_current_event_schemas():
    docs = Path(django_settings.BASE_DIR, "docs", "handoffs.md").read_text()
    assert docs_with_schemas(docs) == docs, "run: python manage.py handoffs_schemas --write"
    for event_type in events.EVENT_TYPES:
        jsonschema.Draft202012Validator.check_schema(events.event_schema(event_type))


def test_real_payloads_match_their_schemas(rep, revops, endpoints):
    opportunity, handoffs = approve(rep, revops)
    checker = jsonschema.Draft202012Validator.FORMAT_CHECKER
    for handoff in handoffs.values():
        schema = events.event_schema(handoff.event_type)
        jsonschema.validate(handoff.payload, schema, format_checker=checker)
    WebhookEndpoint.objects.create(
        url="https://example.com/hook", event_types=list(events.EVENT_TYPES)
    )
    # The amendment events carry more (tests/amendments/test_payloads.py checks them).
    plain = [t for t in events.LIFECYCLE_EVENT_TYPES if t not in ("deal.amended", "deal.cancelled")]
    for event_type in plain:
        (row,) = services.deliveries_create_for_event(
            event_type=event_type,
            data=payloads.lifecycle_data(
                opportunity=opportunity, actor=revops, from_stage="negotiation", reason="why"
            ),
            opportunity=opportunity,
        )
        jsonschema.validate(row.payload, events.event_schema(event_type), format_checker=checker)
    broken = {**handoffs["billing"].payload, "version": 2}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, events.event_schema("handoff.billing"))


# --- the console -----------------------------------------------------------------------------


def test_revops_add_an_endpoint_in_the_admin_see_the_secret_once_rotate_and_replay(
    client, settings, rep, revops, revops2, endpoints
):
    settings.WEBHOOK_ALLOW_PRIVATE, settings.WEBHOOK_REQUIRE_HTTPS = True, False
    client.force_login(revops2)
    add = reverse("admin:handoffs_webhookendpoint_add")
    response = client.post(
        add,
        {
            "url": endpoints.url("dwh"),
            "description": "DWH",
            "event_types": ["deal.won"],
            "active": "on",
        },
        follow=True,
    )
    assert response.status_code == 200
    endpoint = WebhookEndpoint.objects.get(description="DWH")
    (secret,) = endpoint.secrets.values_list("secret", flat=True)
    shown = [str(m) for m in response.context["messages"]]
    assert any(secret in m for m in shown)
    page = client.get(reverse("admin:handoffs_webhookendpoint_change", args=[endpoint.pk]))
    assert secret not in page.content.decode()

    changelist = reverse("admin:handoffs_webhookendpoint_changelist")
    listing = client.get(changelist)
    assert listing.status_code == 200 and "DWH" in listing.content.decode()
    rotated = client.post(
        changelist,
        {"action": "rotate_secret", "_selected_action": [str(endpoint.pk)]},
        follow=True,
    )
    new = endpoint.secrets.filter(expires_at__isnull=True).get().secret
    assert new != secret and any(new in str(m) for m in rotated.context["messages"])

    settings.WEBHOOK_ALLOW_PRIVATE = False
    refused = client.post(
        add, {"url": "http://10.0.0.5/x", "event_types": ["deal.won"], "active": "on"}
    )
    assert refused.status_code == 200 and "private or reserved" in refused.content.decode()
    assert WebhookEndpoint.objects.filter(url="http://10.0.0.5/x").count() == 0

    replay = reverse("admin:handoffs_webhookendpoint_replay", args=[endpoint.pk])
    assert client.get(replay).status_code == 200
    done = client.post(replay, {"since": "2020-01-01T00:00"}, follow=True)
    assert any("queued again" in str(m) for m in done.context["messages"])


def test_the_console_lists_deliveries_messages_and_open_handoffs(client, rep, revops, endpoints):
    opportunity, _ = approve(rep, revops)
    services.email_enqueue(to=["a@example.com"], subject="s", body="b", dedupe_key="k")
    client.force_login(revops)
    for name in (
        "webhookdelivery",
        "outgoingmessage",
        "openhandoff",
        "webhookendpoint",
    ):
        response = client.get(reverse(f"admin:handoffs_{name}_changelist"))
        assert response.status_code == 200, name
    open_page = client.get(reverse("admin:handoffs_openhandoff_changelist") + "?sla=overdue")
    assert open_page.context["cl"].result_count == 0
    all_open = client.get(reverse("admin:handoffs_openhandoff_changelist"))
    assert all_open.context["cl"].result_count == 4
    assert client.get(reverse("admin:handoffs_handoff_changelist")).context["cl"].result_count == 4
    client.force_login(rep)
    assert client.get(reverse("admin:handoffs_webhookendpoint_changelist")).status_code in (
        302,
        403,
    )
