"""The inbox order: overdue steps first, then the oldest — in the database, across pages;
the due time frozen when a step becomes current."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from approvals import services as approval_services
from opportunities.models import Approval
from opportunities.selectors.approvals import queue_queryset
from tests.admin.conftest import client_for, submit
from tests.factories import make_user, ready_opportunity

pytestmark = pytest.mark.django_db

PER_PAGE = 50  # ClosedWonApprovalAdmin.list_per_page


def _submitted(owner, *, at: dt.datetime, name: str) -> Approval:
    """A request submitted at ``at`` (the clock moved there, so its due time is real)."""
    with time_machine.travel(at, tick=False):
        return submit(ready_opportunity(owner, name=name))


def test_sla_due_reads_the_frozen_time(rep):
    approval = submit(ready_opportunity(rep))
    frozen = timezone.now() + dt.timedelta(days=3)
    Approval.objects.filter(pk=approval.pk).update(step_due_at=frozen)
    approval.refresh_from_db()
    step = approval_services.current_step(approval)
    assert approval_services.sla_due(approval, step) == frozen


def test_overdue_requests_come_first_across_pages(revops, queue_url):
    owners = [make_user("rep") for _ in range(3)]
    now = timezone.now()
    # 55 requests submitted in the last hours: none overdue, the oldest of them first ...
    for n in range(PER_PAGE + 5):
        _submitted(owners[n % 3], at=now - dt.timedelta(minutes=5 * (n + 1)), name=f"Fresh {n}")
    # ... and 3 submitted a month ago, then made the newest-submitted by their wait:
    # they are overdue, so they lead the first page although 55 others are older in id.
    stale = [
        _submitted(owners[0], at=now - dt.timedelta(days=30 + n), name=f"Overdue {n}")
        for n in range(3)
    ]
    for n, approval in enumerate(stale):
        # submitted after every fresh request (so "oldest first" alone would put them last)
        Approval.objects.filter(pk=approval.pk).update(
            submitted_at=now - dt.timedelta(seconds=10 + n)
        )

    client = client_for(revops)
    first = client.get(queue_url)
    second = client.get(queue_url + "?p=2")

    names = [a.opportunity.name for a in first.context["cl"].result_list]
    assert names[:3] == ["Overdue 2", "Overdue 1", "Overdue 0"]  # overdue, oldest first
    assert all(a.step_overdue for a in first.context["cl"].result_list[:3])
    assert not any(a.step_overdue for a in first.context["cl"].result_list[3:])
    rest = [a.opportunity.name for a in second.context["cl"].result_list]
    assert len(names) == PER_PAGE and len(rest) == 8
    assert not any(n.startswith("Overdue") for n in rest)
    # the fresh ones, oldest first, continue from page one to page two
    fresh = names[3:] + rest
    assert fresh == [f"Fresh {n}" for n in reversed(range(PER_PAGE + 5))]
    html = first.content.decode()
    assert html.index("Overdue 2") < html.index("Fresh 54")


def test_the_queue_queryset_orders_in_the_database(rep):
    now = timezone.now()
    old_ok = _submitted(rep, at=now - dt.timedelta(minutes=30), name="A")
    new_late = _submitted(rep, at=now - dt.timedelta(days=20), name="B")
    Approval.objects.filter(pk=new_late.pk).update(submitted_at=now - dt.timedelta(minutes=1))

    with CaptureQueriesContext(connection) as ctx:
        ids = list(queue_queryset(with_line_items=False).values_list("pk", flat=True))
    assert ids == [new_late.pk, old_ok.pk]
    assert "ORDER BY CASE WHEN" in ctx.captured_queries[0]["sql"]
    # the API keeps a fixed order for its cursor pages
    api_ids = list(
        queue_queryset(with_line_items=False, overdue_first=False).values_list("pk", flat=True)
    )
    assert api_ids == [old_ok.pk, new_late.pk]


def test_a_column_header_still_sorts_the_queue(revops, queue_url, rep):
    now = timezone.now()
    _submitted(rep, at=now - dt.timedelta(days=20), name="Zeta late")
    _submitted(rep, at=now - dt.timedelta(minutes=3), name="Alpha fresh")
    response = client_for(revops).get(queue_url + "?o=1")  # by deal name
    assert [a.opportunity.name for a in response.context["cl"].result_list] == [
        "Alpha fresh",
        "Zeta late",
    ]
