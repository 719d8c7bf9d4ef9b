"""Batched imports and the import/export commands: same outcomes and codes as row by row,
constant queries per batch, an export that imports back as new deals."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from events.models import Event
from opportunities.models import LineItem, Opportunity
from opportunities.services import imports
from tests.factories import AccountFactory, ContactFactory, ProductFactory, ready_opportunity

pytestmark = pytest.mark.django_db

HEADER = (
    "name,account_external_id,owner,amount,currency,close_date,primary_contact_email,line_items"
)


def new_rows(count: int, owner: str, *, start: int = 0) -> list[dict[str, str]]:
    text = (
        HEADER
        + "\n"
        + "".join(
            f"Deal {n},crm-1,{owner},1200.00,USD,2030-01-31,pat@acme.example,"
            f"CW-CORE x {n % 7 + 1} @ 100.00; CW-SSO x 2\n"
            for n in range(start, start + count)
        )
    )
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture
def catalog():
    account = AccountFactory(external_id="crm-1")
    ContactFactory(account=account, email="pat@acme.example")
    ProductFactory(sku="CW-CORE")
    ProductFactory(sku="CW-SSO")
    return account


def test_a_batch_creates_deals_with_line_items_history_and_events(rep, revops, catalog):
    report = imports.import_rows(
        kind="opportunities", actor=revops, rows=new_rows(30, rep.username), batch_size=10
    )

    assert (report.rows, report.new, report.failures) == (30, 30, 0)
    opportunity = Opportunity.objects.get(name="Deal 3")
    assert (opportunity.stage, opportunity.owner, opportunity.account, opportunity.version) == (
        "prospecting",
        rep,
        catalog,
        1,
    )
    assert opportunity.primary_contact.email == "pat@acme.example"
    assert [(li.product.sku, li.seats, li.unit_price) for li in opportunity.line_items.all()] == [
        ("CW-CORE", 4, Decimal("100.0000")),
        ("CW-SSO", 2, None),
    ]
    history = opportunity.history.get()
    assert (history.history_type, history.history_user, history.history_change_reason) == (
        "+",
        revops,
        "admin",
    )
    assert LineItem.history.filter(opportunity_id=opportunity.pk).count() == 2
    event = Event.objects.get(type="opportunity.created", object_id=opportunity.pk)
    assert event.actor == revops and len(event.data["line_items"]) == 2
    assert Opportunity.objects.filter(contract_key="").count() == 30


def test_bad_rows_are_reported_with_their_number_and_code_and_lose_nothing_else(
    rep, revops, catalog
):
    rows = new_rows(6, rep.username)
    rows[1]["owner"] = "nobody"
    rows[2]["line_items"] = "CW-NOPE x 1"
    rows[3]["amount"] = "lots"
    rows[4]["line_items"] = "CW-CORE x 0"
    seen = []

    report = imports.import_rows(
        kind="opportunities", actor=revops, rows=rows, on_row=seen.append, keep_failed=10
    )

    assert (report.new, report.failures) == (2, 4)
    failed = {o.number: [(e["code"], e["field"]) for e in o.errors] for o in report.failed}
    assert failed == {
        2: [("does_not_exist", "owner")],
        3: [("does_not_exist", "line_items")],
        4: [("invalid", "amount")],
        5: [("min_value", "line_items[0].seats")],
    }
    assert [o.number for o in seen] == [1, 2, 3, 4, 5, 6]
    assert set(Opportunity.objects.values_list("name", flat=True)) == {"Deal 0", "Deal 5"}


def test_batched_and_row_by_row_give_the_same_codes(rep, revops, catalog):
    rows = new_rows(3, rep.username)
    rows[0]["currency"] = "JPY"  # 100.50 has minor units JPY does not have
    rows[0]["line_items"] = "CW-CORE x 1 @ 100.50"
    rows[1]["owner"] = revops.username
    rows[2]["type"] = "bogus"
    batched = imports.opportunity_import_batch(actor=rep, rows=list(enumerate(rows, 1)))
    single = [
        imports.opportunity_import_row(actor=rep, row=r, number=n) for n, r in enumerate(rows, 1)
    ]
    assert [o.errors for o in batched] == [o.errors for o in single]
    assert all(o.action == "error" for o in batched)


def test_a_rep_importing_deals_for_someone_else_is_refused(rep, rep2, catalog):
    rows = new_rows(2, rep2.username)
    report = imports.import_rows(kind="opportunities", actor=rep, rows=rows)
    assert report.failures == 2
    assert report.failed[0].errors[0]["code"] == "permission_denied"
    assert not Opportunity.objects.exists()


def test_queries_per_batch_stay_flat_as_the_file_grows(rep, revops, catalog):
    def queries(count: int, start: int) -> int:
        with CaptureQueriesContext(connection) as ctx:
            imports.import_rows(
                kind="opportunities",
                actor=revops,
                rows=new_rows(count, rep.username, start=start),
                batch_size=1000,
            )
        return len(ctx.captured_queries)

    queries(1, 1000)  # the actor's permissions are read once, then cached on the user
    small, large = queries(10, 0), queries(200, 100)
    assert small == large, (small, large)
    assert large <= 20


def test_rows_with_an_id_or_a_stage_still_go_through_the_services(rep, revops, catalog):
    opportunity = ready_opportunity(owner=rep)
    rows = [
        {"id": str(opportunity.pk), "name": "Renamed"},
        {**new_rows(1, rep.username)[0], "stage": "qualification"},
        new_rows(1, rep.username, start=9)[0],
    ]
    outcomes = imports.opportunity_import_batch(actor=revops, rows=list(enumerate(rows, 1)))
    assert [o.action for o in outcomes] == ["update", "new", "new"]
    assert outcomes[1].transitions == ["move_to_qualification"]
    assert Opportunity.objects.get(pk=opportunity.pk).name == "Renamed"


# --- the commands -------------------------------------------------------------------------


def test_export_then_import_round_trip_creates_the_same_deals(rep, revops, catalog, tmp_path):
    imports.import_rows(kind="opportunities", actor=revops, rows=new_rows(5, rep.username))
    out = tmp_path / "deals.csv"
    call_command("export_opportunities", "-o", str(out), stdout=io.StringIO(), stderr=io.StringIO())
    exported = list(csv.DictReader(out.open(encoding="utf-8")))
    assert len(exported) == 5 and exported[0]["line_items"]
    for row in exported:
        row["id"] = row["stage"] = row["contract_id"] = row["po_number"] = ""
    again = tmp_path / "again.csv"
    with again.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(exported[0]))
        writer.writeheader()
        writer.writerows(exported)

    stdout = io.StringIO()
    call_command(
        "import_opportunities",
        str(again),
        "--user",
        revops.username,
        stdout=stdout,
        stderr=io.StringIO(),
    )

    assert "5 new" in stdout.getvalue()

    def shape(opportunity):
        return (
            opportunity.owner_id,
            opportunity.account_id,
            opportunity.amount,
            opportunity.primary_contact_id,
            tuple((li.product_id, li.seats, li.unit_price) for li in opportunity.line_items.all()),
        )

    opportunities = {}
    for opportunity in Opportunity.objects.order_by("id"):
        opportunities.setdefault(opportunity.name, []).append(shape(opportunity))
    assert len(opportunities) == 5 and all(
        len(v) == 2 and v[0] == v[1] for v in opportunities.values()
    )


def test_the_export_command_escapes_formulas_and_matches_the_admin_header(rep, revops, catalog):
    imports.import_rows(
        kind="opportunities", actor=revops, rows=[{**new_rows(1, rep.username)[0], "name": "=1+1"}]
    )
    stdout = io.StringIO()
    call_command("export_opportunities", stdout=stdout)
    [row] = list(csv.DictReader(io.StringIO(stdout.getvalue())))
    assert row["name"] == "'=1+1"
    assert list(row)[:3] == ["id", "name", "account"]


def test_the_import_command_reports_each_bad_line_and_exits_1(rep, revops, catalog, tmp_path):
    path = tmp_path / "in.csv"
    rows = new_rows(3, rep.username)
    rows[1]["owner"] = "nobody"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    stdout, report = io.StringIO(), tmp_path / "report.csv"

    with pytest.raises(SystemExit) as exit_:
        call_command(
            "import_opportunities",
            str(path),
            "--user",
            revops.username,
            "--report",
            str(report),
            stdout=stdout,
            stderr=io.StringIO(),
        )

    assert exit_.value.code == 1
    assert "line 3 (row 2): does_not_exist on owner" in stdout.getvalue()
    assert list(csv.reader(report.open()))[1][:3] == ["3", "does_not_exist", "owner"]
    assert Opportunity.objects.count() == 2


def test_the_fast_export_rows_equal_the_resources_own_cells(rep, revops, catalog):
    from opportunities.admin.resources import OpportunityResource

    imports.import_rows(kind="opportunities", actor=revops, rows=new_rows(3, rep.username))
    ready_opportunity(owner=rep, currency="JPY", amount=Decimal("1000"), name="@SUM(1)")
    Opportunity.objects.create(name="Bare", owner=rep)  # no account, contact, amount or items
    resource = OpportunityResource()
    queryset = resource.get_queryset()
    slow = [resource.export_resource(obj) for obj in queryset]
    fast = list(resource.export_rows(queryset))
    assert fast == slow
    subset = ["id", "name", "line_items", "closed_at"]
    assert list(resource.export_rows(queryset, subset)) == [
        resource.export_resource(obj, selected_fields=subset) for obj in queryset
    ]
