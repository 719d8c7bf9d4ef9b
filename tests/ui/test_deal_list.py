"""The deal list /opportunities/: sort, filter, paginate, constant queries."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from opportunities.models import Opportunity
from opportunities.stages import Stage
from opportunities.web.views import LIST_PAGE_SIZE
from tests.factories import AccountFactory, OpportunityFactory

pytestmark = pytest.mark.django_db


def names(response):
    return [opportunity.name for opportunity in response.context["page"].object_list]


def test_it_sorts_by_a_column_both_ways(rep, rep_client):
    OpportunityFactory(owner=rep, name="B", amount=Decimal("200"))
    OpportunityFactory(owner=rep, name="A", amount=Decimal("300"))
    OpportunityFactory(owner=rep, name="C", amount=Decimal("100"))

    assert names(rep_client.get("/opportunities/?sort=name")) == ["A", "B", "C"]
    assert names(rep_client.get("/opportunities/?sort=-name")) == ["C", "B", "A"]
    assert names(rep_client.get("/opportunities/?sort=amount")) == ["C", "B", "A"]
    response = rep_client.get("/opportunities/?sort=amount")
    assert 'aria-sort="ascending"' in response.content.decode()


def test_an_unknown_sort_falls_back_to_recently_updated(rep, rep_client):
    OpportunityFactory(owner=rep, name="old")
    OpportunityFactory(owner=rep, name="new")
    assert names(rep_client.get("/opportunities/?sort=password")) == ["new", "old"]


def test_it_filters_by_stage_owner_and_search(rep, rep2, rep_client):
    OpportunityFactory(owner=rep, name="Mine prospecting")
    OpportunityFactory(owner=rep, name="Mine lost", stage=Stage.CLOSED_LOST)
    OpportunityFactory(owner=rep2, name="Theirs", account=AccountFactory(name="Umbrella"))

    assert names(rep_client.get("/opportunities/?stage=closed_lost")) == ["Mine lost"]
    assert names(rep_client.get(f"/opportunities/?owner={rep2.pk}")) == ["Theirs"]
    assert names(rep_client.get("/opportunities/?scope=all&q=umbrel")) == ["Theirs"]
    assert sorted(names(rep_client.get("/opportunities/"))) == ["Mine lost", "Mine prospecting"]


def test_it_paginates_and_keeps_the_filters_in_the_page_links(rep, rep_client):
    Opportunity.objects.bulk_create(
        [
            Opportunity(name=f"Deal {i:03d}", owner=rep, currency="USD")
            for i in range(LIST_PAGE_SIZE + 5)
        ]
    )
    first = rep_client.get("/opportunities/?sort=name&q=Deal")
    assert len(names(first)) == LIST_PAGE_SIZE
    assert "page=2" in first.content.decode() and "q=Deal" in first.content.decode()
    second = rep_client.get("/opportunities/?sort=name&q=Deal&page=2")
    assert names(second) == [f"Deal {i:03d}" for i in range(LIST_PAGE_SIZE, LIST_PAGE_SIZE + 5)]
    # A page past the end shows the last page, not an error.
    assert names(rep_client.get("/opportunities/?sort=name&page=99")) == names(second)


def _list_queries(client) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get("/opportunities/?scope=all&sort=account").status_code == 200
    return len(ctx.captured_queries)


def test_the_list_costs_the_same_queries_for_10_and_60_deals(
    rep, rep2, rep_client, django_assert_max_num_queries
):
    def seed(n):
        Opportunity.objects.bulk_create(
            [
                Opportunity(
                    name=f"D{i}", owner=(rep, rep2)[i % 2], account=AccountFactory(), currency="USD"
                )
                for i in range(n)
            ]
        )

    seed(10)
    at_10 = _list_queries(rep_client)
    seed(50)
    at_60 = _list_queries(rep_client)
    assert at_10 == at_60
    with django_assert_max_num_queries(8):
        rep_client.get("/opportunities/?scope=all&sort=account")
