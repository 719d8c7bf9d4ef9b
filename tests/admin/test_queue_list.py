"""The Closed-Won approval queue's list: what a row shows, filters, search, query counts."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from opportunities import services
from opportunities.models import StageRequirement
from opportunities.stages import Source
from tests.admin.conftest import client_for, pending_opportunity
from tests.factories import AccountFactory, make_user

pytestmark = pytest.mark.django_db


def rows_of(response) -> list[str]:
    """The deal names of the queue's rows, in order."""
    return [a.opportunity.name for a in response.context["cl"].result_list]


def test_it_lists_waiting_deals_oldest_first_with_what_revops_needs(rep, rep2, revops, queue_url):
    acme = AccountFactory(name="Acme Corp")
    newer = pending_opportunity(
        rep, hours_ago=3.2, name="Acme renewal", account=acme, po_number="PO-77"
    )
    older = pending_opportunity(
        rep2,
        hours_ago=30,
        name="Globex platform",
        amount=Decimal("2000.00"),
        unit_price=Decimal("200.00"),
    )

    response = client_for(revops).get(queue_url)

    assert response.status_code == 200
    assert rows_of(response) == ["Globex platform", "Acme renewal"]
    html = response.content.decode()
    row = re.search(r"<tr>.*?Acme renewal.*?</tr>", html, re.S).group(0)
    assert "Acme Corp" in row
    assert "rep_alice" in row  # owner and submitter
    assert "$1,000" in row  # the same money format as the rep UI
    assert newer.opportunity.contract_id in row and "PO PO-77" in row
    assert "3 h 12 min" in row
    assert "Ready" in row
    assert "1 d 6 h" in html  # the older request's wait
    assert older.opportunity.name in html


def test_it_shows_how_many_requirements_a_deal_misses_now(rep, revops, queue_url):
    approval = pending_opportunity(rep, po_number="")
    # given RevOps made PO numbers and terms required after the rep submitted
    StageRequirement.objects.create(stage="pending_approval", field="po_number")

    response = client_for(revops).get(queue_url)

    [row] = response.context["cl"].result_list
    assert [u.code for u in row.gate_unmet] == ["stage_requirement"]
    assert "1 unmet requirement" in response.content.decode()
    assert approval.opportunity.name in response.content.decode()


def test_decided_requests_leave_the_queue_but_stay_findable(rep, revops, revops2, queue_url):
    decided = pending_opportunity(rep, name="Decided deal")
    pending_opportunity(rep, name="Still waiting")
    services.opportunity_transition(
        opportunity=decided.opportunity_id, name="approve", actor=revops2, source=Source.ADMIN
    )
    client = client_for(revops)

    assert rows_of(client.get(queue_url)) == ["Still waiting"]
    assert rows_of(client.get(queue_url, {"decision": "approved"})) == ["Decided deal"]
    assert sorted(rows_of(client.get(queue_url, {"decision": "all"}))) == [
        "Decided deal",
        "Still waiting",
    ]


def test_it_filters_by_owner_amount_band_and_waiting_time(rep, rep2, revops, queue_url):
    pending_opportunity(
        rep, name="Small fresh", hours_ago=1, seats=10, unit_price=Decimal("500.00")
    )
    pending_opportunity(rep2, name="Mid old", hours_ago=50, seats=10, unit_price=Decimal("3000.00"))
    pending_opportunity(
        rep2, name="Big ancient", hours_ago=100, seats=100, unit_price=Decimal("5000.00")
    )
    client = client_for(revops)

    assert rows_of(client.get(queue_url, {"owner": rep2.pk})) == ["Big ancient", "Mid old"]
    assert rows_of(client.get(queue_url, {"amount": "lt10k"})) == ["Small fresh"]
    assert rows_of(client.get(queue_url, {"amount": "10k-50k"})) == ["Mid old"]
    assert rows_of(client.get(queue_url, {"amount": "gte250k"})) == ["Big ancient"]
    assert rows_of(client.get(queue_url, {"waiting": "lt4h"})) == ["Small fresh"]
    assert rows_of(client.get(queue_url, {"waiting": "1d-3d"})) == ["Mid old"]
    assert rows_of(client.get(queue_url, {"waiting": "gt3d"})) == ["Big ancient"]
    assert rows_of(client.get(queue_url, {"waiting": "gt3d", "owner": rep.pk})) == []


@pytest.mark.parametrize(
    "term",
    ["initech", "Rollout", "ct-search-1", "po-search-9"],
    ids=["account", "deal", "contract_id", "po_number"],
)
def test_it_searches_deal_account_contract_id_and_po(rep, revops, queue_url, term):
    pending_opportunity(
        rep,
        name="Initech Rollout",
        account=AccountFactory(name="Initech"),
        contract_id="CT-SEARCH-1",
        po_number="PO-SEARCH-9",
    )
    pending_opportunity(rep, name="Other deal")

    response = client_for(revops).get(queue_url, {"q": term})

    assert rows_of(response) == ["Initech Rollout"]


