"""The board in real headless Chromium: drag and drop with JavaScript, buttons without."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from opportunities.models import Opportunity
from opportunities.stages import Stage
from tests.factories import OpportunityFactory, make_user, ready_opportunity

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-for-tests-123"


def sign_in(page: Page, base: str, username: str) -> None:
    page.goto(base + "/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(base + "/pipeline/")


def stage_of(opportunity) -> str:
    return Opportunity.objects.values_list("stage", flat=True).get(pk=opportunity.pk)


def test_dragging_a_card_moves_it_or_shows_why_not(page: Page, live_server):
    rep = make_user("rep", "dora", password=PASSWORD)
    ready = ready_opportunity(rep, stage=Stage.PROSPECTING, name="Ready to move")
    not_ready = OpportunityFactory(owner=rep, name="Missing everything", account=None)
    page.set_default_timeout(10_000)
    sign_in(page, live_server.url, "dora")

    page.locator(f"#opportunity-{ready.pk}").drag_to(page.locator("#column-negotiation"))
    expect(page.locator(".flash-success")).to_contain_text("moved to Negotiation")
    expect(page.locator(f"#column-negotiation #opportunity-{ready.pk}")).to_be_visible()
    assert stage_of(ready) == Stage.NEGOTIATION

    # Requirements unmet: the fix-it dialog lists them with their fields; nothing moves.
    page.locator(f"#opportunity-{not_ready.pk}").drag_to(page.locator("#column-proposal"))
    dialog = page.locator("#fixit-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator("#fixit-live")).to_contain_text("Choose the account this deal is with.")
    expect(dialog.locator("#fixit-live")).to_contain_text("Set the close date.")
    dialog.get_by_role("link", name="Cancel").click()
    expect(dialog).not_to_be_visible()
    expect(page.locator(f"#column-prospecting #opportunity-{not_ready.pk}")).to_be_visible()
    assert stage_of(not_ready) == Stage.PROSPECTING

    # With JavaScript, "Mark lost" asks for the reason in a dialog on the deal page.
    page.get_by_role("link", name="Missing everything").click()
    page.get_by_role("button", name="Mark lost").click()
    dialog = page.locator("#lost-dialog")
    expect(dialog).to_be_visible()
    expect(page).to_have_url(f"{live_server.url}/opportunities/{not_ready.pk}/")
    dialog.get_by_label("Why was the deal lost?").select_option(label="Lost to a competitor")
    dialog.get_by_role("button", name="Mark lost").click()
    expect(page.locator("[data-stage-badge]")).to_have_text("Closed Lost")
    assert stage_of(not_ready) == Stage.CLOSED_LOST


def test_the_core_actions_work_without_javascript(browser: Browser, live_server):
    rep = make_user("rep", "nojs", password=PASSWORD)
    opportunity = ready_opportunity(rep, stage=Stage.PROSPECTING, name="Plain forms")
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        sign_in(page, live_server.url, "nojs")

        card = page.locator(f"#opportunity-{opportunity.pk}")
        card.locator("summary", has_text="Move").click()
        card.get_by_role("button", name="Move to Qualification").click()
        expect(page.locator(".flash-success")).to_contain_text("moved to Qualification")
        assert stage_of(opportunity) == Stage.QUALIFICATION

        page.get_by_role("link", name="Plain forms").click()
        page.get_by_role("button", name="Mark lost").click()  # the fallback page, not the dialog
        expect(page).to_have_url(
            f"{live_server.url}/opportunities/{opportunity.pk}/transitions/mark_lost/"
        )
        page.get_by_label("Why was the deal lost?").select_option(label="No budget")
        page.get_by_role("button", name="Mark lost").click()
        expect(page.locator("[data-stage-badge]")).to_have_text("Closed Lost")
        assert stage_of(opportunity) == Stage.CLOSED_LOST
    finally:
        context.close()
