"""The handoff console in the admin: list with status/kind filters, attempts inline,
"Retry now" through the same service as the API."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from handoffs.models import CommissionPlan, Handoff, HandoffAttempt
from tests.celery_worker import purge_queues
from tests.handoffs.conftest import approve

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:handoffs_handoff_changelist")


@pytest.fixture
def opportunities(rep, revops):
    """Two approved deals; one billing handoff dead, one provisioning delivered."""
    first, handoffs = approve(rep, revops)
    second, _ = approve(rep, revops)
    Handoff.objects.filter(pk=handoffs["billing"].pk).update(
        status="dead", attempts=10, last_error="HTTP 500"
    )
    Handoff.objects.filter(pk=handoffs["provisioning"].pk).update(status="delivered")
    HandoffAttempt.objects.create(
        handoff=handoffs["billing"], number=10, outcome="failed", status_code=500, error="HTTP 500"
    )
    return first, second, handoffs


def test_revops_sees_every_handoff(client, revops2, opportunities):
    client.force_login(revops2)

    response = client.get(CHANGELIST)

    assert response.status_code == 200
    assert response.context["cl"].result_count == 8


@pytest.mark.parametrize(
    ("query", "count"),
    [("status__exact=dead", 1), ("status__exact=pending", 6), ("kind__exact=billing", 2)]
    + [("kind__exact=billing&status__exact=dead", 1), ("status__exact=completed", 0)],
)
def test_it_filters_by_status_and_kind(client, revops2, opportunities, query, count):
    client.force_login(revops2)
    response = client.get(f"{CHANGELIST}?{query}")
    assert response.status_code == 200
    assert response.context["cl"].result_count == count


def test_the_changelist_costs_the_same_queries_for_more_rows(
    client, revops2, rep, revops, django_assert_max_num_queries
):
    approve(rep, revops)
    client.force_login(revops2)
    client.get(CHANGELIST)  # warm the permission cache and content types
    with django_assert_max_num_queries(12) as few:
        client.get(CHANGELIST)
    for _ in range(5):
        approve(rep, revops)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(CHANGELIST)
    assert response.context["cl"].result_count == 24


def test_the_change_page_shows_attempts_and_payload(client, revops2, opportunities):
    _, _, handoffs = opportunities
    client.force_login(revops2)

    response = client.get(reverse("admin:handoffs_handoff_change", args=[handoffs["billing"].pk]))

    assert response.status_code == 200
    body = response.content.decode()
    assert "HTTP 500" in body and "handoff.billing" in body


def test_retry_now_re_drives_dead_and_reports_the_rest(client, revops2, opportunities):
    _, _, handoffs = opportunities
    purge_queues()
    client.force_login(revops2)

    response = client.post(
        CHANGELIST,
        {
            "action": "retry_now",
            "_selected_action": [str(handoffs["billing"].pk), str(handoffs["provisioning"].pk)],
        },
        follow=True,
    )

    assert response.status_code == 200
    billing = Handoff.objects.get(pk=handoffs["billing"].pk)
    assert billing.status == "retrying" and billing.retried_by == revops2
    assert Handoff.objects.get(pk=handoffs["provisioning"].pk).status == "delivered"
    texts = [str(m) for m in response.context["messages"]]
    assert any("1 handoff(s) queued" in t for t in texts)
    assert any("Not re-driven" in t and "provisioning" in t for t in texts)


def test_retry_now_is_not_offered_without_the_permission(client, opportunities):
    """A staff member who may only view handoffs gets no Retry now action."""
    from django.contrib.auth.models import Permission

    from tests.factories import make_user

    viewer = make_user("rep", "viewer_vic")
    viewer.is_staff = True
    viewer.save()
    viewer.user_permissions.add(Permission.objects.get(codename="view_handoff"))
    client.force_login(viewer)
    _, _, handoffs = opportunities

    response = client.get(CHANGELIST)
    assert response.status_code == 200
    assert "retry_now" not in response.content.decode()
    client.post(
        CHANGELIST, {"action": "retry_now", "_selected_action": [str(handoffs["billing"].pk)]}
    )
    assert Handoff.objects.get(pk=handoffs["billing"].pk).status == "dead"


def test_reps_cannot_open_the_console(client, rep, opportunities):
    client.force_login(rep)
    response = client.get(CHANGELIST)
    assert response.status_code == 302  # to the admin login: reps are not staff


def test_handoffs_are_read_only_in_the_admin(client, revops2, opportunities):
    _, _, handoffs = opportunities
    client.force_login(revops2)
    assert client.get(reverse("admin:handoffs_handoff_add")).status_code == 403
    response = client.post(
        reverse("admin:handoffs_handoff_delete", args=[handoffs["billing"].pk]), {"post": "yes"}
    )
    assert response.status_code == 403
    assert Handoff.objects.filter(pk=handoffs["billing"].pk).exists()


def test_revops_manage_commission_plans_and_read_credits(client, revops2, rep, opportunities):
    client.force_login(revops2)

    response = client.post(
        reverse("admin:handoffs_commissionplan_add"), {"rep": rep.pk, "rate": "0.0850"}
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    assert CommissionPlan.objects.get(rep=rep).rate == Decimal("0.0850")
    credits = client.get(reverse("admin:handoffs_commissioncredit_changelist"))
    assert credits.status_code == 200 and credits.context["cl"].result_count == 2
    receipts = client.get(reverse("admin:handoffs_demoreceipt_changelist"))
    assert receipts.status_code == 200


def test_a_rate_above_one_is_refused(client, revops2, rep):
    client.force_login(revops2)
    response = client.post(
        reverse("admin:handoffs_commissionplan_add"), {"rep": rep.pk, "rate": "1.5"}
    )
    assert response.status_code == 200  # the form again, with the error
    assert not CommissionPlan.objects.exists()


def test_a_staff_rep_sees_only_the_handoffs_of_their_own_deals(client, rep2, revops, opportunities):
    """Compensation is private in the admin as in the API: an approver who is a rep (staff,
    may view handoffs) sees their own deals' handoffs only, and opens no one else's."""
    rep2.is_staff = True
    rep2.save()
    own, own_handoffs = approve(rep2, revops)
    _, _, others = opportunities
    client.force_login(rep2)

    response = client.get(CHANGELIST)
    assert response.status_code == 200
    assert {h.pk for h in response.context["cl"].result_list} == {
        h.pk for h in own_handoffs.values()
    }

    other = reverse("admin:handoffs_handoff_change", args=[others["commission"].pk])
    response = client.get(other, follow=True)
    assert "commission_rate" not in response.content.decode()
    assert response.redirect_chain and response.redirect_chain[-1][0].endswith("/admin/")
