"""The admin index tells RevOps what needs them: pending approvals and dead handoffs."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from handoffs.models import Handoff
from opportunities import services
from opportunities.stages import Source
from tests.admin.conftest import client_for, pending_opportunity

pytestmark = pytest.mark.django_db


def test_the_index_counts_pending_approvals_and_dead_handoffs(rep, revops, revops2):
    pending_opportunity(rep)
    pending_opportunity(rep)
    approved = pending_opportunity(rep)
    services.opportunity_transition(
        opportunity=approved.opportunity_id, name="approve", actor=revops2, source=Source.ADMIN
    )
    # given delivery gave up on one of the four handoffs
    Handoff.objects.filter(approval=approved, kind="billing").update(status="dead")

    response = client_for(revops).get("/admin/")

    html = response.content.decode()
    assert '<span class="cw-stat-n" data-testid="pending-approvals">2</span>' in html
    assert 'data-testid="dead-handoffs" style="color:#a3261a">1</span>' in html
    assert "/admin/opportunities/closedwonapproval/" in html
    assert "/admin/handoffs/handoff/?status__exact=dead" in html


def test_the_index_costs_the_same_queries_however_many_deals_wait(rep, revops):
    client = client_for(revops)
    pending_opportunity(rep)
    client.get("/admin/")

    with CaptureQueriesContext(connection) as few:
        client.get("/admin/")
    for _ in range(10):
        pending_opportunity(rep)
    with CaptureQueriesContext(connection) as many:
        client.get("/admin/")

    assert len(few.captured_queries) == len(many.captured_queries)
