"""RevOps in real headless Chromium: the approval queue, approve, reject, the owner rule.

Screenshots of the queue and the deal page land in test-artifacts/ (gitignored).
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from opportunities import services
from opportunities.models import Approval, Decision, Opportunity, StageRequirement
from opportunities.stages import Source
from tests.factories import AccountFactory, ContactFactory, make_user, ready_opportunity

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PASSWORD = "pw-for-tests-123"


def person(username: str, role: str, first: str, last: str):
    user = make_user(role, username, PASSWORD)
    user.first_name, user.last_name = first, last
    user.save()
    return user


def waiting(owner, name: str, account: str, *, hours: float, **fields) -> Approval:
    company = AccountFactory(name=account, domain=f"{account.lower()}.example")
    contact = ContactFactory(
        account=company,
        first_name="Jordan",
        last_name="Lee",
        title="VP Finance",
        email=f"jordan.lee@{account.lower()}.example",
        phone="+1 415 555 0134",
    )
    opportunity = ready_opportunity(
        owner, name=name, account=company, primary_contact=contact, **fields
    )
    services.opportunity_transition(
        opportunity=opportunity, name="submit_for_approval", actor=owner, source=Source.UI
    )
    approval = Approval.objects.get(opportunity=opportunity, decision=Decision.PENDING)
    approval.submitted_at = timezone.now() - dt.timedelta(hours=hours)
    approval.save(update_fields=["submitted_at"])
    return approval


@pytest.fixture
def team(db):
    alice = person("alice", "rep", "Alice", "Archer")
    bob = person("bob", "rep", "Bob", "Baker")
    rita = person("rita", "revops", "Rita", "Reyes")
    ron = person("ron", "revops", "Ron", "Rivera")
    opportunities = {
        "acme": waiting(
            alice,
            "Acme — Platform renewal",
            "Acme",
            hours=3.2,
            seats=40,
            unit_price=Decimal("1200.00"),
            po_number="PO-4471",
        ),
        "globex": waiting(
            bob, "Globex — Expansion", "Globex", hours=28, seats=25, unit_price=Decimal("2400.00")
        ),
        "initech": waiting(
            alice,
            "Initech — Pilot",
            "Initech",
            hours=52,
            seats=10,
            unit_price=Decimal("600.00"),
            term_months=None,
        ),
        "hooli": waiting(
            ron,
            "Hooli — Enterprise",
            "Hooli",
            hours=0.4,
            seats=100,
            unit_price=Decimal("2400.00"),
            lines=2,
        ),
    }
    # RevOps made the term required after Initech was submitted: it is not ready any more.
    StageRequirement.objects.create(stage="pending_approval", field="term_months")
    return {"alice": alice, "rita": rita, "ron": ron, **opportunities}


def log_in(page: Page, live_server, username: str) -> None:
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("input[type=submit], button[type=submit]")
    expect(page.locator("#revops-today")).to_be_visible()


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_revops_finds_a_deal_in_the_queue_approves_it_and_sees_its_handoffs(
    page: Page, live_server, team
):
    log_in(page, live_server, "rita")
    expect(page.get_by_test_id("pending-approvals")).to_have_text("4")

    page.get_by_text("Closed-Won approvals waiting").click()
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(4)
    # oldest first, with the gate status of each
    expect(rows.nth(0)).to_contain_text("Initech — Pilot")
    expect(rows.nth(0)).to_contain_text("1 unmet requirement")
    expect(rows.nth(2)).to_contain_text("Acme — Platform renewal")
    expect(rows.nth(2)).to_contain_text("3 h 12 min")
    expect(rows.nth(2)).to_contain_text("Ready")
    shot(page, "admin-queue")

    page.fill("#searchbar", "PO-4471")
    page.keyboard.press("Enter")
    expect(rows).to_have_count(1)
    page.get_by_role("link", name=re.compile("Acme — Platform renewal")).click()

    expect(page.locator("#checklist")).to_contain_text("ready")
    expect(page.locator("#snapshot")).to_contain_text("PO-4471")
    shot(page, "admin-deal-page")
    page.get_by_role("button", name="Approve Closed-Won").click()

    expect(page.locator(".cw-banner-approved")).to_contain_text("Approved by Rita Reyes")
    handoffs = page.locator("#handoffs tbody tr")
    expect(handoffs).to_have_count(4)
    expect(page.locator("#handoffs")).to_contain_text("Customer success")
    expect(page.get_by_role("button", name="Approve Closed-Won")).to_have_count(0)
    shot(page, "admin-deal-approved")
    assert Opportunity.objects.get(pk=team["acme"].opportunity_id).stage == "closed_won"


def test_revops_rejects_a_deal_with_a_reason(page: Page, live_server, team):
    log_in(page, live_server, "rita")
    page.goto(f"{live_server.url}/admin/opportunities/closedwonapproval/")
    page.get_by_role("link", name=re.compile("Globex — Expansion")).click()

    page.get_by_role("link", name="Reject…").click()
    page.fill("textarea[name=reason]", "The PO is issued to the wrong legal entity.")
    shot(page, "admin-reject-reason")
    page.get_by_role("button", name="Reject").click()

    expect(page.locator(".messagelist")).to_contain_text("Rejected: Globex — Expansion")
    expect(page.locator("#result_list")).not_to_contain_text("Globex — Expansion")
    approval = Approval.objects.get(pk=team["globex"].pk)
    assert (approval.decision, approval.reason) == (
        Decision.REJECTED,
        "The PO is issued to the wrong legal entity.",
    )


def test_an_owner_sees_no_approve_button_on_their_own_deal(page: Page, live_server, team):
    log_in(page, live_server, "ron")
    page.goto(f"{live_server.url}/admin/opportunities/closedwonapproval/")
    page.get_by_role("link", name=re.compile("Hooli — Enterprise")).click()

    expect(page.locator("#decision")).to_be_visible()
    expect(page.get_by_role("button", name="Approve Closed-Won")).to_have_count(0)
    expect(page.locator(".cw-banner-pending")).to_contain_text(
        "another RevOps member must approve it"
    )
    shot(page, "admin-deal-owner")
    # the same page for someone else has the button
    page.goto(f"{live_server.url}/admin/opportunities/closedwonapproval/{team['acme'].pk}/change/")
    expect(page.get_by_role("button", name="Approve Closed-Won")).to_be_visible()


def test_revops_moves_a_deal_with_a_transition_button_on_the_record(page: Page, live_server, team):
    opportunity = ready_opportunity(team["alice"], name="Wonka — Team plan", stage="qualification")
    log_in(page, live_server, "rita")
    page.goto(f"{live_server.url}/admin/opportunities/opportunity/{opportunity.pk}/change/")

    expect(page.locator("#transitions")).to_contain_text("Qualification")
    expect(page.locator("input[name=stage], select[name=stage]")).to_have_count(0)
    shot(page, "admin-opportunity-record")
    page.get_by_role("button", name="Move to Proposal").click()

    expect(page.locator(".messagelist")).to_contain_text("is now Proposal")
    expect(page.locator("#transitions")).to_contain_text("Proposal")
    assert Opportunity.objects.get(pk=opportunity.pk).stage == "proposal"
