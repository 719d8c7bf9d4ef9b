"""Fix it now, board cards, error pages and the defects a newcomer hit (Django test client)."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from core.formatting import ago as format_ago
from core.formatting import day as format_day
from core.formatting import moment as format_moment
from handoffs.models import Handoff
from opportunities import services
from opportunities.models import Approval, Contact, Opportunity, StageChange
from opportunities.stages import Stage
from opportunities.web.board import card_flags, stale_days
from tests.factories import OpportunityFactory, make_user, ready_opportunity

pytestmark = pytest.mark.django_db


def fix_url(opportunity: Opportunity, name: str = "submit_for_approval") -> str:
    return f"/opportunities/{opportunity.pk}/fix/{name}/"


def shown_fields(html: str) -> list[str]:
    return re.findall(r'<input type="hidden" name="shown" value="(\w+)">', html)


def not_ready(rep) -> Opportunity:
    """A deal in Negotiation missing its contract ID / PO and with a close date ahead."""
    return ready_opportunity(
        rep, contract_id="", close_date=timezone.localdate() + dt.timedelta(days=20)
    )


# --- fix it now ------------------------------------------------------------------------------


def test_the_dialog_asks_exactly_for_the_missing_fields(rep, rep_client):
    opportunity = not_ready(rep)
    response = rep_client.get(fix_url(opportunity))
    html = response.content.decode()
    assert response.status_code == 200
    assert shown_fields(html) == ["contract_id", "po_number", "close_date"]
    assert 'name="amount"' not in html and 'name="primary_contact"' not in html
    assert "data-today-for" in html  # the close date's Today button
    assert "Add a contract ID or a PO number." in html


def test_saving_the_dialog_edits_and_requests_closed_won_together(rep, rep_client):
    opportunity = not_ready(rep)
    today = timezone.localdate().isoformat()
    response = rep_client.post(
        fix_url(opportunity) + "?next=/pipeline/",
        {
            "shown": ["contract_id", "po_number", "close_date"],
            "version": opportunity.version,
            "contract_id": "CT-FIX-1",
            "po_number": "",
            "close_date": today,
            "next": "/pipeline/",
        },
    )
    assert response.status_code == 302 and response["Location"] == "/pipeline/"
    opportunity.refresh_from_db()
    assert opportunity.stage == Stage.PENDING_APPROVAL
    assert opportunity.contract_id == "CT-FIX-1" and opportunity.close_date.isoformat() == today
    assert Approval.objects.filter(opportunity=opportunity, decision="pending").count() == 1


def test_a_refused_transition_leaves_the_edit_unsaved(rep, rep_client):
    opportunity = not_ready(rep)
    before = Opportunity.objects.values("contract_id", "close_date", "version").get(
        pk=opportunity.pk
    )
    # The contract ID is filled in, but the close date stays in the future: refused.
    response = rep_client.post(
        fix_url(opportunity),
        {
            "shown": ["contract_id", "po_number", "close_date"],
            "version": opportunity.version,
            "contract_id": "CT-HALF",
            "close_date": (timezone.localdate() + dt.timedelta(days=3)).isoformat(),
        },
    )
    html = response.content.decode()
    assert response.status_code == 422
    assert "The close date is in the future" in html
    # The message sits on its field, and the summary links to it.
    assert 'href="#id_close_date" data-focus-field="id_close_date"' in html
    assert Opportunity.objects.values("contract_id", "close_date", "version").get(
        pk=opportunity.pk
    ) == (before)
    assert (
        opportunity.stage == Opportunity.objects.get(pk=opportunity.pk).stage == Stage.NEGOTIATION
    )


def test_the_dialog_creates_a_new_primary_contact_in_the_same_transaction(rep, rep_client):
    opportunity = ready_opportunity(rep, primary_contact=None)
    Opportunity.objects.filter(pk=opportunity.pk).update(primary_contact=None)
    opportunity.refresh_from_db()
    html = rep_client.get(fix_url(opportunity)).content.decode()
    assert shown_fields(html) == ["primary_contact"]
    assert 'name="new_contact_last_name"' in html
    response = rep_client.post(
        fix_url(opportunity),
        {
            "shown": ["primary_contact"],
            "version": opportunity.version,
            "primary_contact": "",
            "new_contact_first_name": "Ada",
            "new_contact_last_name": "Byron",
            "new_contact_email": "ada@example.com",
        },
    )
    assert response.status_code == 302
    opportunity.refresh_from_db()
    assert opportunity.stage == Stage.PENDING_APPROVAL
    assert opportunity.primary_contact.email == "ada@example.com"
    assert opportunity.primary_contact.account_id == opportunity.account_id


def test_a_refused_request_with_a_new_contact_creates_no_contact(rep, rep_client):
    opportunity = ready_opportunity(rep, contract_id="", primary_contact=None)
    Opportunity.objects.filter(pk=opportunity.pk).update(primary_contact=None)
    contacts = Contact.objects.count()
    response = rep_client.post(
        fix_url(opportunity),
        {
            "shown": ["contract_id", "po_number", "primary_contact"],
            "version": opportunity.version,
            "new_contact_last_name": "Byron",
            "new_contact_email": "ada@example.com",
        },
    )
    assert response.status_code == 422
    assert Contact.objects.count() == contacts
    assert Opportunity.objects.get(pk=opportunity.pk).stage == Stage.NEGOTIATION


def test_the_dialog_fixes_line_items_and_the_amount_for_a_mismatch(rep, rep_client):
    opportunity = ready_opportunity(rep, amount=Decimal("999.00"))  # 10 × 100 = 1000
    line = opportunity.line_items.get()
    html = rep_client.get(fix_url(opportunity)).content.decode()
    assert shown_fields(html) == ["amount", "line_items"]
    response = rep_client.post(
        fix_url(opportunity),
        {
            "shown": ["amount", "line_items"],
            "version": opportunity.version,
            "amount": "1200.00",
            "lines-TOTAL_FORMS": "1",
            "lines-INITIAL_FORMS": "1",
            "lines-0-id": line.pk,
            "lines-0-product": line.product_id,
            "lines-0-seats": "12",
            "lines-0-unit_price": "100.00",
        },
    )
    assert response.status_code == 302
    opportunity.refresh_from_db()
    assert opportunity.stage == Stage.PENDING_APPROVAL and opportunity.amount == Decimal("1200.00")
    assert opportunity.line_items.get().seats == 12


def test_the_live_check_evaluates_unsaved_values_and_saves_nothing(rep, rep_client):
    opportunity = not_ready(rep)
    response = rep_client.post(
        fix_url(opportunity) + "?check=1",
        {"contract_id": "CT-X", "close_date": timezone.localdate().isoformat()},
    )
    assert response.status_code == 200
    assert 'data-fixit-status="complete"' in response.content.decode()
    half = rep_client.post(
        fix_url(opportunity) + "?check=1", {"contract_id": "CT-X", "close_date": ""}
    )
    assert "Set the close date." in half.content.decode()
    assert Opportunity.objects.get(pk=opportunity.pk).contract_id == ""


def test_a_ready_deal_has_nothing_to_fix(rep, rep_client):
    opportunity = ready_opportunity(rep)
    html = rep_client.get(fix_url(opportunity), HTTP_HX_REQUEST="true").content.decode()
    assert "data-fixit-ready" in html


def test_without_javascript_a_refused_move_leads_to_the_fix_it_page(rep, rep_client):
    opportunity = not_ready(rep)
    response = rep_client.post(
        f"/opportunities/{opportunity.pk}/transitions/submit_for_approval/", {"next": "/pipeline/"}
    )
    assert response.status_code == 302
    assert response["Location"].startswith(fix_url(opportunity))
    page = rep_client.get(response["Location"])
    html = page.content.decode()
    assert "Request Closed-Won refused" in html  # the refusal, then the fields
    assert shown_fields(html) == ["contract_id", "po_number", "close_date"]


def test_other_reps_and_unknown_transitions_cannot_use_the_dialog(rep, rep2_client):
    opportunity = not_ready(rep)
    response = rep2_client.post(
        fix_url(opportunity), {"shown": ["contract_id"], "contract_id": "X"}
    )
    assert response.status_code == 302
    assert Opportunity.objects.get(pk=opportunity.pk).contract_id == ""
    assert rep2_client.get(fix_url(opportunity, "approve")).status_code == 404
    assert rep2_client.get("/opportunities/999999/fix/submit_for_approval/").status_code == 404


def test_request_closed_won_on_the_deal_page_opens_the_fields_when_something_is_missing(
    rep, rep_client
):
    opportunity = not_ready(rep)
    html = rep_client.get(f"/opportunities/{opportunity.pk}/").content.decode()
    assert f'data-fixit-open="{fix_url(opportunity)}' in html
    assert f'href="{fix_url(opportunity)}?next=' in html  # without JavaScript: the page


# --- errors lead to fields ------------------------------------------------------------------


def test_checklist_items_link_to_their_fields(rep, rep_client):
    opportunity = not_ready(rep)
    detail = rep_client.get(f"/opportunities/{opportunity.pk}/").content.decode()
    edit = f"/opportunities/{opportunity.pk}/edit/"
    assert f'href="{edit}#id_contract_id" data-focus-field="id_contract_id"' in detail
    assert f'href="{edit}#id_close_date" data-focus-field="id_close_date"' in detail
    # "Fill in what is missing" leads to the first missing field.
    assert f'href="{edit}#id_contract_id" data-fill-missing' in detail
    form = rep_client.get(edit).content.decode()
    assert 'href="#id_contract_id" data-focus-field="id_contract_id"' in form


def test_a_refused_save_lists_each_error_as_a_link_to_its_field(rep, rep_client):
    opportunity = ready_opportunity(rep)
    response = rep_client.post(
        f"/opportunities/{opportunity.pk}/edit/",
        {"name": "", "type": "new_business", "currency": "USD", "version": opportunity.version},
    )
    assert response.status_code == 422
    assert 'href="#id_name" data-focus-field="id_name"' in response.content.decode()


# --- amount from the line items -------------------------------------------------------------


def test_the_form_shows_line_totals_and_their_sum(rep, rep_client):
    opportunity = ready_opportunity(rep, lines=2, seats=3, unit_price=Decimal("250.00"))
    html = rep_client.get(f"/opportunities/{opportunity.pk}/edit/").content.decode()
    assert html.count("data-line-total") >= 2
    assert re.search(r"data-lines-sum>\$1,500<", html)
    assert "data-amount-note" in html


# --- board cards ----------------------------------------------------------------------------


def test_cards_show_days_in_stage_and_a_stale_flag(rep, rep_client, settings):
    opportunity = ready_opportunity(
        rep, stage=Stage.PROSPECTING, close_date=timezone.localdate() + dt.timedelta(days=30)
    )
    services.opportunity_transition(
        opportunity=opportunity, name="move_to_qualification", actor=rep
    )
    ten_days_ago = timezone.now() - dt.timedelta(days=10)
    StageChange.objects.filter(opportunity=opportunity).update(at=ten_days_ago)
    Opportunity.objects.filter(pk=opportunity.pk).update(updated_at=ten_days_ago)
    settings.BOARD_STALE_DAYS = {"qualification": 7}
    html = rep_client.get("/pipeline/").content.decode()
    card = re.search(rf'id="opportunity-{opportunity.pk}".*?</article>', html, re.S).group(0)
    assert 'data-days-in-stage="10"' in card and "10 days in stage" in card
    assert "data-stale" in card and "No change for 10 days" in card
    settings.BOARD_STALE_DAYS = {"qualification": 30}
    html = rep_client.get("/pipeline/").content.decode()
    card = re.search(rf'id="opportunity-{opportunity.pk}".*?</article>', html, re.S).group(0)
    assert "data-stale" not in card


def test_a_passed_close_date_makes_a_card_stale(rep):
    opportunity = OpportunityFactory(
        owner=rep, close_date=timezone.localdate() - dt.timedelta(days=1)
    )
    flags = card_flags([opportunity])[opportunity.pk]
    assert flags.stale and "The close date has passed." in flags.stale_reasons
    assert stale_days(Stage.NEGOTIATION) == 10


def test_the_board_card_flags_cost_one_query_whatever_the_number_of_cards(
    rep, rep_client, django_assert_max_num_queries
):
    for _ in range(12):
        OpportunityFactory(owner=rep)
    with django_assert_max_num_queries(12):
        assert rep_client.get("/pipeline/").status_code == 200


def test_the_next_step_is_shown_and_edited_on_the_card(rep, rep_client):
    opportunity = OpportunityFactory(owner=rep)
    when = (timezone.localdate() + dt.timedelta(days=2)).isoformat()
    response = rep_client.post(
        f"/opportunities/{opportunity.pk}/next-step/",
        {
            "next_step": "Send the order form",
            "next_step_date": when,
            "version": opportunity.version,
            "next": "/pipeline/",
        },
    )
    assert response.status_code == 302 and response["Location"] == "/pipeline/"
    opportunity.refresh_from_db()
    assert (
        opportunity.next_step == "Send the order form"
        and opportunity.next_step_date.isoformat() == when
    )
    html = rep_client.get("/pipeline/").content.decode()
    assert "Send the order form" in html


def test_the_next_step_of_someone_elses_deal_cannot_be_set(rep, rep2_client):
    opportunity = OpportunityFactory(owner=rep)
    rep2_client.post(f"/opportunities/{opportunity.pk}/next-step/", {"next_step": "Mine now"})
    assert Opportunity.objects.get(pk=opportunity.pk).next_step == ""


def test_a_bad_next_step_date_changes_nothing(rep, rep_client):
    opportunity = OpportunityFactory(owner=rep)
    rep_client.post(
        f"/opportunities/{opportunity.pk}/next-step/",
        {"next_step": "x", "next_step_date": "31/31/2026"},
    )
    assert Opportunity.objects.get(pk=opportunity.pk).next_step == ""


# --- defects --------------------------------------------------------------------------------


def test_the_live_checklist_posts_from_outside_the_form_so_zero_seats_are_checked(rep, rep_client):
    opportunity = ready_opportunity(rep)
    html = rep_client.get(f"/opportunities/{opportunity.pk}/edit/").content.decode()
    form_tag = re.search(r'<form id="opportunity-form"[^>]*>', html).group(0)
    assert "hx-post" not in form_tag  # htmx would validate the form and skip 0 seats
    assert 'hx-include="#opportunity-form"' in html and 'hx-sync="this:queue last"' in html
    line = opportunity.line_items.get()
    response = rep_client.post(
        f"/opportunities/{opportunity.pk}/checklist/",
        {
            "amount": "1000",
            "lines-TOTAL_FORMS": "1",
            "lines-0-id": line.pk,
            "lines-0-product": line.product_id,
            "lines-0-seats": "0",
            "lines-0-unit_price": "100",
        },
    )
    assert "Add the products sold, each with at least one seat." in response.content.decode()


def test_the_locked_edit_page_lists_the_account_and_offers_no_new_account(rep, rep_client):
    opportunity = ready_opportunity(rep, stage=Stage.PENDING_APPROVAL)
    html = rep_client.get(f"/opportunities/{opportunity.pk}/edit/").content.decode()
    assert "the account, amount, currency, close date" in html
    assert "+ New account" not in html and "+ New contact" not in html


def test_reps_are_not_shown_the_version(rep, rep_client):
    opportunity = ready_opportunity(rep)
    html = rep_client.get(f"/opportunities/{opportunity.pk}/edit/").content.decode()
    assert "version " not in html.lower().replace('name="version"', "")


def test_the_owner_filter_lists_reps_only_and_says_me_under_mine(rep, rep2, revops, rep_client):
    html = rep_client.get("/pipeline/").content.decode()
    select = re.search(r'<select name="owner".*?</select>', html, re.S).group(0)
    assert "revops_rita" not in select and "rep_bob" in select
    assert "Any owner" not in select and "Me (" in select
    everyone = rep_client.get("/pipeline/?scope=all").content.decode()
    select = re.search(r'<select name="owner".*?</select>', everyone, re.S).group(0)
    assert "Any owner" in select and "rep_alice" in select


@pytest.mark.parametrize("debug", [False, True])
def test_a_missing_deal_shows_the_apps_404_page(rep_client, settings, debug):
    settings.DEBUG = debug
    for url in ("/opportunities/999999/", "/no-such-page/"):
        response = rep_client.get(url)
        html = response.content.decode()
        assert response.status_code == 404
        assert 'data-error-page="404"' in html and "Back to your pipeline" in html
        assert "URLconf" not in html and "DEBUG = True" not in html


@pytest.mark.parametrize("debug", [False, True])
def test_a_forbidden_page_shows_the_apps_403_page(db, settings, debug):
    settings.DEBUG = debug
    nobody = make_user("rep", "no_perms")
    nobody.groups.clear()
    client = Client()
    client.force_login(nobody)
    response = client.get("/pipeline/")
    assert response.status_code == 403
    assert 'data-error-page="403"' in response.content.decode()


@pytest.mark.parametrize("debug", [False, True])
def test_an_error_shows_the_apps_500_page(rep_client, settings, monkeypatch, debug):
    from opportunities.selectors import pipeline as ui_selectors

    settings.DEBUG = debug

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(ui_selectors, "board", broken)
    rep_client.raise_request_exception = False
    response = rep_client.get("/pipeline/")
    assert response.status_code == 500
    assert 'data-error-page="500"' in response.content.decode()


def test_admin_pages_name_the_favicon_and_favicon_ico_exists(revops, client):
    client.force_login(revops)
    html = client.get("/admin/").content.decode()
    assert '<link rel="icon"' in html and "favicon" in html
    response = client.get("/favicon.ico")
    assert response.status_code == 302 and "favicon" in response["Location"]


def test_the_admin_index_lists_the_approval_queue_once(admin_user, client):
    client.force_login(admin_user)
    html = client.get("/admin/").content.decode()
    assert "Closed-Won approvals" in html
    assert ">Approvals<" not in html
    # The log itself stays reachable.
    assert client.get("/admin/opportunities/approval/").status_code == 200


def pending_with_handoffs(rep, revops):
    opportunity = ready_opportunity(rep)
    services.opportunity_transition(opportunity=opportunity, name="submit_for_approval", actor=rep)
    services.opportunity_transition(opportunity=opportunity, name="approve", actor=revops)
    return Approval.objects.get(opportunity=opportunity)


def test_the_approval_page_refreshes_its_handoffs_until_they_settle(rep, revops, client):
    approval = pending_with_handoffs(rep, revops)
    client.force_login(revops)
    handoffs = Handoff.objects.filter(approval_id=approval.pk)
    assert handoffs.exists()
    page = client.get(f"/admin/opportunities/closedwonapproval/{approval.pk}/change/")
    html = page.content.decode()
    poll = f"/approvals/{approval.pk}/handoffs/"
    assert f'hx-get="{poll}" hx-trigger="every 2s"' in html
    # The worker delivers meanwhile: the fragment shows the new state, and stops polling.
    handoffs.update(status="delivered", attempts=1, delivered_at=timezone.now())
    fragment = client.get(poll).content.decode()
    assert 'data-status="delivered"' in fragment and 'data-status="pending"' not in fragment
    assert "hx-trigger" not in fragment


def test_reps_cannot_read_the_handoff_fragment(rep, revops, rep_client):
    approval = pending_with_handoffs(rep, revops)
    assert rep_client.get(f"/approvals/{approval.pk}/handoffs/").status_code == 404


# --- one set of formats ---------------------------------------------------------------------


def test_one_set_of_formats():
    moment = timezone.make_aware(dt.datetime(2026, 3, 5, 14, 5))
    assert format_day(dt.date(2026, 3, 5)) == "Mar 5, 2026"
    assert format_moment(moment) == "Mar 5, 2026, 14:05"
    assert format_ago(moment - dt.timedelta(days=3, hours=2), now=moment) == "3 days ago"
    assert format_ago(moment + dt.timedelta(hours=2), now=moment) == "in 2 hours"
    assert format_ago(moment, now=moment) == "just now"


def test_the_admin_shows_money_dates_and_history_as_the_rep_ui_does(rep, revops, client):
    opportunity = ready_opportunity(rep, close_date=dt.date(2026, 3, 5))
    services.opportunity_update(
        opportunity=opportunity.pk, actor=rep, data={"type": "renewal", "term_months": 24}
    )
    services.opportunity_transition(opportunity=opportunity, name="submit_for_approval", actor=rep)
    approval = Approval.objects.get(opportunity=opportunity)
    client.force_login(revops)
    html = client.get(f"/admin/opportunities/closedwonapproval/{approval.pk}/change/").content
    html = html.decode()
    assert "$1,000" in html and "1,000.00 USD" not in html
    assert "Mar 5, 2026" in html
    # Field history in words: the type's label, not its stored value.
    assert "New business → Renewal" in html
    rep_html = Client()
    rep_html.force_login(rep)
    detail = rep_html.get(f"/opportunities/{opportunity.pk}/").content.decode()
    assert "$1,000" in detail and "Mar 5, 2026" in detail
