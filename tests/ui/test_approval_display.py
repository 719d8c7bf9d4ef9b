"""What the rep sees of approval policies: the "will need" line on board cards, the step a
pending card waits on, and each line's list price and discount on the deal page."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from currencies.models import ExchangeRate
from opportunities import services
from opportunities.models import LineItem, Opportunity, Product
from opportunities.stages import OPEN_STAGES, Source
from tests.factories import (
    AccountFactory,
    ProductFactory,
    publish_big_deal_and_discount_policy,
    ready_opportunity,
)

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture
def demo_policy(db):
    return publish_big_deal_and_discount_policy()


def _priced(opportunity: Opportunity, list_price: Decimal | None) -> Opportunity:
    for line in opportunity.line_items.select_related("product"):
        line.product.list_price = list_price
        line.product.save()
    return opportunity


def _card(html: str, opportunity: Opportunity) -> str:
    match = re.search(rf'<article[^>]*id="opportunity-{opportunity.pk}".*?</article>', html, re.S)
    assert match, f"no card for deal {opportunity.pk}"
    return match.group(0)


def test_a_card_shows_the_route_beyond_revops_with_the_deal_pages_words(
    rep, rep_client, demo_policy
):
    big = ready_opportunity(rep, seats=100, unit_price=D("1500.00"), name="Big one")
    discounted = _priced(ready_opportunity(rep, unit_price=D("70.00"), name="Cheap one"), D("100"))
    plain = _priced(ready_opportunity(rep, unit_price=D("95.00"), name="Plain one"), D("100"))

    html = rep_client.get("/pipeline/").content.decode()

    assert "Will need: RevOps → Finance (amount ≥ 100,000)" in _card(html, big)
    assert "Will need: RevOps → Deal desk (discount ≥ 20 %)" in _card(html, discounted)
    assert "Will need" not in _card(html, plain)  # RevOps only: nothing to say
    # the same words as the deal page
    page = rep_client.get(f"/opportunities/{big.pk}/").content.decode()
    assert "Will need: RevOps → Finance (amount ≥ 100,000)" in page


def test_without_a_policy_no_card_says_will_need(rep, rep_client):
    ready_opportunity(rep, seats=100, unit_price=D("1500.00"))
    assert "Will need" not in rep_client.get("/pipeline/").content.decode()


def test_a_pending_card_shows_the_step_it_waits_on(rep, revops, rep_client, demo_policy):
    opportunity = ready_opportunity(rep, seats=100, unit_price=D("1500.00"), name="Waiting one")
    services.opportunity_transition(
        opportunity=opportunity, name="submit_for_approval", actor=rep, source=Source.UI
    )
    card = _card(rep_client.get("/pipeline/").content.decode(), opportunity)
    assert "Waiting on RevOps" in card and "step 1 of 2" in card

    services.opportunity_transition(
        opportunity=opportunity, name="approve", actor=revops, source=Source.API
    )
    card = _card(rep_client.get("/pipeline/").content.decode(), opportunity)
    assert 'data-waiting-on="Finance"' in card
    assert "Waiting on Finance" in card and "step 2 of 2" in card
    assert "Will need" not in card


def test_a_single_step_pending_card_says_nothing_more(rep, rep_client):
    opportunity = ready_opportunity(rep)
    services.opportunity_transition(
        opportunity=opportunity, name="submit_for_approval", actor=rep, source=Source.UI
    )
    assert "Waiting on" not in _card(rep_client.get("/pipeline/").content.decode(), opportunity)


def _seed(owner, n, products):
    account = AccountFactory()
    for i in range(n):
        opportunity = Opportunity.objects.create(
            name=f"Seeded {i}",
            owner=owner,
            account=account,
            amount=D(150_000 if i % 3 == 0 else 1000),
            currency="EUR" if i % 2 else "USD",
            stage=OPEN_STAGES[i % len(OPEN_STAGES)],
        )
        LineItem.objects.create(
            opportunity=opportunity, product=products[i % 2], seats=5, unit_price=D("70")
        )


def _board_queries(client) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get("/pipeline/?scope=all")
    assert response.status_code == 200
    return len(ctx.captured_queries), response.content.decode()


def test_the_will_need_lines_cost_the_same_queries_for_10_and_60_deals(
    rep, rep2, revops, rep_client, demo_policy, django_assert_max_num_queries
):
    ExchangeRate.objects.create(currency="EUR", rate=D("1.1"), valid_from="2000-01-01")
    products = [ProductFactory(list_price=D("100")), ProductFactory()]
    _seed(rep, 5, products)
    _seed(rep2, 5, products)
    at_10, html_10 = _board_queries(rep_client)
    _seed(rep, 25, products)
    _seed(rep2, 25, products)
    with django_assert_max_num_queries(8):
        at_60, html_60 = _board_queries(rep_client)
    assert at_10 == at_60
    assert html_60.count("data-will-need") > html_10.count("data-will-need") > 0
    assert "Finance" in html_60 and "Deal desk" in html_60


def test_the_deal_page_shows_each_lines_list_price_and_discount(rep, rep_client):
    opportunity = ready_opportunity(rep, unit_price=D("80.00"))
    _priced(opportunity, D("100"))
    LineItem.objects.create(
        opportunity=opportunity, product=ProductFactory(list_price=None), seats=1, unit_price=D("5")
    )
    LineItem.objects.create(
        opportunity=opportunity,
        product=ProductFactory(list_price=D("100")),
        seats=1,
        unit_price=D("110"),
    )
    LineItem.objects.create(
        opportunity=opportunity,
        product=ProductFactory(list_price=D("0")),
        seats=1,
        unit_price=D("1"),
    )

    html = rep_client.get(f"/opportunities/{opportunity.pk}/").content.decode()

    table = re.search(r'<table class="lines-readonly">.*?</table>', html, re.S).group(0)
    assert '<th scope="col" class="num">Discount</th>' in table
    assert re.findall(r'data-discount="([^"]*)"', table) == ["20.00", "", "-10.00", ""]
    assert "20 %" in table and "−10 % (premium)" in table
    assert "no list price" in table and "$100" in table


def test_the_edit_form_keeps_its_table_without_discount_columns(rep, rep_client):
    opportunity = ready_opportunity(rep)
    response = rep_client.get(f"/opportunities/{opportunity.pk}/edit/")
    assert response.status_code == 200
    assert "data-discount" not in response.content.decode()


def test_a_product_list_price_change_moves_the_discount_of_an_open_deal(rep, rep_client):
    opportunity = _priced(ready_opportunity(rep, unit_price=D("80.00")), D("100"))
    Product.objects.filter(line_items__opportunity=opportunity).update(list_price=D("160"))
    html = rep_client.get(f"/opportunities/{opportunity.pk}/").content.decode()
    assert 'data-discount="50.00"' in html
