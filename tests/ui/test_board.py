"""The pipeline board: columns, totals, filters, moves (buttons and drag and drop)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from opportunities.models import Opportunity, StageChange
from opportunities.selectors.pipeline import BOARD_CARD_LIMIT, PipelineFilter, board
from opportunities.stages import OPEN_STAGES, Source, Stage
from tests.factories import AccountFactory, OpportunityFactory, ready_opportunity

pytestmark = pytest.mark.django_db


def column(response, stage):
    return next(c for c in response.context["columns"] if c.stage == stage)


def stage_of(opportunity):
    return Opportunity.objects.values_list("stage", flat=True).get(pk=opportunity.pk)


# --- columns and totals ------------------------------------------------------------------------


def test_it_shows_a_column_per_open_stage_plus_pending_approval(rep_client):
    response = rep_client.get("/pipeline/")
    assert response.status_code == 200
    stages = [c.stage for c in response.context["columns"]]
    assert stages == [*OPEN_STAGES, Stage.PENDING_APPROVAL]
    html = response.content.decode()
    assert "Closed-Won — pending approval" in html


def test_each_column_counts_sums_and_weights_its_deals(rep, rep_client):
    OpportunityFactory(owner=rep, amount=Decimal("1000"))  # prospecting, 10 %
    OpportunityFactory(owner=rep, amount=Decimal("3000"))
    ready_opportunity(rep, stage=Stage.NEGOTIATION, amount=Decimal("2000"), seats=2)  # 75 %
    ready_opportunity(
        rep, stage=Stage.PENDING_APPROVAL, amount=Decimal("500"), seats=5, unit_price=Decimal("100")
    )
    OpportunityFactory(owner=rep, amount=None)  # counted, adds nothing

    response = rep_client.get("/pipeline/")

    prospecting = column(response, Stage.PROSPECTING).totals
    assert (prospecting.count, prospecting.amount, prospecting.weighted) == (
        3,
        Decimal("4000"),
        Decimal("400.00"),
    )
    negotiation = column(response, Stage.NEGOTIATION).totals
    assert (negotiation.count, negotiation.amount, negotiation.weighted) == (
        1,
        Decimal("2000"),
        Decimal("1500.00"),
    )
    pending = column(response, Stage.PENDING_APPROVAL).totals
    assert (pending.count, pending.weighted) == (1, Decimal("450.00"))
    html = response.content.decode()
    assert "$4K" in html and "$1.5K" in html  # the totals are on the page


def test_a_card_shows_deal_account_amount_close_date_and_owner(rep, rep_client):
    opportunity = ready_opportunity(
        rep, stage=Stage.PROPOSAL, name="Globex rollout", account=AccountFactory(name="Globex")
    )
    html = rep_client.get("/pipeline/").content.decode()
    card = html[html.index(f'id="opportunity-{opportunity.pk}"') :]
    card = card[: card.index("</article>")]
    assert "Globex rollout" in card and "Globex" in card
    assert "$1,000" in card
    assert opportunity.close_date.strftime("%b %-d, %Y") in card
    assert rep.username in card or rep.get_full_name() in card


def test_closed_deals_are_not_on_the_board(rep, rep_client):
    won = ready_opportunity(rep, stage=Stage.CLOSED_WON)
    lost = OpportunityFactory(owner=rep, stage=Stage.CLOSED_LOST)
    html = rep_client.get("/pipeline/").content.decode()
    assert f'id="opportunity-{won.pk}"' not in html and f'id="opportunity-{lost.pk}"' not in html


# --- filters ----------------------------------------------------------------------------------


def test_a_rep_starts_on_their_own_deals_and_can_see_everyone(rep, rep2, rep_client):
    mine = OpportunityFactory(owner=rep, name="Mine")
    theirs = OpportunityFactory(owner=rep2, name="Theirs")

    html = rep_client.get("/pipeline/").content.decode()
    assert f'id="opportunity-{mine.pk}"' in html and f'id="opportunity-{theirs.pk}"' not in html

    html = rep_client.get("/pipeline/?scope=all").content.decode()
    assert f'id="opportunity-{mine.pk}"' in html and f'id="opportunity-{theirs.pk}"' in html


def test_revops_start_on_everyone(rep, revops_client):
    opportunity = OpportunityFactory(owner=rep)
    assert f'id="opportunity-{opportunity.pk}"' in revops_client.get("/pipeline/").content.decode()


def test_it_filters_by_owner_and_by_search(rep, rep2, rep_client):
    a = OpportunityFactory(
        owner=rep2, name="Initech renewal", account=AccountFactory(name="Initech")
    )
    b = OpportunityFactory(owner=rep2, name="Hooli pilot", account=AccountFactory(name="Hooli"))
    c = OpportunityFactory(owner=rep, name="Acme platform")

    html = rep_client.get(f"/pipeline/?owner={rep2.pk}").content.decode()
    assert f'id="opportunity-{a.pk}"' in html and f'id="opportunity-{b.pk}"' in html
    assert f'id="opportunity-{c.pk}"' not in html

    html = rep_client.get("/pipeline/?scope=all&q=initech").content.decode()
    assert f'id="opportunity-{a.pk}"' in html
    assert f'id="opportunity-{b.pk}"' not in html and f'id="opportunity-{c.pk}"' not in html


def test_a_column_shows_at_most_the_cap_and_links_to_the_rest(rep):
    Opportunity.objects.bulk_create(
        [
            Opportunity(name=f"Bulk {i}", owner=rep, currency="USD")
            for i in range(BOARD_CARD_LIMIT + 3)
        ]
    )
    columns = board(PipelineFilter(owner_id=rep.pk))
    prospecting = columns[0]
    assert len(prospecting.cards) == BOARD_CARD_LIMIT
    assert prospecting.totals.count == BOARD_CARD_LIMIT + 3
    assert prospecting.more == 3


def test_the_more_link_opens_the_filtered_list(rep, rep_client):
    Opportunity.objects.bulk_create(
        [
            Opportunity(name=f"Bulk {i}", owner=rep, currency="USD")
            for i in range(BOARD_CARD_LIMIT + 1)
        ]
    )
    html = rep_client.get("/pipeline/?q=Bulk").content.decode()
    assert "+ 1 more in Prospecting" in html
    assert "/opportunities/?scope=mine&amp;q=Bulk&amp;stage=prospecting" in html


# --- moves --------------------------------------------------------------------------------------


def test_a_move_button_runs_the_transition_service_with_source_ui(rep, rep_client):
    opportunity = ready_opportunity(rep, stage=Stage.PROSPECTING)
    response = rep_client.post(
        f"/opportunities/{opportunity.pk}/transitions/move_to_proposal/",
        {"next": "/pipeline/?scope=mine"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == "/pipeline/?scope=mine"
    assert stage_of(opportunity) == Stage.PROPOSAL
    change = StageChange.objects.get(opportunity=opportunity)
    assert (change.transition, change.source, change.actor) == ("move_to_proposal", Source.UI, rep)
    assert "moved to Proposal" in response.content.decode()


def test_a_refused_move_shows_every_gate_message_and_changes_nothing(rep, rep_client):
    opportunity = OpportunityFactory(owner=rep, account=None)  # no account, amount or close date
    response = rep_client.post(
        f"/opportunities/{opportunity.pk}/transitions/move_to_proposal/",
        {"next": "/pipeline/"},
        follow=True,
    )
    html = response.content.decode()
    assert stage_of(opportunity) == Stage.PROSPECTING
    assert not StageChange.objects.filter(opportunity=opportunity).exists()
    assert 'role="alert"' in html
    assert "Move to Proposal refused" in html
    for message in (
        "Choose the account this deal is with.",
        "Enter the deal amount (total contract value).",
        "Set the close date.",
    ):
        assert message in html


def test_another_rep_cannot_move_your_deal(rep, rep2_client):
    opportunity = ready_opportunity(rep, stage=Stage.PROSPECTING)
    response = rep2_client.post(
        f"/opportunities/{opportunity.pk}/transitions/move_to_negotiation/",
        {"next": "/pipeline/"},
        follow=True,
    )
    assert stage_of(opportunity) == Stage.PROSPECTING
    assert not StageChange.objects.filter(opportunity=opportunity).exists()
    assert "Only the deal&#x27;s owner or RevOps can do this." in response.content.decode()


def test_another_reps_cards_have_no_move_menu(rep, rep2, rep_client):
    mine = OpportunityFactory(owner=rep)
    theirs = OpportunityFactory(owner=rep2)
    html = rep_client.get("/pipeline/?scope=all").content.decode()
    assert f"/opportunities/{mine.pk}/transitions/move_to_qualification/" in html
    assert f"/opportunities/{theirs.pk}/transitions/" not in html


def test_a_drag_and_drop_move_comes_back_as_the_board(rep, rep_client):
    """The drop handler posts with htmx and swaps #main from the board it is redirected to."""
    opportunity = ready_opportunity(rep, stage=Stage.QUALIFICATION)
    response = rep_client.post(
        f"/opportunities/{opportunity.pk}/transitions/move_to_negotiation/",
        {"next": "/pipeline/"},
        headers={"HX-Request": "true"},
        follow=True,
    )
    assert stage_of(opportunity) == Stage.NEGOTIATION
    assert 'id="main"' in response.content.decode()
    assert column(response, Stage.NEGOTIATION).cards[0].pk == opportunity.pk


