"""The totals the database keeps (``opportunities.stage_totals``) always equal what
aggregating the deals and approvals says, whatever path wrote them — services, saves,
queryset updates, bulk inserts, deletes, rolled-back transactions, concurrent writers
during a compaction — and the pages that read them agree with the deals."""

from __future__ import annotations

import io
import threading
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection, connections, transaction
from django.db.models import Count, Sum
from django.test.utils import CaptureQueriesContext

from approvals.selectors import with_step_group
from opportunities import stage_totals
from opportunities.models import (
    Approval,
    Decision,
    Opportunity,
    Source,
    StageTotal,
    WaitingTotal,
)
from opportunities.selectors import pipeline
from opportunities.selectors.approvals import queue_summary
from opportunities.services import opportunity_transition
from opportunities.stages import Stage
from opportunities.tasks import compact_stage_totals
from tests.admin.conftest import submit
from tests.factories import make_user, publish_big_deal_and_discount_policy, ready_opportunity

pytestmark = pytest.mark.django_db


def live_stages() -> dict[tuple[str, str, int], tuple[int, Decimal | None]]:
    return {
        (r["stage"], r["currency"], r["owner_id"]): (r["n"], r["total"])
        for r in Opportunity.objects.order_by()
        .values("stage", "currency", "owner_id")
        .annotate(n=Count("id"), total=Sum("amount"))
    }


def kept_stages() -> dict[tuple[str, str, int], tuple[int, Decimal | None]]:
    out = {}
    for r in (
        StageTotal.objects.order_by()
        .values("stage", "currency", "owner_id")
        .annotate(n=Sum("count"), total=Sum("amount"), priced=Sum("priced"))
    ):
        if r["n"] or r["total"] or r["priced"]:
            out[(r["stage"], r["currency"], r["owner_id"])] = (
                r["n"],
                r["total"] if r["priced"] else None,
            )
    return out


def live_waiting() -> dict[str, int]:
    return {
        r["step_group"]: r["n"]
        for r in with_step_group(Approval.objects.filter(decision=Decision.PENDING))
        .order_by()
        .values("step_group")
        .annotate(n=Count("id"))
    }


def kept_waiting() -> dict[str, int]:
    return {
        r["step_group"]: r["n"]
        for r in WaitingTotal.objects.order_by().values("step_group").annotate(n=Sum("count"))
        if r["n"]
    }


def assert_kept():
    assert kept_stages() == live_stages()
    assert kept_waiting() == live_waiting()


def test_every_write_path_keeps_the_totals(rep, rep2, revops):
    a = ready_opportunity(rep, stage=Stage.PROPOSAL, amount=Decimal("1000.50"))
    b = ready_opportunity(rep, stage=Stage.NEGOTIATION, currency="EUR")
    c = ready_opportunity(rep2, stage=Stage.PROSPECTING, amount=None, unit_price=None)
    c.amount = None
    c.save()
    assert_kept()
    assert kept_stages()[(Stage.PROSPECTING, "USD", rep2.pk)] == (1, None)

    # a save that changes the amount; one that changes nothing the totals hold
    a.amount = Decimal("2500.25")
    a.save()
    a.name = "Renamed"
    rows_before = StageTotal.objects.count()
    a.save()
    assert StageTotal.objects.count() == rows_before, "an unrelated change appends nothing"
    # queryset updates: owner, currency, amount to none, several rows at once
    Opportunity.objects.filter(pk=a.pk).update(owner=rep2)
    Opportunity.objects.filter(pk=b.pk).update(currency="GBP", amount=Decimal("7"))
    Opportunity.objects.filter(pk__in=[a.pk, c.pk]).update(amount=None)
    assert_kept()
    # bulk insert in one statement, then a delete of several
    Opportunity.objects.bulk_create(
        [
            Opportunity(name=f"Bulk {i}", owner=rep, amount=Decimal(i), currency="JPY")
            for i in range(1, 6)
        ]
    )
    assert_kept()
    Opportunity.objects.filter(name__startswith="Bulk", amount__lt=3).delete()
    assert_kept()

    # the transition service: submit, approve (won), and a lost deal
    d = ready_opportunity(rep, stage=Stage.NEGOTIATION)
    submit(d)
    assert_kept()
    assert live_waiting() == {"RevOps": 1}
    opportunity_transition(opportunity=d, name="approve", actor=revops, source=Source.UI)
    opportunity_transition(
        opportunity=b, name="mark_lost", actor=rep, loss_reason="price", source=Source.UI
    )
    assert_kept()
    assert live_waiting() == {}


