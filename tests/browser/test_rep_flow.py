"""The rep's whole flow in real headless Chromium (issue 7 "Tests").

Log in, create a deal, see what the checklist says is missing, fill it in through the
form (inline account and contact, amount, close date, contract ID, a line item) while the
checklist updates live, request Closed-Won, see it pending; after a RevOps approval (the
service, as the admin would call it) the deal shows won with its four handoffs.

Screenshots go to test-artifacts/ (gitignored).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone
from playwright.sync_api import Page, expect

from opportunities import services
from opportunities.models import Opportunity
from opportunities.stages import Stage
from tests.factories import (
    AccountFactory,
    OpportunityFactory,
    ProductFactory,
    make_user,
    ready_opportunity,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts"
PASSWORD = "pw-for-tests-123"


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def sign_in(page: Page, base: str, username: str) -> None:
    page.goto(base + "/")
    expect(page).to_have_url(base + "/accounts/login/?next=/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(base + "/pipeline/")


def some_pipeline(rep) -> None:
    """A few deals in every board column so the screenshots show a working board."""
    names = ["Globex", "Initech", "Hooli", "Umbrella", "Wonka", "Stark", "Acme", "Tyrell"]
    for i, name in enumerate(names):
        account = AccountFactory(name=name)
        stage = [Stage.PROSPECTING, Stage.QUALIFICATION, Stage.PROPOSAL, Stage.NEGOTIATION][i % 4]
        ready_opportunity(
            rep,
            stage=stage,
            account=account,
            name=f"{name} — {['Platform', 'Expansion', 'Renewal', 'Pilot'][i % 4]}",
            seats=10 * (i + 1),
            unit_price=Decimal("1200"),
            close_date=timezone.localdate() + dt.timedelta(days=20 * (i + 1)),
        )
    ready_opportunity(
        rep,
        stage=Stage.PENDING_APPROVAL,
        account=AccountFactory(name="Cyberdyne"),
        name="Cyberdyne — Rollout",
    )
    OpportunityFactory(
        owner=rep, name="Soylent — Team plan", account=AccountFactory(name="Soylent")
    )


def test_a_rep_takes_a_deal_from_nothing_to_closed_won(page: Page, live_server):
    rep = make_user("rep", "alice", password=PASSWORD)
    rep.first_name, rep.last_name = "Alice", "Archer"
    rep.save()
    revops = make_user("revops", "rita", password=PASSWORD)
    ProductFactory(sku="CW-CORE", name="closedwon Core seat")
    some_pipeline(rep)
    base = live_server.url
    page.set_default_timeout(10_000)
    page.set_viewport_size({"width": 1440, "height": 900})

    # --- log in: lands on the board ---
    sign_in(page, base, "alice")
    expect(page.get_by_role("heading", name="Pipeline", level=1)).to_be_visible()
    # The vendored assets loaded: htmx runs and the stylesheet laid the board out.
    assert page.evaluate("typeof window.htmx === 'object' && htmx.version.startsWith('2.0.')")
    assert page.evaluate("getComputedStyle(document.querySelector('.board')).display") == "grid"
    expect(page.locator("#column-negotiation .card")).to_have_count(2)
    shot(page, "board")

    # --- create a deal with just a name ---
    page.get_by_role("link", name="New deal").click()
    page.get_by_label("Deal name").fill("Vandelay — Import/export")
    page.get_by_role("button", name="Create deal").click()
    expect(page.get_by_role("heading", name="Vandelay — Import/export", level=1)).to_be_visible()
    opportunity = Opportunity.objects.get(name="Vandelay — Import/export")

    # --- the checklist lists what is missing, with the gate's messages ---
    checklist = page.locator("#checklist")
    for message in (
        "Choose the account this deal is with.",
        "Add a contract ID or a PO number.",
        "Enter the deal amount (total contract value).",
        "Set the close date.",
        "Choose the primary contact at the customer.",
        "Add the products sold, each with at least one seat.",
    ):
        expect(checklist).to_contain_text(message)
    expect(page.locator("[data-checklist-status]")).to_have_attribute(
        "data-checklist-status", "incomplete"
    )

    # --- fill it in on the edit form; the checklist follows live ---
    page.get_by_role("link", name="Edit deal").click()
    live = page.locator("#checklist")

    page.get_by_role("link", name="+ New account").click()
    dialog = page.locator("#account-dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Account name").fill("Vandelay Industries")
    dialog.get_by_label("Billing country").fill("us")
    dialog.get_by_role("button", name="Create account").click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#id_account option:checked")).to_have_text("Vandelay Industries")
    expect(live).not_to_contain_text("Choose the account this deal is with.")

    page.get_by_role("link", name="+ New contact").click()
    dialog = page.locator("#contact-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator("select[name$=account] option:checked")).to_have_text(
        "Vandelay Industries"
    )
    dialog.get_by_label("First name").fill("Art")
    dialog.get_by_label("Last name").fill("Vandelay")
    dialog.get_by_label("Email").fill("art@vandelay.example")
    dialog.get_by_role("button", name="Create contact").click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#id_primary_contact option:checked")).to_contain_text("Art Vandelay")
    expect(live).not_to_contain_text("Choose the primary contact at the customer.")

    page.get_by_label("Amount", exact=True).fill("2400")
    page.get_by_label("Close date", exact=True).fill(timezone.localdate().isoformat())
    page.get_by_label("Contract ID", exact=True).fill("CT-E2E-0001")
    page.locator("select[name=lines-0-product]").select_option(
        label="CW-CORE — closedwon Core seat"
    )
    page.locator("input[name=lines-0-seats]").fill("2")
    page.locator("input[name=lines-0-unit_price]").fill("1000")
    expect(live).to_contain_text("does not match the line items")  # 2 × 1000 ≠ 2400
    page.locator("input[name=lines-0-unit_price]").fill("1200")
    expect(page.locator("#checklist [data-checklist-status]")).to_have_attribute(
        "data-checklist-status", "complete"
    )
    expect(live).to_contain_text("Ready to request Closed-Won")
    opportunity.refresh_from_db()
    assert opportunity.account_id is None  # nothing saved yet: the checklist ran on form values

    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_text("Deal saved.")).to_be_visible()
    expect(page.locator("[data-checklist-status]")).to_have_attribute(
        "data-checklist-status", "complete"
    )
    shot(page, "detail")

    # --- Request Closed-Won: pending ---
    page.get_by_role("button", name="Request Closed-Won").click()
    expect(page.locator("[data-stage-badge]")).to_have_text("Closed-Won — pending approval")
    expect(page.get_by_text("Waiting for RevOps approval.")).to_be_visible()
    expect(page.get_by_role("button", name="Withdraw request")).to_be_visible()
    assert Opportunity.objects.get(pk=opportunity.pk).stage == Stage.PENDING_APPROVAL

    # --- RevOps approves (the service the admin queue calls); the deal shows won ---
    services.opportunity_transition(
        opportunity=opportunity.pk, name="approve", actor=revops, source="admin"
    )
    page.reload()
    expect(page.locator("[data-stage-badge]")).to_have_text("Closed Won")
    handoffs = page.locator("[data-handoff]")
    expect(handoffs).to_have_count(4)
    for kind in ("Billing", "Provisioning", "Customer success", "Commission"):
        expect(page.locator("#handoffs")).to_contain_text(kind)
    shot(page, "detail-won")

    # --- the dashboard counts the booking ---
    page.get_by_role("link", name="Dashboard").click()
    expect(page.locator("[data-kpi=bookings]")).to_have_text("$2.4K")
    shot(page, "dashboard")

    # --- a narrow screen (390 px) still shows a usable board ---
    page.set_viewport_size({"width": 390, "height": 844})
    page.get_by_role("link", name="Pipeline").click()
    expect(page.locator("#column-prospecting")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways page scroll
    shot(page, "board-narrow")