def test_dropping_a_card_on_pending_requests_closed_won_through_the_gate(rep, rep_client):
    opportunity = ready_opportunity(rep, stage=Stage.NEGOTIATION, contract_id="")
    response = rep_client.post(
        f"/opportunities/{opportunity.pk}/transitions/submit_for_approval/",
        {"next": "/pipeline/"},
        follow=True,
    )
    assert stage_of(opportunity) == Stage.NEGOTIATION
    assert "Add a contract ID or a PO number." in response.content.decode()


def test_next_cannot_redirect_off_site(rep, rep_client):
    opportunity = ready_opportunity(rep, stage=Stage.PROSPECTING)
    response = rep_client.post(
        f"/opportunities/{opportunity.pk}/transitions/move_to_qualification/",
        {"next": "https://evil.example/"},
    )
    assert response["Location"] == f"/opportunities/{opportunity.pk}/"


# --- query count ----------------------------------------------------------------------------------


def _board_queries(client) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get("/pipeline/?scope=all").status_code == 200
    return len(ctx.captured_queries)


def _seed(owner, n):
    account = AccountFactory()
    stages = [*OPEN_STAGES, Stage.PENDING_APPROVAL]
    Opportunity.objects.bulk_create(
        [
            Opportunity(
                name=f"Seeded {i}",
                owner=owner,
                account=account,
                amount=Decimal(1000 + i),
                currency="USD",
                stage=stages[i % len(stages)],
            )
            for i in range(n)
        ]
    )


def test_the_board_costs_the_same_queries_for_10_and_60_deals(
    rep, rep2, rep_client, django_assert_max_num_queries
):
    _seed(rep, 5)
    _seed(rep2, 5)
    at_10 = _board_queries(rep_client)
    _seed(rep, 25)
    _seed(rep2, 25)
    at_60 = _board_queries(rep_client)
    assert at_10 == at_60
    with django_assert_max_num_queries(8):
        rep_client.get("/pipeline/?scope=all")


def test_an_empty_board_points_to_creating_a_deal(rep_client):
    html = rep_client.get("/pipeline/").content.decode()
    assert "You have no open deals." in html and 'href="/opportunities/new/"' in html


@pytest.mark.parametrize("owner", ["abc", "-1", "9" * 30, "1e3", ""])
def test_a_malformed_owner_filter_is_ignored(rep_client, owner):
    assert rep_client.get(f"/pipeline/?owner={owner}").status_code == 200
    assert rep_client.get(f"/opportunities/?owner={owner}&page=x&sort=%00&q=%00").status_code == 200
    assert rep_client.get("/pipeline/?q=a%00b").status_code == 200