def test_a_request_moving_to_the_next_group_moves_its_count(rep, revops):
    publish_big_deal_and_discount_policy()
    deal = ready_opportunity(rep, stage=Stage.NEGOTIATION, seats=1500)
    submit(deal)
    assert kept_waiting() == {"RevOps": 1}
    opportunity_transition(opportunity=deal, name="approve", actor=revops, source=Source.UI)
    assert Approval.objects.get(opportunity=deal).decision == Decision.PENDING
    assert kept_waiting() == {"Finance": 1} == live_waiting()
    assert_kept()
    Approval.objects.filter(opportunity=deal).delete()
    assert kept_waiting() == {} == live_waiting()


def test_a_rolled_back_write_leaves_no_trace(rep):
    deal = ready_opportunity(rep, stage=Stage.PROPOSAL)
    rows = StageTotal.objects.count()
    with pytest.raises(RuntimeError), transaction.atomic():
        Opportunity.objects.filter(pk=deal.pk).update(stage=Stage.NEGOTIATION, amount=1)
        raise RuntimeError
    assert StageTotal.objects.count() == rows
    assert_kept()


def test_compaction_folds_each_key_to_one_row_and_drops_empty_keys(rep, rep2):
    deal = ready_opportunity(rep, stage=Stage.PROSPECTING)
    for stage in (Stage.QUALIFICATION, Stage.PROPOSAL, Stage.NEGOTIATION):
        Opportunity.objects.filter(pk=deal.pk).update(stage=stage)
    ready_opportunity(rep2, stage=Stage.PROPOSAL)
    before = StageTotal.objects.count()
    assert before == 1 + 6 + 1

    removed = compact_stage_totals.run()

    # prospecting, qualification and proposal of rep hold nothing now: gone
    assert StageTotal.objects.count() == 2 == before - removed
    assert_kept()
    assert compact_stage_totals.run() == 0


def test_a_missing_trigger_is_put_back_and_the_totals_recomputed(rep):
    ready_opportunity(rep, stage=Stage.PROPOSAL)
    assert stage_totals.install(connection) is False, "nothing to do when all are there"
    with connection.cursor() as cursor:
        cursor.execute(
            "DROP TRIGGER opportunities_stagetotal_update ON opportunities_opportunity"
            if connection.vendor == "postgresql"
            else "DROP TRIGGER opportunities_stagetotal_update"
        )
    Opportunity.objects.update(stage=Stage.NEGOTIATION)
    assert kept_stages() != live_stages()

    assert stage_totals.install(connection) is True
    assert_kept()
    Opportunity.objects.update(stage=Stage.PROPOSAL)
    assert_kept()


def test_truncate_and_rebuild_totals_put_the_totals_right(rep):
    ready_opportunity(rep, stage=Stage.PROPOSAL)
    submit(ready_opportunity(rep))
    # what a loaddata of a dump that held the totals does: every figure counted twice
    StageTotal.objects.bulk_create(
        [StageTotal(stage=Stage.PROPOSAL, currency="USD", owner=rep, count=1, amount=1, priced=1)]
    )
    assert kept_stages() != live_stages()
    out = io.StringIO()
    call_command("rebuild_totals", stdout=out)
    assert "recomputed" in out.getvalue()
    assert_kept()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # (the test's transaction still holds deferred foreign-key checks)
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("TRUNCATE opportunities_opportunity CASCADE")
        assert Opportunity.objects.count() == 0
        assert kept_stages() == {} and kept_waiting() == {}
        assert not StageTotal.objects.exists() and not WaitingTotal.objects.exists()


# An older version of the update trigger, say: it records nothing.
OLD_TRIGGER_SQL = {
    "postgresql": [
        "CREATE OR REPLACE FUNCTION opportunities_stagetotal_update() RETURNS trigger"
        " LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$"
    ],
    "sqlite": [
        "DROP TRIGGER opportunities_stagetotal_update",
        "CREATE TRIGGER opportunities_stagetotal_update AFTER UPDATE ON"
        " opportunities_opportunity BEGIN SELECT 1; END",
    ],
}


def test_replace_puts_changed_trigger_sql_in_place(rep):
    deal = ready_opportunity(rep, stage=Stage.PROPOSAL)
    with connection.cursor() as cursor:
        for statement in OLD_TRIGGER_SQL[connection.vendor]:
            cursor.execute(statement)
    stage_totals.install(connection)  # every trigger is there: nothing replaced
    Opportunity.objects.filter(pk=deal.pk).update(stage=Stage.NEGOTIATION)
    assert kept_stages() != live_stages()

    stage_totals.install(connection, replace=True, rebuild=True)
    assert_kept()
    Opportunity.objects.filter(pk=deal.pk).update(stage=Stage.PROPOSAL)
    assert_kept()


