"""The rep's and RevOps' day in real headless Chromium: fix it now, the computed amount,
errors that lead to fields, phone layouts, the defects, and an axe-core check.

Screenshots of the board, a deal, the edit page and the approval queue at 1440×900 and
390×844 are written to docs/screenshots/ (looked at by a person before they are kept).
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from opportunities import services
from opportunities.models import Approval, Opportunity
from opportunities.stages import Source, Stage
from tests.factories import (
    AccountFactory,
    ContactFactory,
    OpportunityFactory,
    make_user,
    ready_opportunity,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "docs" / "screenshots"
AXE = ROOT / "static" / "vendor" / "axe-core" / "axe.min.js"
PASSWORD = "pw-for-tests-123"
DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}


def person(username: str, role: str, first: str, last: str):
    user = make_user(role, username, PASSWORD)
    user.first_name, user.last_name = first, last
    user.save()
    return user


def sign_in(page: Page, base: str, username: str) -> None:
    page.goto(base + "/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/pipeline/")


def admin_sign_in(page: Page, base: str, username: str) -> None:
    page.goto(base + "/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")


def stage_of(opportunity) -> str:
    return Opportunity.objects.values_list("stage", flat=True).get(pk=opportunity.pk)


def missing_contract_and_date(owner, name: str) -> Opportunity:
    account = AccountFactory(name=name.split(" ")[0])
    contact = ContactFactory(account=account, first_name="Jordan", last_name="Lee")
    return ready_opportunity(
        owner,
        name=name,
        account=account,
        primary_contact=contact,
        contract_id="",
        close_date=timezone.localdate() + dt.timedelta(days=14),
    )


def axe_violations(page: Page) -> list[str]:
    """Serious and critical axe-core violations on the page, as readable lines."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("() => axe.run(document, { resultTypes: ['violations'] })")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


# --- fix it now ------------------------------------------------------------------------------


def test_a_refused_drag_becomes_a_pending_request_without_leaving_the_board(
    page: Page, live_server
):
    alice = person("alice", "rep", "Alice", "Archer")
    opportunity = missing_contract_and_date(alice, "Initech pilot")
    page.set_default_timeout(10_000)
    sign_in(page, live_server.url, "alice")

    page.locator(f"#opportunity-{opportunity.pk}").drag_to(page.locator("#column-pending_approval"))
    dialog = page.locator("#fixit-dialog")
    expect(dialog).to_be_visible()
    # Exactly the missing fields.
    expect(dialog.get_by_label("Contract ID")).to_be_visible()
    expect(dialog.get_by_label("PO number")).to_be_visible()
    expect(dialog.get_by_label("Close date")).to_be_visible()
    assert dialog.locator("input[name=amount], select[name=primary_contact]").count() == 0
    expect(dialog.locator("#fixit-live")).to_contain_text("Add a contract ID or a PO number.")

    dialog.get_by_label("Contract ID").fill("CT-2026-9")
    dialog.get_by_role("button", name="Today").click()
    # Live-checked: the dialog says it is complete before anything is saved.
    expect(dialog.locator("[data-fixit-status=complete]")).to_be_visible()
    assert stage_of(opportunity) == Stage.NEGOTIATION

    dialog.get_by_role("button", name="Save and request Closed-Won").click()
    expect(page.locator(".flash-success")).to_contain_text("Closed-Won requested")
    expect(page).to_have_url(live_server.url + "/pipeline/")
    expect(page.locator(f"#column-pending_approval #opportunity-{opportunity.pk}")).to_be_visible()
    assert stage_of(opportunity) == Stage.PENDING_APPROVAL
    opportunity.refresh_from_db()
    assert opportunity.contract_id == "CT-2026-9" and opportunity.close_date == timezone.localdate()


def test_a_refusal_in_the_dialog_keeps_it_open_and_saves_nothing(page: Page, live_server):
    alice = person("alice", "rep", "Alice", "Archer")
    opportunity = missing_contract_and_date(alice, "Globex platform")
    page.set_default_timeout(10_000)
    sign_in(page, live_server.url, "alice")
    card = page.locator(f"#opportunity-{opportunity.pk}")
    card.locator(".card-move summary").click()
    card.get_by_role("button", name="Request Closed-Won").click()
    dialog = page.locator("#fixit-dialog")
    dialog.get_by_label("Contract ID").fill("CT-77")
    dialog.get_by_role("button", name="Save and request Closed-Won").click()
    expect(dialog.locator(".error-summary")).to_contain_text("The close date is in the future")
    # The first error has the focus.
    expect(dialog.get_by_label("Close date")).to_be_focused()
    assert Opportunity.objects.get(pk=opportunity.pk).contract_id == ""
    assert stage_of(opportunity) == Stage.NEGOTIATION


