"""Each line item of the API carries its product's list price and its discount: read-only,
computed by the function routing uses, in the schema with its format."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from currencies.models import ExchangeRate
from opportunities.models import LineItem, Product
from tests.api.conftest import error_codes, problem
from tests.factories import ProductFactory, ready_opportunity

pytestmark = pytest.mark.django_db


def test_a_line_shows_list_price_and_discount(api, rep, settings):
    settings.REPORTING_CURRENCY = "USD"
    opportunity = ready_opportunity(rep, unit_price=Decimal("80.00"))
    Product.objects.filter(line_items__opportunity=opportunity).update(list_price=Decimal("100"))
    LineItem.objects.create(
        opportunity=opportunity,
        product=ProductFactory(list_price=None),
        seats=2,
        unit_price=Decimal("5"),
    )
    LineItem.objects.create(
        opportunity=opportunity,
        product=ProductFactory(list_price=Decimal("100")),
        seats=1,
        unit_price=Decimal("125"),
    )

    body = api(rep).get(f"/api/v1/opportunities/{opportunity.pk}/").json()

    assert [
        (li["list_price"], li["list_price_currency"], li["discount_pct"])
        for li in body["line_items"]
    ] == [("100.00", "USD", "20.00"), (None, None, None), ("100.00", "USD", "-25.00")]


def test_the_discount_is_read_only(api, rep):
    opportunity = ready_opportunity(rep)
    line = opportunity.line_items.get()
    before = list(LineItem.objects.values_list("id", "unit_price"))
    response = api(rep).patch(
        f"/api/v1/opportunities/{opportunity.pk}/",
        {
            "line_items": [
                {"id": line.pk, "product": line.product_id, "seats": 10, "discount_pct": "50.00"}
            ]
        },
        format="json",
        HTTP_IF_MATCH=f'"{opportunity.version}"',
    )
    body = problem(response, 400, "invalid")
    assert "read_only_field" in error_codes(body)
    assert list(LineItem.objects.values_list("id", "unit_price")) == before


def test_the_list_reads_each_rate_once_whatever_the_number_of_deals(api, rep, revops, settings):
    settings.REPORTING_CURRENCY = "USD"
    ExchangeRate.objects.create(
        currency="EUR", rate=Decimal("1.1"), valid_from="2000-01-01", created_by=revops
    )
    product = ProductFactory(list_price=Decimal("100"))

    def grow(n):
        for i in range(n):
            opportunity = ready_opportunity(
                rep, currency="EUR" if i % 2 else "USD", unit_price=Decimal("90")
            )
            opportunity.line_items.update(product=product)

    client = api(rep)
    grow(2)
    with CaptureQueriesContext(connection) as ctx:
        small = client.get("/api/v1/opportunities/?limit=200").json()
    few = len(ctx.captured_queries)
    grow(20)
    with CaptureQueriesContext(connection) as ctx:
        large = client.get("/api/v1/opportunities/?limit=200").json()
    assert len(ctx.captured_queries) == few <= 8
    discounts = {
        (o["currency"], li["discount_pct"]) for o in large["results"] for li in o["line_items"]
    }
    # 90 USD against 100; 90 EUR = 99.00 USD against 100
    assert discounts == {("USD", "10.00"), ("EUR", "1.00")}
    assert len(small["results"]) == 2


def test_the_schema_documents_the_line_discount(api, rep):
    schema = api(rep).get("/api/v1/schema/?format=json").json()
    line = schema["components"]["schemas"]["LineItem"]["properties"]
    assert line["discount_pct"]["readOnly"] is True
    assert line["discount_pct"]["nullable"] is True
    assert line["discount_pct"]["pattern"] == r"^-?\d+\.\d{2}$"
    assert "routing" in line["discount_pct"]["description"]
    assert line["list_price"]["readOnly"] is True and line["list_price"]["type"] == "string"
    assert line["list_price_currency"]["readOnly"] is True
