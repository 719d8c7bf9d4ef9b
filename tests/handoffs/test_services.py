"""handoff_retry (RevOps re-drive) and handoff_complete (downstream confirmation), and
the selectors the console and API read through."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from core import errors
from handoffs import selectors
from handoffs.models import Handoff, HandoffAttempt
from handoffs.services import handoff_complete, handoff_deliver, handoff_retry
from tests.celery_worker import purge_queues
from tests.handoffs.conftest import approve
from tests.handoffs.http_receiver import Reply

pytestmark = pytest.mark.django_db


def given(handoff: Handoff, **fields) -> Handoff:
    Handoff.objects.filter(pk=handoff.pk).update(**fields)
    handoff.refresh_from_db()
    return handoff


@pytest.fixture
def billing(rep, revops):
    _, handoffs = approve(rep, revops)
    return handoffs["billing"]


# --- handoff_retry ---------------------------------------------------------------------------


def test_revops_re_drives_a_dead_handoff_with_the_same_id(billing, revops2, endpoints):
    endpoints.always("billing", Reply(500))
    with_attempt = handoff_deliver(handoff_id=billing.pk)
    dead = given(with_attempt, status="dead", attempts=10, next_attempt_at=None)
    endpoints.always("billing", Reply(200))

    retried = handoff_retry(handoff=dead, actor=revops2)

    assert retried.status == "retrying" and retried.next_attempt_at <= timezone.now()
    assert retried.retried_by == revops2 and retried.retried_at is not None
    delivered = handoff_deliver(handoff_id=billing.pk)
    assert delivered.status == "delivered" and delivered.attempts == 11
    ids = {r.headers["webhook-id"] for r in endpoints.requests("billing")}
    assert ids == {str(billing.pk)} and len(endpoints.requests("billing")) == 2


def test_a_re_driven_dead_handoff_that_fails_again_is_dead_again(billing, revops2, endpoints):
    endpoints.always("billing", Reply(500))
    dead = given(billing, status="dead", attempts=10, next_attempt_at=None)

    handoff_retry(handoff=dead, actor=revops2)
    again = handoff_deliver(handoff_id=billing.pk)

    assert again.status == "dead" and again.attempts == 11 and again.next_attempt_at is None


def test_re_driving_a_retrying_handoff_pulls_its_next_attempt_forward(billing, revops2):
    later = timezone.now() + dt.timedelta(hours=2)
    retrying = given(billing, status="retrying", attempts=4, next_attempt_at=later)

    retried = handoff_retry(handoff=retrying, actor=revops2)

    assert retried.status == "retrying" and retried.next_attempt_at < later
    assert retried.attempts == 4  # the schedule continues where it was


def test_reps_may_not_re_drive(billing, rep):
    dead = given(billing, status="dead")
    with pytest.raises(errors.PermissionDenied):
        handoff_retry(handoff=dead, actor=rep)
    assert Handoff.objects.get(pk=billing.pk).status == "dead"


def test_anonymous_may_not_re_drive(billing):
    from django.contrib.auth.models import AnonymousUser

    with pytest.raises(errors.PermissionDenied):
        handoff_retry(handoff=given(billing, status="dead"), actor=AnonymousUser())


@pytest.mark.parametrize("status", ["pending", "delivered", "completed", "skipped"])
def test_only_retrying_or_dead_can_be_re_driven(billing, revops2, status):
    handoff = given(billing, status=status)
    with pytest.raises(errors.TransitionNotAllowed):
        handoff_retry(handoff=handoff, actor=revops2)
    assert Handoff.objects.get(pk=billing.pk).status == status


def test_a_handoff_being_sent_right_now_is_not_re_driven(billing, revops2):
    handoff = given(
        billing,
        status="retrying",
        attempts=2,
        claimed_until=timezone.now() + dt.timedelta(seconds=30),
    )
    HandoffAttempt.objects.create(handoff=handoff, number=2, outcome="sending")

    with pytest.raises(errors.TransitionNotAllowed):
        handoff_retry(handoff=handoff, actor=revops2)


def test_re_drive_enqueues_on_commit(billing, revops2, django_capture_on_commit_callbacks):
    purge_queues()
    dead = given(billing, status="dead")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        handoff_retry(handoff=dead, actor=revops2)
    assert len(callbacks) == 1


# --- handoff_complete ---------------------------------------------------------------------------


def test_downstream_completes_a_delivered_handoff(billing, revops2):
    delivered = given(billing, status="delivered", delivered_at=timezone.now())

    done = handoff_complete(handoff=delivered, actor=revops2, external_ref="  INV-2024-001 ")

    assert done.status == "completed" and done.external_ref == "INV-2024-001"
    assert done.completed_at is not None and done.completed_by == revops2


def test_completing_twice_with_the_same_reference_is_a_no_op(billing, revops2):
    delivered = given(billing, status="delivered")
    first = handoff_complete(handoff=delivered, actor=revops2, external_ref="INV-1")

    again = handoff_complete(handoff=delivered, actor=revops2, external_ref="INV-1")

    assert again.completed_at == first.completed_at


def test_completing_with_another_reference_is_refused(billing, revops2):
    handoff_complete(
        handoff=given(billing, status="delivered"), actor=revops2, external_ref="INV-1"
    )
    with pytest.raises(errors.TransitionNotAllowed):
        handoff_complete(handoff=billing, actor=revops2, external_ref="INV-2")
    assert Handoff.objects.get(pk=billing.pk).external_ref == "INV-1"


@pytest.mark.parametrize("status", ["pending", "retrying", "dead", "skipped"])
def test_only_a_delivered_handoff_completes(billing, revops2, status):
    with pytest.raises(errors.TransitionNotAllowed):
        handoff_complete(handoff=given(billing, status=status), actor=revops2, external_ref="INV-1")


@pytest.mark.parametrize("ref", ["", "   ", "x" * 201])
def test_complete_needs_a_reference(billing, revops2, ref):
    with pytest.raises(errors.InvalidInput) as exc:
        handoff_complete(
            handoff=given(billing, status="delivered"), actor=revops2, external_ref=ref
        )
    assert exc.value.errors[0]["field"] == "external_ref"


def test_reps_may_not_complete(billing, rep):
    with pytest.raises(errors.PermissionDenied):
        handoff_complete(handoff=given(billing, status="delivered"), actor=rep, external_ref="X")


# --- selectors -----------------------------------------------------------------------------------


def test_handoff_list_costs_one_query_whatever_the_number(rep, revops, django_assert_num_queries):
    for _ in range(3):
        approve(rep, revops)

    with django_assert_num_queries(1):
        rows = [
            (h.opportunity.name, h.opportunity.account.name, h.opportunity.owner.username)
            + (h.approval.decided_by.username, h.kind)
            for h in selectors.handoff_list()
        ]
    assert len(rows) == 12


def test_handoff_list_filters(rep, revops):
    opportunity, handoffs = approve(rep, revops)
    approve(rep, revops)
    given(handoffs["billing"], status="dead")

    assert selectors.handoff_list(opportunity=opportunity).count() == 4
    assert selectors.handoff_list(opportunity=opportunity.pk, kind="billing").count() == 1
    assert list(selectors.handoff_list(status="dead")) == [handoffs["billing"]]


def test_handoff_get_treats_a_malformed_id_as_missing(billing):
    assert selectors.handoff_get("nope") is None
    assert selectors.handoff_get(billing.pk) == billing


def test_the_kinds_the_settings_read_are_the_handoff_kinds(settings):
    from handoffs.models import HandoffKind

    assert list(settings.HANDOFF_ENDPOINTS) == list(HandoffKind.values)
