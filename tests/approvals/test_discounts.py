"""The line discount: one function (``routing.line_discount_pct``) for routing, the deal
page, the queue, the API and the payloads; its batched reads for a page of deals."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from approvals import routing, selectors
from core.formatting import discount_text
from currencies.models import ExchangeRate
from opportunities.models import Opportunity
from tests.factories import (
    LineItemFactory,
    ProductFactory,
    publish_big_deal_and_discount_policy,
    ready_opportunity,
)

D = Decimal


@pytest.mark.parametrize(
    ("unit", "listed", "expected"),
    [
        (D("75"), D("100"), D("25.00")),
        (D("100"), D("100"), D("0.00")),
        (D("110"), D("100"), D("-10.00")),  # above list: a premium
        (D("0"), D("100"), D("100.00")),
        (D("66.666"), D("100"), D("33.33")),
        (D("75"), None, None),  # no list price: nothing to show
        (D("75"), D("0"), None),  # a zero list price: never a division error
        (None, D("100"), None),  # no unit price yet
    ],
)
def test_line_discount_pct(unit, listed, expected):
    assert routing.line_discount_pct(unit, listed) == expected


def test_the_largest_discount_is_the_max_of_the_line_discounts():
    pairs = [(D("110"), D("100")), (D("80"), D("100")), (D("1"), None), (None, D("5"))]
    assert routing.max_discount_pct(pairs) == D("20.00")
    assert routing.max_discount_pct([(D("110"), D("100"))]) == D("-10.00")
    assert routing.max_discount_pct([(D("1"), None)]) is None


def test_a_premium_never_matches_a_discount_rule():
    facts = routing.OpportunityFacts(
        amount_reporting=D("1000"),
        amount_converted=True,
        max_discount_pct=D("-10.00"),
        term_months=12,
        type="new_business",
        currency="USD",
        reporting_currency="USD",
        billing_country="US",
    )
    assert routing.matches(facts, routing.Conditions(max_discount_pct_gte=D("0"))) == []


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (D("25.00"), "25 %"),
        (D("12.50"), "12.5 %"),
        (D("0.00"), "0 %"),
        (D("100.00"), "100 %"),
        (D("-10.00"), "−10 % (premium)"),
        ("-2.50", "−2.5 % (premium)"),
        (None, "—"),
    ],
)
def test_discount_text(value, text):
    assert discount_text(value) == text


@pytest.mark.django_db
def test_line_prices_are_what_routing_compares(rep, settings):
    settings.REPORTING_CURRENCY = "USD"
    opportunity = ready_opportunity(rep, unit_price=D("80.00"))
    line = opportunity.line_items.get()
    line.product.list_price = D("100.0000")
    line.product.save()
    no_list = LineItemFactory(opportunity=opportunity, unit_price=D("50.00"))
    premium = LineItemFactory(
        opportunity=opportunity, unit_price=D("130.00"), product=ProductFactory(list_price=D("120"))
    )
    opportunity = Opportunity.objects.get(pk=opportunity.pk)

    prices = selectors.line_prices(opportunity)

    assert [(p.list_price, p.discount_pct) for p in prices] == [
        (D("100.0000"), D("20.00")),
        (None, None),
        (D("120.0000"), D("-8.33")),
    ]
    assert no_list.pk and premium.pk
    assert selectors.opportunity_facts(opportunity).max_discount_pct == max(
        p.discount_pct for p in prices if p.discount_pct is not None
    )


@pytest.mark.django_db
def test_a_foreign_currency_line_is_converted_first_and_unknown_without_a_rate(
    rep, revops, settings
):
    settings.REPORTING_CURRENCY = "USD"
    opportunity = ready_opportunity(rep, unit_price=D("90.00"), currency="EUR")
    product = opportunity.line_items.get().product
    product.list_price = D("120")
    product.save()
    opportunity = Opportunity.objects.get(pk=opportunity.pk)

    # no EUR rate yet: the unit price cannot be compared with a USD list price
    [price] = selectors.line_prices(opportunity)
    assert (price.list_price, price.discount_pct) == (D("120.0000"), None)

    ExchangeRate.objects.create(
        currency="EUR",
        rate=D("1.1"),
        valid_from=timezone.localdate() - dt.timedelta(days=1),
        created_by=revops,
    )
    [price] = selectors.line_prices(opportunity)
    # 90 EUR = 99.00 USD against 120 USD
    assert price.discount_pct == D("17.50")
    assert selectors.opportunity_facts(opportunity).max_discount_pct == D("17.50")


@pytest.mark.django_db
def test_rules_in_force_is_one_query_and_routes_as_the_policy_does(rep, policy):
    with CaptureQueriesContext(connection) as ctx:
        rules = selectors.rules_in_force()
    assert len(ctx.captured_queries) == 1
    assert rules == selectors.policy_rules(policy)


@pytest.mark.django_db
def test_routes_for_page_matches_route_for_in_constant_queries(rep, finance_group):

    publish_big_deal_and_discount_policy()

    def opportunities(n):
        out = []
        for i in range(n):
            opportunity = ready_opportunity(
                rep, unit_price=D("70.00") if i % 2 else D("1500.00"), seats=100
            )
            product = opportunity.line_items.get().product
            product.list_price = D("100")
            product.save()
            out.append(opportunity)
        return list(
            Opportunity.objects.filter(pk__in=[d.pk for d in out]).select_related("account")
        )

    few = opportunities(2)
    with CaptureQueriesContext(connection) as ctx:
        routes = selectors.routes_for_page(few)
    small = len(ctx.captured_queries)
    many = opportunities(12) + few
    with CaptureQueriesContext(connection) as ctx:
        routes = selectors.routes_for_page(many)
    assert len(ctx.captured_queries) == small == 2  # the rules, the line prices
    for opportunity in many:
        assert routes[opportunity.pk] == selectors.route_for(opportunity)
    groups = {tuple(s["group"] for s in r) for r in routes.values()}
    assert groups == {("RevOps", "Finance"), ("RevOps", "Deal desk")}