def test_loaddata_of_a_dump_with_the_totals_counts_nothing_twice(
    rep, tmp_path, django_capture_on_commit_callbacks
):
    ready_opportunity(rep, stage=Stage.PROPOSAL)
    submit(ready_opportunity(rep))
    dump = tmp_path / "totals.json"
    call_command(
        "dumpdata", "opportunities.StageTotal", "opportunities.WaitingTotal", output=str(dump)
    )
    assert '"count": 1' in dump.read_text()
    # rows that share no id with the live ones: they would add to them
    StageTotal.objects.all().delete()
    WaitingTotal.objects.all().delete()
    stage_totals.install(connection, rebuild=True)
    assert_kept()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        call_command("loaddata", str(dump), verbosity=0)

    assert len(callbacks) == 1, "one recomputation per load, not one per row"
    assert_kept()


def test_a_compaction_with_nothing_to_fold_rewrites_nothing(rep):
    ready_opportunity(rep, stage=Stage.PROPOSAL)
    ready_opportunity(rep, stage=Stage.NEGOTIATION)
    stage_totals.compact()
    ids = set(StageTotal.objects.values_list("id", flat=True))
    assert stage_totals.compact() == 0
    assert set(StageTotal.objects.values_list("id", flat=True)) == ids


def test_board_dashboard_and_deal_list_read_the_kept_totals(rep, rep2, client):
    client.force_login(rep)
    for i in range(3):
        ready_opportunity(rep, stage=Stage.PROPOSAL, name=f"Acme {i}")
    ready_opportunity(rep2, stage=Stage.PROPOSAL, name="Globex")
    ready_opportunity(rep2, stage=Stage.CLOSED_LOST, name="Lost one")

    totals = pipeline.stage_totals(pipeline.PipelineFilter())
    assert totals[Stage.PROPOSAL].count == 4
    assert totals[Stage.PROPOSAL].by_currency == {"USD": Decimal("4000.00")}
    assert (
        pipeline.stage_totals(pipeline.PipelineFilter(owner_id=rep2.pk))[Stage.PROPOSAL].count == 1
    )
    only = pipeline.stage_totals(pipeline.PipelineFilter(stage=Stage.NEGOTIATION))
    assert only[Stage.PROPOSAL].count == 0
    # a search aggregates the deals it matches
    assert pipeline.stage_totals(pipeline.PipelineFilter(search="acme"))[Stage.PROPOSAL].count == 3

    assert pipeline.opportunity_count(pipeline.PipelineFilter()) == 5
    assert pipeline.opportunity_count(pipeline.PipelineFilter(owner_id=rep2.pk)) == 2
    assert pipeline.opportunity_count(pipeline.PipelineFilter(stage=Stage.CLOSED_LOST)) == 1
    assert pipeline.opportunity_count(pipeline.PipelineFilter(search="acme")) is None

    with CaptureQueriesContext(connection) as ctx:
        html = client.get("/opportunities/?scope=all").content.decode()
    assert "5 deals" in html
    assert not [
        q
        for q in ctx.captured_queries
        if "opportunities_opportunity" in q["sql"] and "COUNT(" in q["sql"]
    ], "the deal list counts from the kept totals"
    html = client.get("/opportunities/?scope=all&q=acme").content.decode()
    assert html.count("Acme") >= 3 and "Globex" not in html


def test_the_queue_summary_for_revops_reads_the_kept_totals(rep, rep2, revops, rf):
    publish_big_deal_and_discount_policy()
    submit(ready_opportunity(rep, seats=5), hours_ago=5)
    submit(ready_opportunity(rep2, seats=7, currency="EUR"), hours_ago=1)
    big = ready_opportunity(rep2, seats=1500)
    submit(big, hours_ago=2)
    opportunity_transition(opportunity=big, name="approve", actor=revops, source=Source.UI)

    request = rf.get("/")
    request.user = revops
    with CaptureQueriesContext(connection) as ctx:
        summary = queue_summary(request)
    assert len(ctx.captured_queries) == 1
    assert "opportunities_stagetotal" in ctx.captured_queries[0]["sql"]
    assert summary["count"] == 3
    assert summary["totals"] == [
        {"currency": "USD", "amount": Decimal("150500.00")},
        {"currency": "EUR", "amount": Decimal("700.00")},
    ]
    assert summary["groups"] == ["RevOps", "Finance"]
    assert {pk for pk, _ in summary["owners"]} == {str(rep.pk), str(rep2.pk)}
    assert summary["oldest_wait"].startswith("5 h")

    # A deal pending approval with no request waiting (as an import of old data may leave
    # one) is not a row of the queue, so the queue does not count it.
    ready_opportunity(rep, stage=Stage.PENDING_APPROVAL)
    request = rf.get("/")
    request.user = revops
    assert queue_summary(request)["count"] == 3


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_and_compactions_lose_nothing():
    # Concurrent writers: PostgreSQL, as the suite runs (SQLite takes one writer at a time).
    reps = [make_user("rep", f"rep_{i}") for i in range(3)]
    deals = [ready_opportunity(reps[i % 3], stage=Stage.PROSPECTING) for i in range(12)]
    stages = [Stage.QUALIFICATION, Stage.PROPOSAL, Stage.NEGOTIATION, Stage.PROSPECTING]
    errors: list[BaseException] = []
    done = threading.Event()

    def writer(offset: int) -> None:
        try:
            for n in range(40):
                deal = deals[(offset + n) % len(deals)]
                with transaction.atomic():
                    Opportunity.objects.filter(pk=deal.pk).update(
                        stage=stages[(offset + n) % 4],
                        owner=reps[n % 3],
                        amount=Decimal(100 + n),
                    )
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    def compactor() -> None:
        try:
            while not done.is_set():
                stage_totals.compact()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(3)]
    folding = threading.Thread(target=compactor)
    folding.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done.set()
    folding.join()
    assert not errors, errors
    assert_kept()
    stage_totals.compact()
    assert_kept()
    assert StageTotal.objects.count() <= len(live_stages())


