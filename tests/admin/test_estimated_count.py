"""The admin's paginator: an exact count for small or filtered lists, the planner's
estimate for large unfiltered ones, and one query either way (the same at 10,000 deals
as at 1,000,000)."""

from __future__ import annotations

import pytest
from django.db import connection

from opportunities.admin import mixins
from opportunities.models import Opportunity
from tests.factories import ready_opportunity


@pytest.mark.django_db
def test_a_small_table_is_counted_exactly_in_one_query(rep, django_assert_num_queries):
    for _ in range(3):
        ready_opportunity(rep, lines=0)
    paginator = mixins.EstimatedCountPaginator(Opportunity.objects.order_by("pk"), 100)

    with django_assert_num_queries(1):
        assert paginator.count == 3


@pytest.mark.django_db
def test_a_large_table_takes_the_estimate_in_the_same_one_query(
    rep, monkeypatch, django_assert_num_queries
):
    """Given statistics saying the table is above the threshold, the count is the
    planner's figure (here exact, fresh from ANALYZE) and still one query."""
    for _ in range(3):
        ready_opportunity(rep, lines=0)
    Opportunity.objects.filter(pk=Opportunity.objects.order_by("pk")[0].pk).delete()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE opportunities_opportunity")
        cursor.execute(
            "SELECT reltuples::bigint FROM pg_class WHERE oid = 'opportunities_opportunity'::regclass"
        )
        (estimate,) = cursor.fetchone()
    monkeypatch.setattr(mixins, "ESTIMATE_ABOVE", 0)
    paginator = mixins.EstimatedCountPaginator(Opportunity.objects.order_by("pk"), 100)

    with django_assert_num_queries(1):
        assert paginator.count == estimate


@pytest.mark.django_db
def test_a_filtered_list_is_counted_exactly(rep, monkeypatch):
    monkeypatch.setattr(mixins, "ESTIMATE_ABOVE", 0)
    opportunity = ready_opportunity(rep, lines=0)
    ready_opportunity(rep, lines=0)
    paginator = mixins.EstimatedCountPaginator(Opportunity.objects.filter(pk=opportunity.pk), 100)

    assert paginator.count == 1
