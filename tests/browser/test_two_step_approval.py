"""A two-step approval in real headless Chromium: Alice sees the route before submitting,
Rita approves RevOps' step in the inbox, Fiona approves Finance's step from her e-mail
link, and only then is the deal Closed-Won with its four handoffs.

Screenshots land in test-artifacts/ (gitignored)."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from playwright.sync_api import Browser, Page, expect

from approvals import services as approval_services
from handoffs.models import OutgoingMessage
from opportunities.models import Opportunity
from opportunities.stages import Stage
from tests.factories import (
    AccountFactory,
    ContactFactory,
    make_user,
    policy_author,
    ready_opportunity,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PASSWORD = "pw-for-tests-123"


def person(username: str, role: str, first: str, last: str, group: str = ""):
    user = make_user(role, username, PASSWORD)
    user.first_name, user.last_name = first, last
    user.save()
    if group:
        user.groups.add(Group.objects.get_or_create(name=group)[0])
    return user


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def sign_in(browser: Browser, live_server, username: str, next_path: str = "/") -> Page:
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.goto(f"{live_server.url}/accounts/login/?next={next_path}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit], input[type=submit]")
    return page


def test_two_step_approval_from_request_to_finance_email_link(browser: Browser, live_server):
    alice = person("alice", "rep", "Alice", "Archer")
    person("rita", "revops", "Rita", "Reyes")
    fiona = person("fiona", "rep", "Fiona", "Finch", group="Finance")
    approval_services.policy_save(
        {
            "name": "Demo",
            "rules": [
                {
                    "name": "Large deals need Finance",
                    "conditions": {"amount_gte": "100000"},
                    "steps": [{"group": "Finance", "mode": "any", "count": 1, "sla_hours": 8}],
                }
            ],
        },
        actor=policy_author(),
    )
    company = AccountFactory(name="Globex", domain="globex.example")
    contact = ContactFactory(account=company, first_name="Jordan", last_name="Lee")
    opportunity = ready_opportunity(
        alice,
        name="Globex platform",
        account=company,
        primary_contact=contact,
        seats=100,
        unit_price=Decimal("1500.00"),
    )

    # Alice sees who will have to approve, then requests Closed-Won.
    rep = sign_in(browser, live_server, "alice", f"/opportunities/{opportunity.pk}/")
    expect(rep.locator("[data-approval-route]")).to_have_text(
        "Will need: RevOps → Finance (amount ≥ 100,000)"
    )
    shot(rep, "approvals-1-rep-sees-route")
    rep.click("button[data-transition=submit_for_approval]")
    expect(rep.locator(".banner-pending")).to_contain_text("Waiting for RevOps approval")

    # Rita approves RevOps' step in the inbox: the deal stays pending.
    ops = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
    ops.goto(f"{live_server.url}/admin/login/")
    ops.fill("input[name=username]", "rita")
    ops.fill("input[name=password]", PASSWORD)
    ops.click("input[type=submit], button[type=submit]")
    ops.goto(f"{live_server.url}/admin/opportunities/closedwonapproval/")
    expect(ops.get_by_text("RevOps → Finance (amount ≥ 100,000)")).to_be_visible()
    shot(ops, "approvals-2-revops-inbox")
    ops.get_by_role("link", name=re.compile("Globex platform")).first.click()
    ops.fill("#approve-comment", "Numbers check out")
    ops.get_by_role("button", name="Approve the RevOps step").click()
    expect(ops.locator(".messagelist")).to_contain_text("Approved your step")
    assert Opportunity.objects.get(pk=opportunity.pk).stage == Stage.PENDING_APPROVAL
    assert not opportunity.handoffs.exists()

    # Finance's e-mail carries a signed Approve link: a confirmation page, then the decision.
    mail = OutgoingMessage.objects.get(event_type="email.approval", payload__to=[fiona.email])
    link = re.search(r"Approve: (\S+)", mail.payload["body"])
    assert link is not None
    path = link.group(1).replace(live_server.url, "")
    finance = sign_in(browser, live_server, "fiona", path)
    expect(finance.get_by_role("heading", name="Confirm your decision")).to_be_visible()
    assert (
        Opportunity.objects.get(pk=opportunity.pk).stage == Stage.PENDING_APPROVAL
    )  # GET: nothing
    shot(finance, "approvals-3-finance-confirms")
    finance.get_by_role("button", name=re.compile("^Approve Globex platform")).click()
    finance.wait_for_url(re.compile(rf"/opportunities/{opportunity.pk}/$"))
    assert Opportunity.objects.get(pk=opportunity.pk).stage == Stage.CLOSED_WON
    assert opportunity.handoffs.count() == 4

    # Alice sees the win and her notifications.
    rep.goto(f"{live_server.url}/opportunities/{opportunity.pk}/")
    expect(rep.locator(".banner-won")).to_be_visible()
    expect(rep.locator("[data-notifications]")).to_contain_text("Notifications")
    shot(rep, "approvals-4-rep-sees-won")