def test_a_move_that_needs_nothing_runs_at_once(page: Page, live_server):
    alice = person("alice", "rep", "Alice", "Archer")
    opportunity = ready_opportunity(alice, stage=Stage.PROSPECTING, name="Ready one")
    page.set_default_timeout(10_000)
    sign_in(page, live_server.url, "alice")
    page.locator(f"#opportunity-{opportunity.pk}").drag_to(page.locator("#column-negotiation"))
    expect(page.locator(".flash-success")).to_contain_text("moved to Negotiation")
    expect(page.locator("#fixit-dialog")).not_to_be_visible()
    assert stage_of(opportunity) == Stage.NEGOTIATION


# --- amount from the line items, errors that lead to fields ----------------------------------


def test_the_amount_follows_the_line_items_until_the_rep_overrides_it(page: Page, live_server):
    alice = person("alice", "rep", "Alice", "Archer")
    opportunity = ready_opportunity(alice, seats=10, unit_price=Decimal("100.00"), name="Computed")
    page.set_default_timeout(10_000)
    sign_in(page, live_server.url, "alice")
    page.goto(f"{live_server.url}/opportunities/{opportunity.pk}/edit/")
    amount = page.get_by_label("Amount", exact=True)
    expect(amount).to_have_value("1000.00")

    page.locator("#id_lines-0-seats").fill("12")
    expect(page.locator("[data-line-total]").first).to_have_text("$1,200")
    expect(page.locator("[data-lines-sum]")).to_have_text("$1,200")
    expect(amount).to_have_value("1200.00")
    expect(page.locator("[data-amount-note]")).to_contain_text("Filled in from the line items")

    amount.fill("1500")
    expect(page.locator("[data-amount-note]")).to_contain_text(
        "Differs from the line items ($1,200)"
    )
    page.locator("#id_lines-0-seats").fill("13")
    expect(amount).to_have_value("1500")  # the rep's amount stays
    page.get_by_role("button", name="Use the sum").click()
    expect(amount).to_have_value("1300.00")


def test_checklist_items_and_fill_in_what_is_missing_focus_their_fields(page: Page, live_server):
    alice = person("alice", "rep", "Alice", "Archer")
    opportunity = missing_contract_and_date(alice, "Focus test")
    page.set_default_timeout(10_000)
    sign_in(page, live_server.url, "alice")
    page.goto(f"{live_server.url}/opportunities/{opportunity.pk}/")
    page.get_by_role("link", name="Fill in what is missing").click()
    expect(page.locator("#id_contract_id")).to_be_focused()
    page.locator("#checklist").get_by_role("link", name="Close date, today or earlier").click()
    expect(page.locator("#id_close_date")).to_be_focused()


# --- the defects -----------------------------------------------------------------------------


def test_form_defects_help_text_zero_seats_and_no_aborted_request(page: Page, live_server):
    alice = person("alice", "rep", "Alice", "Archer")
    opportunity = ready_opportunity(alice, name="Defects")
    console: list[str] = []
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
    page.set_default_timeout(10_000)
    sign_in(page, live_server.url, "alice")
    page.set_viewport_size(DESKTOP)
    page.goto(f"{live_server.url}/opportunities/{opportunity.pk}/edit/")

    # The amount's help text sits below its input, not over it.
    box = page.locator("#id_amount").bounding_box()
    help_box = page.locator("#id_amount_helptext").bounding_box()
    assert box and help_box and help_box["y"] >= box["y"] + box["height"]

    # Zero seats: the live checklist reports it (htmx no longer skips an "invalid" form).
    page.locator("#id_lines-0-seats").fill("0")
    expect(page.locator("#checklist li[data-codes*=seats_required]")).to_have_attribute(
        "data-met", "false"
    )
    page.locator("#id_lines-0-seats").fill("10")
    expect(page.locator("#checklist li[data-codes*=seats_required]")).to_have_attribute(
        "data-met", "true"
    )

    # Saving right after typing aborts no checklist request.
    page.locator("#id_po_number").fill("PO-1")
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator(".flash-success")).to_contain_text("Deal saved.")
    assert not [line for line in console if "sendAbort" in line or "htmx:" in line], console


