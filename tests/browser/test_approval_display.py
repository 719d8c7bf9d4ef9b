"""In real headless Chromium: the board card says who beyond RevOps will have to approve,
a pending card says whose step it waits on, and the deal page shows each line's list
price and discount. Screenshots land in test-artifacts/ (gitignored)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from playwright.sync_api import Browser, expect

from opportunities import services
from opportunities.models import LineItem, Product
from opportunities.stages import Source
from tests.browser.test_two_step_approval import person, shot, sign_in
from tests.factories import (
    AccountFactory,
    ProductFactory,
    publish_big_deal_and_discount_policy,
    ready_opportunity,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_board_card_will_need_and_deal_page_discounts(browser: Browser, live_server):
    alice = person("alice", "rep", "Alice", "Archer")
    rita = person("rita", "revops", "Rita", "Reyes")
    publish_big_deal_and_discount_policy()
    discounted = ready_opportunity(
        alice,
        name="Initech seats",
        account=AccountFactory(name="Initech"),
        unit_price=Decimal("75.00"),
        seats=40,
    )
    Product.objects.filter(line_items__opportunity=discounted).update(list_price=Decimal("100"))
    LineItem.objects.create(
        opportunity=discounted,
        product=ProductFactory(sku="CW-SUPPORT", name="Premium support", list_price=Decimal("50")),
        seats=1,
        unit_price=Decimal("60.00"),
    )
    LineItem.objects.create(
        opportunity=discounted,
        product=ProductFactory(sku="CW-TRAINING", name="Training day", list_price=None),
        seats=1,
        unit_price=Decimal("40.00"),
    )
    discounted.amount = Decimal("3100.00")
    discounted.save(update_fields=["amount"])
    waiting = ready_opportunity(
        alice,
        name="Globex platform",
        account=AccountFactory(name="Globex"),
        seats=100,
        unit_price=Decimal("1500.00"),
    )
    services.opportunity_transition(
        opportunity=waiting, name="submit_for_approval", actor=alice, source=Source.UI
    )
    services.opportunity_transition(
        opportunity=waiting, name="approve", actor=rita, source=Source.API
    )

    page = sign_in(browser, live_server, "alice", "/pipeline/")
    card = page.locator(f"#opportunity-{discounted.pk}")
    expect(card.locator("[data-will-need]")).to_have_text(
        "Will need: RevOps → Deal desk (discount ≥ 20 %)"
    )
    pending = page.locator(f"#opportunity-{waiting.pk}")
    expect(pending.locator("[data-waiting-on]")).to_contain_text("Waiting on Finance")
    expect(pending.locator("[data-waiting-on]")).to_contain_text("step 2 of 2")
    shot(page, "approval-display-board")

    page.goto(f"{live_server.url}/opportunities/{discounted.pk}/")
    expect(page.locator("[data-approval-route]")).to_have_text(
        "Will need: RevOps → Deal desk (discount ≥ 20 %)"
    )
    cells = page.locator("table.lines-readonly td[data-discount]")
    expect(cells).to_have_text(["25 %", "−20 % (premium)", "—"])
    expect(page.locator("table.lines-readonly td[data-list-price]").first).to_have_text("$100")
    expect(page.locator("table.lines-readonly")).to_contain_text("no list price")
    shot(page, "approval-display-deal")
