"""The deal page: stage path, Closed-Won checklist, transition buttons, history, handoffs."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from opportunities import services
from opportunities.gate import Code
from opportunities.models import StageRequirement
from opportunities.stages import Source, Stage
from tests.factories import ContactFactory, OpportunityFactory, ready_opportunity

pytestmark = pytest.mark.django_db


def buttons(html: str) -> list[str]:
    """The labels of the transition controls on the page, in order."""
    return [
        re.sub(r"<[^>]+>|\s+", " ", label).strip().split(" (")[0]
        for label in re.findall(r'data-transition="[^"]+"[^>]*>(.*?)</(?:button|a)>', html, re.S)
    ]


def path_states(html: str) -> dict[str, str]:
    return dict(re.findall(r'class="path-step stage-(\w+) is-(\w+)"', html))


def test_the_path_bar_highlights_the_current_stage_and_ticks_only_visited_ones(rep, rep_client):
    opportunity = ready_opportunity(rep, stage=Stage.PROSPECTING)
    # Dragged straight from Prospecting to Proposal: Qualification was never visited.
    services.opportunity_transition(opportunity=opportunity, name="move_to_proposal", actor=rep)
    html = rep_client.get(f"/opportunities/{opportunity.pk}/").content.decode()
    current = re.findall(r'class="path-step stage-(\w+) is-current" aria-current="step"', html)
    assert current == ["proposal"]
    states = path_states(html)
    assert states["prospecting"] == "done"
    assert states["qualification"] == "todo"
    assert html.count("is-done") == 1


def test_a_deal_created_in_a_later_stage_has_no_ticks(rep, rep_client):
    opportunity = ready_opportunity(rep, stage=Stage.PROPOSAL)  # no stage change recorded
    html = rep_client.get(f"/opportunities/{opportunity.pk}/").content.decode()
    assert html.count("is-done") == 0


def test_a_lost_deal_path_ends_in_closed_lost(rep, rep_client):
    opportunity = OpportunityFactory(owner=rep, stage=Stage.CLOSED_LOST, loss_reason="price")
    html = rep_client.get(f"/opportunities/{opportunity.pk}/").content.decode()
    assert 'stage-closed_lost is-current" aria-current="step"' in html
    assert "Closed Lost</strong>: Price" in html


def test_the_checklist_lists_every_requirement_with_the_gates_messages(rep, rep_client):
    opportunity = OpportunityFactory(owner=rep, account=None)
    response = rep_client.get(f"/opportunities/{opportunity.pk}/")
    checklist = response.context["checklist"]
    unmet_codes = {u["code"] for u in checklist["unmet"]}
    assert {
        Code.ACCOUNT_REQUIRED,
        Code.CONTRACT_OR_PO_REQUIRED,
        Code.AMOUNT_REQUIRED,
    } <= unmet_codes
    html = response.content.decode()
    for unmet in checklist["unmet"]:
        assert unmet["message"] in html
    # met items are listed too
    assert len(re.findall(r'<li class="(?:met|unmet)" data-codes=', html)) == len(
        checklist["items"]
    )
    assert 'data-met="true"' in html  # "not already booked" is met


def test_a_revops_requirement_appears_in_the_checklist(rep, rep_client):
    StageRequirement.objects.create(stage=Stage.PENDING_APPROVAL, field="term_months")
    opportunity = ready_opportunity(rep, term_months=None)
    html = rep_client.get(f"/opportunities/{opportunity.pk}/").content.decode()
    assert "Term (months) (required by RevOps)" in html
    assert "Term (months) is required from Closed-Won on (set by RevOps)." in html


def test_the_owner_sees_the_permitted_buttons_by_their_spec_labels(rep, rep_client):
    opportunity = ready_opportunity(rep, stage=Stage.NEGOTIATION)
    html = rep_client.get(f"/opportunities/{opportunity.pk}/").content.decode()
    assert buttons(html) == [
        "Request Closed-Won",
        "Move to Prospecting",
        "Move to Qualification",
        "Move to Proposal",
        "Mark lost",
    ]
    assert "Approve Closed-Won" not in html


def test_another_rep_sees_no_buttons(rep, rep2_client):
    opportunity = ready_opportunity(rep, stage=Stage.NEGOTIATION)
    html = rep2_client.get(f"/opportunities/{opportunity.pk}/").content.decode()
    assert buttons(html) == []
    assert "only its owner or RevOps can change it" in html
    assert "Edit deal" not in html


def test_request_closed_won_says_how_much_is_missing(rep, rep_client):
    opportunity = ready_opportunity(rep, stage=Stage.NEGOTIATION, contract_id="", po_number="")
    html = rep_client.get(f"/opportunities/{opportunity.pk}/").content.decode()
    assert "1 checklist item missing" in html


def test_a_pending_deal_offers_withdraw_and_mark_lost(rep, rep_client):
    opportunity = ready_opportunity(rep, stage=Stage.NEGOTIATION)
    services.opportunity_transition(opportunity=opportunity, name="submit_for_approval", actor=rep)
    html = rep_client.get(f"/opportunities/{opportunity.pk}/").content.decode()
    assert buttons(html) == ["Withdraw request", "Mark lost"]
    assert "Waiting for RevOps approval." in html


def test_a_lost_deal_offers_reopen(rep, rep_client):
    opportunity = OpportunityFactory(owner=rep, stage=Stage.CLOSED_LOST, loss_reason="timing")
    assert buttons(rep_client.get(f"/opportunities/{opportunity.pk}/").content.decode()) == [
        "Reopen"
    ]


def test_mark_lost_has_a_dialog_and_a_no_js_page(rep, rep_client):
    opportunity = ready_opportunity(rep, stage=Stage.PROPOSAL)
    html = rep_client.get(f"/opportunities/{opportunity.pk}/").content.decode()
    assert '<dialog id="lost-dialog"' in html
    assert f'href="/opportunities/{opportunity.pk}/transitions/mark_lost/"' in html  # the fallback
    page = rep_client.get(f"/opportunities/{opportunity.pk}/transitions/mark_lost/")
    assert page.status_code == 200
    assert 'name="loss_reason"' in page.content.decode() and "required" in page.content.decode()


def test_the_timeline_shows_stage_changes_and_field_changes(rep, rep_client):
    opportunity = ready_opportunity(rep, stage=Stage.PROPOSAL, amount=Decimal("1000"))
    services.opportunity_update(opportunity=opportunity, actor=rep, data={"po_number": "PO-77"})
    services.opportunity_transition(
        opportunity=opportunity, name="move_to_negotiation", actor=rep, source=Source.UI
    )
    services.opportunity_update(
        opportunity=opportunity,
        actor=rep,
        data={},
        line_items=[
            {"product": opportunity.line_items.get().product_id, "seats": 12, "unit_price": "100"}
        ],
    )
    response = rep_client.get(f"/opportunities/{opportunity.pk}/")
    timeline = response.context["timeline"]
    kinds = [entry.kind for entry in timeline]
    assert "stage" in kinds and "fields" in kinds and "lines" in kinds
    html = response.content.decode()
    assert "Proposal → Negotiation" in html and "via Web UI" in html
    assert "PO number" in html and "PO-77" in html
    assert "Removed" in html or "Added" in html


def test_the_timeline_costs_a_constant_number_of_queries(
    rep, rep_client, django_assert_max_num_queries
):
    opportunity = ready_opportunity(rep, stage=Stage.PROPOSAL)

    def change(i):
        contact = ContactFactory(account=opportunity.account)
        services.opportunity_update(
            opportunity=opportunity,
            actor=rep,
            data={"po_number": f"PO-{i}", "primary_contact": contact},
        )

    change(0)
    with django_assert_max_num_queries(40) as before:
        rep_client.get(f"/opportunities/{opportunity.pk}/")
    for i in range(1, 16):
        change(i)
    with django_assert_max_num_queries(len(before.captured_queries)):
        rep_client.get(f"/opportunities/{opportunity.pk}/")


def test_a_won_deal_shows_its_four_handoffs(rep, revops, rep_client):
    opportunity = ready_opportunity(rep, stage=Stage.NEGOTIATION)
    services.opportunity_transition(opportunity=opportunity, name="submit_for_approval", actor=rep)
    services.opportunity_transition(opportunity=opportunity, name="approve", actor=revops)

    response = rep_client.get(f"/opportunities/{opportunity.pk}/")
    html = response.content.decode()
    assert [h.kind for h in response.context["handoffs"]] == [
        "billing",
        "provisioning",
        "customer_success",
        "commission",
    ]
    for kind in ("billing", "provisioning", "customer_success", "commission"):
        assert f'data-handoff="{kind}"' in html
    assert "Won with every requirement met" in html
    assert buttons(html) == []


def test_an_unknown_deal_is_a_404(rep_client):
    assert rep_client.get("/opportunities/999999/").status_code == 404
    assert rep_client.get("/opportunities/999999/edit/").status_code == 404
