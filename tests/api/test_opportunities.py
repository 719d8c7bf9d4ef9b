"""Opportunities: create with line items, PATCH (line items replace all), the JSON shape,
filters (incl. updated_since), ordering, pagination, and constant query counts."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from opportunities.models import LineItem, Opportunity
from opportunities.stages import Stage
from tests.api.conftest import problem
from tests.factories import (
    AccountFactory,
    ContactFactory,
    OpportunityFactory,
    ProductFactory,
    ready_opportunity,
)

pytestmark = pytest.mark.django_db

SPEC_FIELDS = {
    "id",
    "name",
    "account",
    "owner",
    "stage",
    "stage_label",
    "type",
    "amount",
    "currency",
    "close_date",
    "probability",
    "forecast_category",
    "contract_id",
    "po_number",
    "primary_contact",
    "contract_start_date",
    "term_months",
    "line_items",
    "loss_reason",
    "loss_detail",
    "version",
    "created_at",
    "updated_at",
    "closed_at",
}


def send(client, method, path, body, **extra):
    return getattr(client, method)(
        path, data=json.dumps(body), content_type="application/json", **extra
    )


def test_create_with_line_items(api, rep):
    account = AccountFactory()
    contact = ContactFactory(account=account)
    a, b = ProductFactory(), ProductFactory()
    body = {
        "name": "Acme — 2025 renewal",
        "account": account.pk,
        "type": "renewal",
        "amount": "12000.00",
        "currency": "EUR",
        "close_date": "2025-03-31",
        "contract_id": "C-77",
        "primary_contact": contact.pk,
        "contract_start_date": "2025-04-01",
        "term_months": 12,
        "line_items": [
            {"product": a.pk, "seats": 10, "unit_price": "1000.00"},
            {"product": b.pk, "seats": 4, "unit_price": "500.00"},
        ],
    }
    response = send(api(rep), "post", "/api/v1/opportunities/", body)
    assert response.status_code == 201, response.content
    data = response.json()
    assert set(data) == SPEC_FIELDS
    assert data["owner"] == rep.pk
    assert (data["stage"], data["stage_label"], data["probability"], data["forecast_category"]) == (
        "prospecting",
        "Prospecting",
        10,
        "pipeline",
    )
    assert data["amount"] == "12000.00" and data["currency"] == "EUR"
    assert data["close_date"] == "2025-03-31"
    assert [(li["product"], li["seats"], li["unit_price"]) for li in data["line_items"]] == [
        (a.pk, 10, "1000.00"),
        (b.pk, 4, "500.00"),
    ]
    assert data["version"] == 1
    opportunity = Opportunity.objects.get()
    assert opportunity.history.count() == 1  # written through the service (field history)


def test_patch_line_items_replaces_them_all_keeping_the_ids_sent(api, rep):
    opportunity = ready_opportunity(rep, stage=Stage.PROPOSAL, lines=2)
    keep, drop = list(opportunity.line_items.order_by("id"))
    new_product = ProductFactory()
    response = send(
        api(rep),
        "patch",
        f"/api/v1/opportunities/{opportunity.pk}/",
        {
            "line_items": [
                {"id": keep.pk, "product": keep.product_id, "seats": 99, "unit_price": None},
                {"product": new_product.pk, "seats": 1},
            ]
        },
    )
    assert response.status_code == 200, response.content
    items = response.json()["line_items"]
    assert [i["id"] for i in items][0] == keep.pk
    assert [(i["product"], i["seats"], i["unit_price"]) for i in items] == [
        (keep.product_id, 99, None),
        (new_product.pk, 1, None),
    ]
    assert not LineItem.objects.filter(pk=drop.pk).exists()
    assert response.json()["version"] == 2


def test_patch_with_an_empty_list_removes_every_line_item(api, rep):
    opportunity = ready_opportunity(rep, stage=Stage.PROPOSAL)
    response = send(
        api(rep), "patch", f"/api/v1/opportunities/{opportunity.pk}/", {"line_items": []}
    )
    assert response.status_code == 200 and response.json()["line_items"] == []


def test_a_rep_cannot_reassign_a_deal_but_revops_can(api, rep, rep2, revops):
    opportunity = ready_opportunity(rep)
    path = f"/api/v1/opportunities/{opportunity.pk}/"
    problem(send(api(rep), "patch", path, {"owner": rep2.pk}), 403, "permission_denied")
    response = send(api(revops), "patch", path, {"owner": rep2.pk})
    assert response.status_code == 200 and response.json()["owner"] == rep2.pk


def test_ungated_fields_stay_editable_while_pending(api, rep):
    opportunity = ready_opportunity(rep, stage=Stage.PENDING_APPROVAL)
    response = send(
        api(rep), "patch", f"/api/v1/opportunities/{opportunity.pk}/", {"name": "Renamed"}
    )
    assert response.status_code == 200 and response.json()["name"] == "Renamed"


@pytest.mark.parametrize(
    "field,value", [("term_months", 36), ("contract_start_date", "2031-01-01"), ("type", "renewal")]
)
def test_billing_terms_are_locked_while_pending(api, rep, field, value):
    opportunity = ready_opportunity(rep, stage=Stage.PENDING_APPROVAL)
    body = problem(
        send(api(rep), "patch", f"/api/v1/opportunities/{opportunity.pk}/", {field: value}),
        409,
        "record_locked",
    )
    assert [e["field"] for e in body["errors"]] == [field]


# --- lists ------------------------------------------------------------------------------------


def ids(response):
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def test_filters(api, rep, rep2):
    acme = AccountFactory(name="Acme")
    a = ready_opportunity(rep, stage=Stage.PROPOSAL, account=acme, close_date=dt.date(2025, 1, 10))
    b = ready_opportunity(rep2, stage=Stage.NEGOTIATION, close_date=dt.date(2025, 2, 10))
    c = ready_opportunity(
        rep2, stage=Stage.CLOSED_WON, close_date=dt.date(2025, 3, 10), po_number="PO-77"
    )
    client = api(rep)

    assert set(ids(client.get("/api/v1/opportunities/?stage=proposal&stage=closed_won"))) == {
        a.pk,
        c.pk,
    }
    assert set(ids(client.get(f"/api/v1/opportunities/?owner={rep2.pk}"))) == {b.pk, c.pk}
    assert ids(client.get(f"/api/v1/opportunities/?account={acme.pk}")) == [a.pk]
    assert set(ids(client.get("/api/v1/opportunities/?close_date_after=2025-02-01"))) == {
        b.pk,
        c.pk,
    }
    assert set(ids(client.get("/api/v1/opportunities/?close_date_before=2025-02-10"))) == {
        a.pk,
        b.pk,
    }
    assert ids(client.get("/api/v1/opportunities/?search=acme")) == [a.pk]
    assert ids(client.get("/api/v1/opportunities/?search=po-77")) == [c.pk]
    assert ids(client.get(f"/api/v1/opportunities/?owner={10**12}")) == []


def test_updated_since_returns_only_rows_changed_at_or_after(api, rep):
    old, edge, new = (ready_opportunity(rep) for _ in range(3))
    t0 = timezone.now().replace(microsecond=0) - dt.timedelta(hours=1)
    Opportunity.objects.filter(pk=old.pk).update(updated_at=t0 - dt.timedelta(seconds=1))
    Opportunity.objects.filter(pk=edge.pk).update(updated_at=t0)
    Opportunity.objects.filter(pk=new.pk).update(updated_at=t0 + dt.timedelta(minutes=5))
    client = api(rep)

    since = t0.isoformat().replace("+00:00", "Z")
    response = client.get(
        "/api/v1/opportunities/", {"updated_since": since, "ordering": "updated_at"}
    )
    assert ids(response) == [edge.pk, new.pk]
    # Offsets are honoured in any zone.
    since_cet = t0.astimezone(dt.timezone(dt.timedelta(hours=1))).isoformat()
    assert ids(client.get("/api/v1/opportunities/", {"updated_since": since_cet})) == [
        new.pk,
        edge.pk,
    ]


def test_an_api_write_moves_a_deal_into_the_next_sync_window(api, rep):
    opportunity = ready_opportunity(rep)
    client = api(rep)
    mark = timezone.now()
    assert ids(client.get("/api/v1/opportunities/", {"updated_since": mark.isoformat()})) == []
    send(client, "patch", f"/api/v1/opportunities/{opportunity.pk}/", {"name": "touched"})
    assert ids(client.get("/api/v1/opportunities/", {"updated_since": mark.isoformat()})) == [
        opportunity.pk
    ]


def test_ordering_and_a_stable_tie_breaker(api, rep):
    opportunities = [OpportunityFactory(owner=rep, amount=Decimal("5")) for _ in range(4)]
    client = api(rep)
    assert ids(client.get("/api/v1/opportunities/?ordering=amount")) == [
        d.pk for d in opportunities
    ]
    assert ids(client.get("/api/v1/opportunities/?ordering=-amount")) == [
        d.pk for d in reversed(opportunities)
    ]


def test_pagination_is_by_cursor_with_at_most_200(api, rep):
    opportunities = OpportunityFactory.create_batch(5, owner=rep)
    client = api(rep)
    page = client.get("/api/v1/opportunities/?limit=2&ordering=id").json()
    assert set(page) == {"results", "next", "previous"} and page["previous"] is None
    assert [r["id"] for r in page["results"]] == [d.pk for d in opportunities[:2]]
    assert "limit=2" in page["next"] and "cursor=" in page["next"]
    second = client.get(page["next"]).json()
    assert [r["id"] for r in second["results"]] == [d.pk for d in opportunities[2:4]]
    back = client.get(second["previous"]).json()
    assert [r["id"] for r in back["results"]] == [d.pk for d in opportunities[:2]]
    last = client.get(second["next"]).json()
    assert [r["id"] for r in last["results"]] == [opportunities[4].pk] and last["next"] is None
    assert client.get("/api/v1/opportunities/?limit=200").status_code == 200
    problem(client.get("/api/v1/opportunities/?limit=201"), 400, "invalid")


def test_default_page_size_is_50(api, rep):
    OpportunityFactory.create_batch(51, owner=rep)
    page = api(rep).get("/api/v1/opportunities/").json()
    assert len(page["results"]) == 50 and page["next"] is not None


# --- a constant number of queries, whatever the page size -------------------------------------


def _queries(client, path):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path)
    assert response.status_code == 200, response.content
    return len(ctx.captured_queries)


def test_the_opportunity_list_costs_the_same_for_2_or_40_deals(
    api, rep, django_assert_max_num_queries
):
    client = api(rep)
    for _ in range(2):
        ready_opportunity(rep, lines=3)
    small = _queries(client, "/api/v1/opportunities/?limit=200")
    for _ in range(38):
        ready_opportunity(rep, lines=3)
    with django_assert_max_num_queries(8):
        response = client.get("/api/v1/opportunities/?limit=200")
    assert len(response.json()["results"]) == 40
    assert _queries(client, "/api/v1/opportunities/?limit=200") == small


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/accounts/",
        "/api/v1/contacts/",
        "/api/v1/products/",
        "/api/v1/approvals/?decision=pending",
        "/api/v1/handoffs/",
    ],
)
def test_every_list_costs_the_same_for_1_or_12_rows(
    api, rep, revops, path, django_assert_max_num_queries
):
    from opportunities import services
    from opportunities.stages import Source

    # RevOps read every handoff (a rep only those of their own deals).
    client = api(revops if "handoffs" in path else rep)

    def grow(n):
        for _ in range(n):
            opportunity = ready_opportunity(make_rep())
            services.opportunity_transition(
                opportunity=opportunity,
                name="submit_for_approval",
                actor=opportunity.owner,
                source=Source.API,
            )
            if "handoffs" in path:
                services.opportunity_transition(
                    opportunity=opportunity, name="approve", actor=revops, source=Source.API
                )

    from tests.factories import make_user

    def make_rep():
        return make_user("rep")

    grow(1)
    small = _queries(client, path)
    grow(11)
    with django_assert_max_num_queries(8):
        response = client.get(path)
    assert len(response.json()["results"]) >= 12
    assert _queries(client, path) == small


def test_history_costs_the_same_for_1_or_10_changes(api, rep):
    from opportunities import services
    from opportunities.stages import Source

    opportunity = ready_opportunity(rep, stage=Stage.PROSPECTING)
    client = api(rep)
    path = f"/api/v1/opportunities/{opportunity.pk}/history/"

    def move(name):
        services.opportunity_transition(
            opportunity=opportunity, name=name, actor=rep, source=Source.API
        )

    move("move_to_qualification")
    small = _queries(client, path)
    for _ in range(5):
        move("move_to_proposal")
        move("move_to_qualification")
    assert len(api(rep).get(path).json()["results"]) == 11
    assert _queries(client, path) == small


@pytest.mark.parametrize(
    ("currency", "price"),
    [
        ("USD", Decimal("1200.5")),
        ("JPY", Decimal("1000")),
        ("KWD", Decimal("1.125")),
        ("USD", None),
    ],
)
def test_a_line_item_reads_the_same_as_drfs_generic_field_walk(rep, currency, price):
    """The line item serializer writes its dict directly (it runs for every line item of
    every read, event and approval): it must equal what its declared fields give."""
    from rest_framework import serializers

    from opportunities.api.serializers import LineItemSerializer

    opportunity = ready_opportunity(rep, lines=0, currency=currency, amount=Decimal("5000"))
    item = LineItem.objects.create(
        opportunity=opportunity, product=ProductFactory(), seats=7, unit_price=price
    )
    item = LineItem.objects.select_related("opportunity").get(pk=item.pk)

    fast = LineItemSerializer(item).data
    generic = serializers.ModelSerializer.to_representation(LineItemSerializer(), item)

    assert list(fast.items()) == list(generic.items())
    assert fast["unit_price"] == (None if price is None else generic["unit_price"])