def contrast(page: Page, selector: str) -> float:
    return page.evaluate(
        """(sel) => {
          const el = document.querySelector(sel); const cs = getComputedStyle(el);
          const rgb = s => s.match(/[\\d.]+/g).slice(0, 3).map(Number);
          const lum = ([r, g, b]) => [r, g, b].map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); })
            .reduce((a, v, i) => a + v * [0.2126, 0.7152, 0.0722][i], 0);
          const a = lum(rgb(cs.color)), b = lum(rgb(cs.backgroundColor));
          return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
        }""",
        selector,
    )


def test_avatar_initials_have_enough_contrast(page: Page, live_server):
    person("alice", "rep", "Alice", "Archer")
    sign_in(page, live_server.url, "alice")
    assert contrast(page, ".usermenu .avatar") >= 4.5


def test_the_handoff_console_is_not_clipped_at_1440(page: Page, live_server):
    alice = person("alice", "rep", "Alice", "Archer")
    rita = person("rita", "revops", "Rita", "Reyes")
    rita.is_staff = True
    rita.save()
    opportunity = ready_opportunity(alice, name="Handed off")
    services.opportunity_transition(
        opportunity=opportunity, name="submit_for_approval", actor=alice
    )
    services.opportunity_transition(opportunity=opportunity, name="approve", actor=rita)
    page.set_viewport_size(DESKTOP)
    admin_sign_in(page, live_server.url, "rita")
    page.goto(live_server.url + "/admin/handoffs/handoff/")
    widths = page.evaluate(
        "() => { const r = document.querySelector('#changelist .results');"
        " return [r.scrollWidth, r.clientWidth]; }"
    )
    assert widths[0] <= widths[1], widths
    expect(page.locator("#result_list th.column-created_at")).to_be_in_viewport()


# --- phones, screenshots, accessibility -----------------------------------------------------


@pytest.fixture
def day(db):
    """A small but real pipeline: every column used, a won deal, a queue with requests."""
    alice = person("alice", "rep", "Alice", "Archer")
    bob = person("bob", "rep", "Bob", "Baker")
    rita = person("rita", "revops", "Rita", "Reyes")
    rita.is_staff = True
    rita.save()
    today = timezone.localdate()
    names = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wonka", "Tyrell"]
    opportunities = []
    for i, company in enumerate(names):
        owner = alice if i % 2 == 0 else bob
        account = AccountFactory(name=f"{company} Corp")
        contact = ContactFactory(account=account, first_name="Jordan", last_name="Lee")
        stage = [Stage.PROSPECTING, Stage.QUALIFICATION, Stage.PROPOSAL, Stage.NEGOTIATION][i % 4]
        opportunity = ready_opportunity(
            owner,
            name=f"{company} — {['Pilot', 'Platform', 'Expansion', 'Renewal'][i % 4]}",
            account=account,
            primary_contact=contact,
            stage=stage,
            close_date=today + dt.timedelta(days=(i * 9) - 20),
            seats=5 + i,
            unit_price=Decimal("1200.00"),
            next_step="Call the CFO" if i == 0 else "",
            next_step_date=today + dt.timedelta(days=2) if i == 0 else None,
        )
        opportunities.append(opportunity)
    missing = missing_contract_and_date(alice, "Vandelay — Rollout")
    for opportunity in opportunities[-3:]:
        Opportunity.objects.filter(pk=opportunity.pk).update(
            stage=Stage.NEGOTIATION, close_date=today - dt.timedelta(days=1)
        )
        services.opportunity_transition(
            opportunity=opportunity,
            name="submit_for_approval",
            actor=opportunity.owner,
            source=Source.UI,
        )
    won = opportunities[-1]
    services.opportunity_transition(opportunity=won, name="approve", actor=rita)
    OpportunityFactory(owner=alice, name="Soylent — Team plan", account=None)
    return {"alice": alice, "rita": rita, "missing": missing, "won": won}


