"""RevOps fix a won deal's seat count from 25 to 30 in real headless Chromium: request
the change on the deal page (preview with the diff and the delta), a second RevOps member
approves it in the admin queue, and the deal, the ledger and the outbox follow."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db.models import Sum
from playwright.sync_api import Page, expect

from amendments.models import Amendment, Booking
from handoffs.events import HANDOFF_CHANGE_EVENT_TYPES
from handoffs.models import Handoff, WebhookEndpoint
from opportunities.models import Opportunity
from tests.amendments.conftest import won_opportunity
from tests.browser.test_admin_queue import log_in, person, shot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_revops_fix_a_seat_count_through_a_request_and_an_approval(page: Page, live_server):
    alice = person("alice", "rep", "Alice", "Archer")
    rita = person("rita", "revops", "Rita", "Reyes")
    ron = person("ron", "revops", "Ron", "Rivera")
    WebhookEndpoint.objects.create(
        url="https://billing.example.test/hooks", event_types=list(HANDOFF_CHANGE_EVENT_TYPES)
    )
    opportunity = won_opportunity(alice, ron)
    line = opportunity.line_items.get()

    log_in(page, live_server, "rita")
    page.goto(f"{live_server.url}/opportunities/{opportunity.pk}/")
    page.get_by_test_id("request-change").click()
    page.fill(f"input[name=seats_{line.pk}]", "30")
    page.fill("input[name=amount]", "3000.00")
    page.fill("textarea[name=reason]", "The order form says 30 seats.")
    page.get_by_role("button", name="Preview the change").click()
    expect(page.get_by_test_id("amendment-delta")).to_contain_text("+5")
    expect(page.locator("[data-delta-amount='500.00']")).to_be_visible()
    shot(page, "amendment-preview")
    page.get_by_test_id("amend-submit").click()
    expect(page.get_by_test_id("pending-amendment")).to_be_visible()

    page.context.clear_cookies()
    log_in(page, live_server, "ron")
    page.goto(f"{live_server.url}/admin/opportunities/closedwonapproval/")
    expect(page.get_by_test_id("amendments-pending-count")).to_have_text("1")
    page.locator(f"[data-amendment='{Amendment.objects.get().pk}']").click()
    expect(page.locator("tr.is-changed")).to_have_count(1)
    shot(page, "amendment-admin")
    page.get_by_test_id("amendment-approve").click()
    expect(page.locator(".messagelist")).to_contain_text("approve")

    opportunity = Opportunity.objects.get(pk=opportunity.pk)
    assert opportunity.amount == Decimal("3000.00") and opportunity.line_items.get().seats == 30
    assert (
        Booking.objects.filter(opportunity=opportunity).aggregate(s=Sum("amount_delta"))["s"]
        == opportunity.amount
    )
    billing = Handoff.outbox.get(
        opportunity=opportunity, event_type="handoff.billing.amended", endpoint__environment_kind=""
    )
    assert billing.payload["data"]["delta"]["seats_by_sku"][0]["change"] == 5
    assert rita.pk != ron.pk
