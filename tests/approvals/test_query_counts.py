"""Lists and sweeps of approval policies keep constant query counts: the policy admin's
list, the API's list of versions, a draft's preview of changed routes and the SLA sweep
each cost the same for 2 rows as for 20."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from approvals import services
from currencies.models import ExchangeRate
from handoffs.models import OutgoingMessage
from opportunities.services import opportunity_transition
from tests.api.conftest import client_for
from tests.approvals.conftest import BIG
from tests.factories import ready_opportunity

pytestmark = pytest.mark.django_db

DEFINITION = {
    "name": "Counted",
    "rules": [
        {
            "name": "Big deals",
            "conditions": {"amount_gte": "100000"},
            "steps": [{"group": "Finance", "mode": "any", "count": 1, "sla_hours": 8}],
        },
        {
            "name": "Deep discounts",
            "conditions": {"max_discount_pct_gte": "20"},
            "steps": [{"group": "Finance", "mode": "all", "count": 2, "sla_hours": 4}],
        },
    ],
}


def _queries(call) -> int:
    with CaptureQueriesContext(connection) as captured:
        call()
    return len(captured)


def _versions(n: int, actor) -> None:
    for _ in range(n):
        services.policy_save(DEFINITION, actor=actor)


def test_the_policy_admin_list_costs_the_same_for_2_and_20_versions(
    django_assert_num_queries, revops, finance_group
):
    admin = Client()
    admin.force_login(revops)
    url = "/admin/approvals/approvalpolicy/"
    _versions(2, revops)
    admin.get(url)  # the session and permission caches warm
    two = _queries(lambda: admin.get(url))
    _versions(18, revops)
    with django_assert_num_queries(two):
        page = admin.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert html.count("Big deals → Finance") == 20
    assert html.count('alt="True"') == 1  # only the newest is in force


def test_the_api_list_of_versions_costs_the_same_for_2_and_20(
    django_assert_num_queries, revops, finance_group
):
    api = client_for(revops)
    _versions(2, revops)
    api.get("/api/v1/approval-policies/")
    two = _queries(lambda: api.get("/api/v1/approval-policies/"))
    _versions(18, revops)
    with django_assert_num_queries(two):
        response = api.get("/api/v1/approval-policies/")
    rows = response.json()["results"]
    assert rows and all(
        [s["group"] for r in row["rules"] for s in r["steps"]] == ["Finance", "Finance"]
        for row in rows
    )


def _open_opportunities(rep, n: int, start: int) -> None:
    for i in range(start, start + n):
        # Half in a foreign currency: its rate is read once for all of them.
        ready_opportunity(rep, name=f"Open {i}", currency="EUR" if i % 2 else "USD", **BIG)


def test_the_draft_preview_costs_the_same_for_2_and_20_deals_and_caps_its_table(
    django_assert_num_queries, settings, rep, revops, policy
):
    ExchangeRate.objects.create(
        currency="EUR" if settings.REPORTING_CURRENCY != "EUR" else "USD",
        valid_from=dt.date(2020, 1, 1),
        rate=Decimal("1.10"),
    )
    draft = services.policy_copy_to_draft(policy, actor=revops)
    draft.rules.all().delete()  # every big deal would lose its Finance step
    _open_opportunities(rep, 2, 0)
    two = _queries(lambda: services.preview_changes(draft))
    _open_opportunities(rep, 18, 2)
    with django_assert_num_queries(two):
        preview = services.preview_changes(draft)
    assert preview.total == 20 and len(preview.rows) == 20
    capped = services.preview_changes(draft, limit=5)
    assert capped.total == 20 and [r["opportunity"].name for r in capped.rows] == [
        f"Open {i}" for i in range(5)
    ]
    admin = Client()
    admin.force_login(revops)
    page = admin.get(f"/admin/approvals/approvalpolicy/{draft.pk}/change/").content.decode()
    assert "Open 19" in page


def test_the_sla_sweep_reads_each_group_once_and_skips_what_it_told(
    django_assert_num_queries, settings, rep, revops, fiona, policy
):
    settings.APPROVAL_CALENDAR = {
        "days": [0, 1, 2, 3, 4],
        "start_hour": 9,
        "end_hour": 17,
        "time_zone": "UTC",
    }
    monday = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)

    def submit(n: int) -> None:
        with time_machine.travel(monday, tick=False):
            for _ in range(n):
                opportunity = ready_opportunity(rep, **BIG)
                opportunity_transition(
                    opportunity=opportunity, name="submit_for_approval", actor=rep
                )

    late = monday + dt.timedelta(hours=8)
    reminders = OutgoingMessage.objects.filter(event_type="email.reminder")
    submit(2)
    assert services.sla_sweep(late)["reminders"] == 2
    told = reminders.count()
    two = _queries(lambda: services.sla_sweep(late))
    submit(18)
    assert services.sla_sweep(late)["reminders"] == 18
    assert reminders.count() == told * 10
    with django_assert_num_queries(two):
        again = services.sla_sweep(late)
    assert again == {"reminders": 0, "escalations": 0}
    assert reminders.count() == told * 10