SQLITE_SCRIPT = r"""
from decimal import Decimal
from django.core.management import call_command
call_command("migrate", verbosity=0)
from django.db import connection
from opportunities import stage_totals
from opportunities.models import Opportunity, Source
from opportunities.selectors.approvals import queue_summary
from opportunities.services import opportunity_transition
from opportunities.stages import Stage
from tests.admin.conftest import submit
from tests.factories import make_user, publish_big_deal_and_discount_policy, ready_opportunity
from tests.opportunities.test_stage_totals import assert_kept, kept_stages, kept_waiting, live_stages

rep, revops = make_user("rep", "sqlite_rep"), make_user("revops", "sqlite_rita")
publish_big_deal_and_discount_policy()
a = ready_opportunity(rep, stage=Stage.PROPOSAL)
b = ready_opportunity(rep, stage=Stage.NEGOTIATION, currency="EUR", seats=1500)
Opportunity.objects.filter(pk=a.pk).update(amount=None, stage=Stage.QUALIFICATION)
Opportunity.objects.bulk_create([Opportunity(name=f"B{i}", owner=rep, amount=i) for i in range(3)])
Opportunity.objects.filter(name="B1").delete()
submit(b)
opportunity_transition(opportunity=b, name="approve", actor=revops, source=Source.UI)
assert_kept()
assert kept_waiting() == {"Finance": 1}, kept_waiting()
summary = queue_summary()
assert summary["count"] == 1 and summary["groups"] == ["Finance"], summary
assert summary["totals"] == [{"currency": "EUR", "amount": Decimal("150000.00")}], summary
print("kept")
removed = stage_totals.compact()
assert removed > 0 and stage_totals.compact() == 0
assert_kept()
print("compacted")
with connection.cursor() as cursor:
    cursor.execute("DROP TRIGGER opportunities_stagetotal_insert")
ready_opportunity(rep, stage=Stage.PROPOSAL)
assert kept_stages() != live_stages()  # the insert went uncounted
call_command("migrate", verbosity=0)
assert_kept()
print("reinstalled")
# flush empties table by table: the totals are recomputed afterwards
call_command("flush", interactive=False, verbosity=0)
assert not Opportunity.objects.exists()
assert_kept()
assert not stage_totals.rows()
print("flushed")
# a dump's totals loaded back after the live rows moved to new ids
import tempfile
dump = tempfile.mkdtemp() + "/totals.json"
ready_opportunity(make_user("rep", "sqlite_rep2"), stage=Stage.PROPOSAL)
call_command("dumpdata", "opportunities.StageTotal", output=dump)
stage_totals.install(connection, rebuild=True)
call_command("loaddata", dump, verbosity=0)
assert_kept()
print("loaded")
from tests.opportunities.test_stage_totals import OLD_TRIGGER_SQL
with connection.cursor() as cursor:
    for statement in OLD_TRIGGER_SQL["sqlite"]:
        cursor.execute(statement)
Opportunity.objects.update(stage=Stage.NEGOTIATION)
assert kept_stages() != live_stages()
stage_totals.install(connection, replace=True, rebuild=True)
Opportunity.objects.update(stage=Stage.QUALIFICATION)
assert_kept()
print("replaced")
"""


def test_the_totals_on_sqlite(tmp_path):
    from tests.project.sqlite import run_on_sqlite

    stdout = run_on_sqlite(SQLITE_SCRIPT, tmp_path)
    assert stdout.split() == [
        "kept",
        "compacted",
        "reinstalled",
        "flushed",
        "loaded",
        "replaced",
    ], stdout
