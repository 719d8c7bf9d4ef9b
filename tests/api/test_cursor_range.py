"""A cursor page starts at its cursor in the index: the query carries a range on the first
sort key (not only the OR chain, which an index cannot start at), runs no COUNT, and a
walk still returns every row exactly once when the sort values tie."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from opportunities.models import Opportunity
from tests.api.conftest import client_for
from tests.factories import OpportunityFactory

pytestmark = pytest.mark.django_db


def test_a_cursor_page_bounds_the_first_sort_key_and_counts_nothing(rep):
    for _ in range(7):
        OpportunityFactory(owner=rep)
    same = timezone.now()
    Opportunity.objects.update(updated_at=same)  # every sort value ties: id decides
    client = client_for(rep)
    seen: list[int] = []
    url = "/api/v1/opportunities/?limit=3"
    pages = 0
    while url:
        with CaptureQueriesContext(connection) as ctx:
            body = client.get(url).json()
        seen += [row["id"] for row in body["results"]]
        sql = " ".join(q["sql"] for q in ctx.captured_queries)
        assert "COUNT(" not in sql.upper()
        if pages:
            assert '"opportunities_opportunity"."updated_at" <=' in sql
        url, pages = body["next"], pages + 1
    assert sorted(seen) == sorted(Opportunity.objects.values_list("id", flat=True))
    assert len(seen) == len(set(seen)) == 7 and pages == 3


def test_the_previous_link_walks_back_over_the_same_rows(rep):
    for _ in range(5):
        OpportunityFactory(owner=rep)
    client = client_for(rep)
    first = client.get("/api/v1/opportunities/?limit=2").json()
    second = client.get(first["next"]).json()
    back = client.get(second["previous"]).json()
    assert [r["id"] for r in back["results"]] == [r["id"] for r in first["results"]]
