"""An approver group's chat webhook URL is typed by RevOps: the address guard refuses a
loopback or private one when it is saved (service and admin) and again at every send.
Only the operator's CHAT_WEBHOOK_URL is trusted. Sends run in this process against the
real local receiver on 127.0.0.1, allowed deliberately through WEBHOOK_ALLOWED_NETWORKS,
as the webhook endpoint tests do."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from approvals import services
from approvals.models import ApproverGroup
from handoffs import services as outbox
from handoffs.models import Handoff
from opportunities.services import opportunity_transition
from tests.approvals.conftest import BIG
from tests.factories import ready_opportunity
from tests.handoffs.http_receiver import Receiver

pytestmark = pytest.mark.django_db


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _guarded(settings):
    """As in production: private addresses refused, http allowed so the local receiver
    is only refused for its address."""
    settings.WEBHOOK_ALLOW_PRIVATE = False
    settings.WEBHOOK_REQUIRE_HTTPS = False
    settings.WEBHOOK_ALLOWED_NETWORKS = ()
    settings.CHAT_WEBHOOK_URL = ""


def _chat_rows():
    return Handoff.outbox.filter(channel="chat")


def test_a_loopback_group_url_is_refused_at_save(revops, finance_group, receiver):
    for url in (receiver.url("finance"), "http://169.254.169.254/latest/", "http://10.0.0.5/x"):
        with pytest.raises(Exception) as refused:
            services.approver_group_save(actor=revops, group=finance_group, chat_webhook_url=url)
        assert getattr(refused.value, "code", "") == "url_not_allowed", url
    assert not ApproverGroup.objects.exists()

    admin = Client()
    admin.force_login(revops)
    page = admin.post(
        "/admin/approvals/approvergroup/add/",
        {"group": finance_group.pk, "chat_webhook_url": receiver.url("finance")},
    )
    assert page.status_code == 200 and "private or reserved" in page.content.decode()
    assert not ApproverGroup.objects.exists()


def test_a_group_url_allowed_at_save_is_checked_again_at_send(
    settings, rep, revops, fiona, policy, finance_group, receiver
):
    # The operator allows the loopback network: RevOps may save the receiver's URL.
    settings.WEBHOOK_ALLOWED_NETWORKS = ("127.0.0.0/8",)
    admin = Client()
    admin.force_login(revops)
    saved = admin.post(
        "/admin/approvals/approvergroup/add/",
        {"group": finance_group.pk, "chat_webhook_url": receiver.url("finance")},
    )
    assert saved.status_code == 302, saved.content.decode()[:2000]
    assert ApproverGroup.objects.get(group=finance_group).chat_webhook_url == receiver.url(
        "finance"
    )
    opportunity = ready_opportunity(rep, **BIG)
    opportunity_transition(opportunity=opportunity, name="submit_for_approval", actor=rep)
    opportunity_transition(opportunity=opportunity, name="approve", actor=revops)
    (row,) = _chat_rows()
    assert row.payload["url"] == receiver.url("finance")

    # Then the operator withdraws it: the queued post is refused at send.
    settings.WEBHOOK_ALLOWED_NETWORKS = ()
    (sent,) = outbox.handoffs_deliver(handoff_ids=[row.pk])
    assert sent.status == "retrying" and sent.last_error.startswith("url_not_allowed"), (
        sent.status,
        sent.last_error,
    )
    assert receiver.requests("finance") == []


def test_the_operators_chat_url_stays_trusted(settings, receiver):
    settings.CHAT_WEBHOOK_URL = receiver.url("ops")
    row = outbox.chat_enqueue(text="Approve ACME?", dedupe_key="chat:test:ops")
    (sent,) = outbox.handoffs_deliver(handoff_ids=[row.pk])
    assert sent.status == "delivered", sent.last_error
    assert len(receiver.requests("ops")) == 1


def test_a_group_cannot_escalate_to_itself(revops, finance_group):
    legal = Group.objects.create(name="Legal")
    row = services.approver_group_save(
        actor=revops, group=finance_group, chat_webhook_url="", escalation_group=legal
    )
    assert row.escalation_group == legal
    with pytest.raises(Exception) as refused:
        services.approver_group_save(
            actor=revops, group=finance_group, escalation_group=finance_group
        )
    assert getattr(refused.value, "code", "") == "invalid"