def test_reps_cannot_open_the_queue(rep, queue_url):
    response = client_for(rep).get(queue_url)

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def _queries_for_queue(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


# The session's user, the user's permissions, the queue summary (which also gives the
# count of the whole queue and the choices of the Owner and "waiting for" filters), the
# page, the gate's three, and the pending amendments of won deals listed beside it.
QUEUE_QUERY_BUDGET = 8


def test_the_queue_costs_the_same_queries_for_5_or_50_deals(
    revops, queue_url, django_assert_max_num_queries
):
    owners = [make_user("rep") for _ in range(5)]
    for n in range(5):
        pending_opportunity(owners[n % 5], hours_ago=n, lines=2)
    # one with a claimed PO and a configured requirement, so every gate query runs
    StageRequirement.objects.create(stage="pending_approval", field="term_months")
    client = client_for(revops)
    client.get(queue_url)  # warm the session

    with django_assert_max_num_queries(QUEUE_QUERY_BUDGET):
        small = _queries_for_queue(client, queue_url)
    for n in range(45):
        pending_opportunity(owners[n % 5], hours_ago=10 + n, lines=2, po_number=f"PO-{n}")
    with django_assert_max_num_queries(QUEUE_QUERY_BUDGET):
        large = _queries_for_queue(client, queue_url)

    assert len(client.get(queue_url).context["cl"].result_list) == 50
    assert small == large


def test_the_whole_queue_is_counted_once_a_narrowed_one_by_its_own_count(
    rep, rep2, revops, queue_url
):
    for n in range(3):
        pending_opportunity(rep, hours_ago=n, name=f"Alpha {n}")
    pending_opportunity(rep2, hours_ago=5, name="Beta 1")
    client = client_for(revops)
    client.get(queue_url)

    def counts(url):
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(url)
        assert response.status_code == 200
        # Django names a queryset's count "__count".
        return response.context["cl"].result_count, sum(
            '"__count"' in q["sql"] for q in ctx.captured_queries
        )

    # The whole waiting queue: the summary's count, no COUNT of its own.
    assert counts(queue_url) == (4, 0)
    assert counts(queue_url + "?decision=pending&o=2&p=1") == (4, 0)
    # Anything that narrows the list counts what it shows.
    assert counts(queue_url + "?q=Alpha") == (3, 1)
    assert counts(queue_url + f"?owner={rep2.pk}") == (1, 1)
    assert counts(queue_url + "?decision=approved") == (0, 1)
    assert counts(queue_url + "?step=RevOps") == (4, 1)


def test_the_waiting_for_filter_lists_the_groups_with_a_step_waiting(rep, revops, queue_url):
    pending_opportunity(rep, name="Waiting for RevOps")

    response = client_for(revops).get(queue_url)

    spec = next(f for f in response.context["cl"].filter_specs if f.parameter_name == "step")
    assert spec.lookup_choices == [("RevOps", "RevOps")]


def test_pages_of_the_queue_follow_its_order_overdue_first_then_oldest(rep, revops, queue_url):
    """The page's rows are picked by id in the queue's order before anything is joined:
    two pages together are the whole queue, in order, with no row twice; a column sort
    and an overdue request move rows across pages as they would on one long page."""
    from django.utils import timezone

    approvals = [
        pending_opportunity(rep, hours_ago=60 - n, name=f"Deal {n:02d}") for n in range(55)
    ]
    # One of the newest requests is past its step's SLA: it leads the first page.
    late = approvals[-1]
    late.step_due_at = timezone.now() - timezone.timedelta(minutes=5)
    late.save(update_fields=["step_due_at"])
    for other in approvals[:-1]:
        other.step_due_at = timezone.now() + timezone.timedelta(days=2)
        other.save(update_fields=["step_due_at"])
    client = client_for(revops)

    first = client.get(queue_url)
    second = client.get(queue_url + "?p=2")

    assert first.context["cl"].result_count == 55
    expected = ["Deal 54"] + [f"Deal {n:02d}" for n in range(54)]
    assert rows_of(first) + rows_of(second) == expected
    assert len(rows_of(first)) == 50
    # Sorted by a column of the deal (the Deal column, descending): still whole and in order.
    by_name = client.get(queue_url + "?o=-1")
    by_name_2 = client.get(queue_url + "?o=-1&p=2")
    assert rows_of(by_name) + rows_of(by_name_2) == sorted(expected, reverse=True)


def test_the_summary_reads_waiting_deals_from_their_partial_index_on_postgresql():
    """The migration builds the index on PostgreSQL only (SQLite has no covering indexes);
    the queue summary's filter matches its condition, so the planner can use it."""
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT name FROM sqlite_master WHERE name = 'opp_pending_summary_idx'")
            assert cursor.fetchall() == []
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'opp_pending_summary_idx'"
        )
        (definition,) = cursor.fetchone()
    assert "INCLUDE (currency, owner_id, amount)" in definition
    assert "WHERE ((stage)::text = 'pending_approval'::text)" in definition


@pytest.mark.parametrize("value", ["abc", "1.0", "99999999999999999999", "%D9%A1", "-1"])
def test_an_owner_filter_that_is_not_a_user_id_is_the_admins_error_page_not_a_500(
    revops, queue_url, value
):
    response = client_for(revops).get(f"{queue_url}?owner={value}")

    assert response.status_code == 302
    assert response["Location"].endswith("?e=1")


def test_the_sla_cell_says_the_time_left_and_the_steps_business_hours(rep, revops, queue_url):
    pending_opportunity(rep, name="Fresh request")

    html = client_for(revops).get(queue_url).content.decode()

    row = re.search(r"<tr>(?:(?!</tr>).)*Fresh request.*?</tr>", html, re.S).group(0)
    cell = re.search(r'<td class="field-sla">(.*?)</td>', row, re.S).group(1)
    assert re.search(r"\d+ h( \d+ min)? left", cell), cell
    assert re.search(r"SLA \d+ business h", cell), cell