def rep_pages(day) -> dict[str, str]:
    missing = day["missing"]
    return {
        "board": "/pipeline/",
        "opportunities": "/opportunities/",
        "dashboard": "/dashboard/",
        "deal": f"/opportunities/{missing.pk}/",
        "deal-won": f"/opportunities/{day['won'].pk}/",
        "edit": f"/opportunities/{missing.pk}/edit/",
        "new": "/opportunities/new/",
        "fix": f"/opportunities/{missing.pk}/fix/submit_for_approval/",
        "not-found": "/opportunities/999999/",
    }


def test_every_rep_page_and_the_queue_pass_axe(page: Page, live_server, day):
    page.set_default_timeout(15_000)
    sign_in(page, live_server.url, "alice")
    found: dict[str, list[str]] = {}
    for size in (DESKTOP, PHONE):
        page.set_viewport_size(size)
        for name, url in rep_pages(day).items():
            page.goto(live_server.url + url)
            found[f"{name}@{size['width']}"] = axe_violations(page)
    page.context.clear_cookies()
    admin_sign_in(page, live_server.url, "rita")
    approval = Approval.objects.filter(decision="pending").first()
    for name, url in {
        "queue": "/admin/opportunities/closedwonapproval/",
        "queue-deal": f"/admin/opportunities/closedwonapproval/{approval.pk}/change/",
    }.items():
        page.goto(live_server.url + url)
        found[name] = axe_violations(page)
    failing = {k: v for k, v in found.items() if v}
    (ROOT / "test-artifacts").mkdir(exist_ok=True)
    (ROOT / "test-artifacts" / "axe.json").write_text(json.dumps(failing, indent=2))
    assert failing == {}


def test_phone_layouts_and_screenshots(page: Page, live_server, day):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.set_default_timeout(15_000)
    sign_in(page, live_server.url, "alice")
    pages = rep_pages(day)
    for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        for name in ("board", "deal", "edit"):
            page.goto(live_server.url + pages[name])
            # The phone's edit page as a phone shows it: the checklist pinned under the fields.
            full = name == "deal" or (name == "edit" and label == "desktop")
            page.screenshot(path=str(SCREENSHOTS / f"{name}-{label}.png"), full_page=full)

    page.set_viewport_size(PHONE)
    # The deal list and the dashboard's table are cards: no header row, labelled values.
    for url in (pages["opportunities"], pages["dashboard"]):
        page.goto(live_server.url + url)
        table = page.locator("table.stack-on-phone").first
        expect(table.locator("thead")).to_be_hidden()
        expect(table.locator("td[data-label]").first).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    # The edit page's checklist stays in view beside the fields (pinned to the bottom).
    page.goto(live_server.url + pages["edit"])
    page.locator("#id_contract_id").scroll_into_view_if_needed()
    expect(page.locator(".checklist-card")).to_be_in_viewport()
    # The board's Move menu opens as a sheet at the bottom of the screen (thumb reach).
    page.goto(live_server.url + pages["board"])
    card = page.locator(f"#opportunity-{day['missing'].pk}")
    card.scroll_into_view_if_needed()
    card.locator(".card-move summary").click()
    menu = card.locator(".card-move-menu")
    box = menu.bounding_box()
    assert (
        box and box["y"] + box["height"] >= PHONE["height"] - 2 and box["y"] > PHONE["height"] / 3
    )
    page.screenshot(path=str(SCREENSHOTS / "board-move-phone.png"))
    # The fix-it dialog on a phone.
    card.get_by_role("button", name="Request Closed-Won").click()
    expect(page.locator("#fixit-dialog")).to_be_visible()
    page.screenshot(path=str(SCREENSHOTS / "fixit-phone.png"))
    page.set_viewport_size(DESKTOP)
    page.keyboard.press("Escape")
    page.goto(live_server.url + pages["board"])
    page.locator(f"#opportunity-{day['missing'].pk}").drag_to(
        page.locator("#column-pending_approval")
    )
    expect(page.locator("#fixit-dialog")).to_be_visible()
    page.screenshot(path=str(SCREENSHOTS / "fixit-desktop.png"))

    page.context.clear_cookies()
    admin_sign_in(page, live_server.url, "rita")
    for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        page.goto(live_server.url + "/admin/opportunities/closedwonapproval/")
        page.screenshot(path=str(SCREENSHOTS / f"queue-{label}.png"), full_page=True)
