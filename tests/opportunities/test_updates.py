"""opportunity_update / opportunity_create: record locks, permissions, version, validation."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from core import errors
from opportunities import services
from opportunities.models import LineItem, Opportunity
from opportunities.stages import Stage
from tests.factories import AccountFactory, ProductFactory, ready_opportunity

pytestmark = pytest.mark.django_db


def update(opportunity, actor, **data):
    line_items = data.pop("line_items", None)
    return services.opportunity_update(
        opportunity=opportunity, actor=actor, data=data, line_items=line_items
    )


@pytest.mark.parametrize("stage", [Stage.PENDING_APPROVAL, Stage.CLOSED_WON])
@pytest.mark.parametrize(
    "field,value",
    [
        ("amount", Decimal("5.00")),
        ("currency", "EUR"),
        ("close_date", dt.date(2020, 1, 1)),
        ("contract_id", "NEW-1"),
        ("po_number", "PO-NEW"),
        ("primary_contact", None),
        ("account", "new-account"),
    ],
)
def test_gated_fields_are_locked_while_pending_and_after_won(rep, revops, stage, field, value):
    opportunity = ready_opportunity(rep, stage=stage)
    if value == "new-account":
        value = AccountFactory().pk
    before = Opportunity.objects.values().get(pk=opportunity.pk)
    with pytest.raises(errors.RecordLocked) as exc:
        update(opportunity, revops, **{field: value})
    assert exc.value.code == "record_locked" and exc.value.errors[0]["field"] == field
    assert Opportunity.objects.values().get(pk=opportunity.pk) == before


@pytest.mark.parametrize("stage", [Stage.PENDING_APPROVAL, Stage.CLOSED_WON])
def test_line_items_are_locked_while_pending_and_after_won(rep, stage):
    opportunity = ready_opportunity(rep, stage=stage)
    product = ProductFactory()
    with pytest.raises(errors.RecordLocked) as exc:
        update(opportunity, rep, line_items=[{"product": product.pk, "seats": 1}])
    assert exc.value.errors[0]["field"] == "line_items"
    assert LineItem.objects.filter(opportunity=opportunity).count() == 1


def test_ungated_fields_stay_editable_while_pending(rep):
    opportunity = ready_opportunity(rep, stage=Stage.PENDING_APPROVAL)
    updated = update(opportunity, rep, name="Renamed")
    assert (updated.name, updated.version) == ("Renamed", 2)


@pytest.mark.parametrize("stage", [Stage.PENDING_APPROVAL, Stage.CLOSED_WON])
@pytest.mark.parametrize(
    "change",
    [
        {"term_months": 36},
        {"contract_start_date": dt.date(2030, 1, 1)},
        {"type": "renewal"},
    ],
)
def test_billing_terms_are_locked_while_pending_and_after_won(rep, stage, change):
    opportunity = ready_opportunity(rep, stage=stage)
    with pytest.raises(errors.RecordLocked) as locked:
        update(opportunity, rep, **change)
    assert [e.field for e in locked.value.errors] == list(change)
    opportunity.refresh_from_db()
    assert opportunity.version == 1


def test_sending_the_same_locked_values_is_not_a_change(rep):
    opportunity = ready_opportunity(rep, stage=Stage.CLOSED_WON)
    same = update(opportunity, rep, amount=opportunity.amount, contract_id=opportunity.contract_id)
    assert same.version == opportunity.version


def test_every_write_bumps_the_version(rep):
    opportunity = ready_opportunity(rep, stage=Stage.PROSPECTING)
    assert update(opportunity, rep, name="a").version == 2
    assert update(opportunity, rep, amount=Decimal("10.00")).version == 3


def test_only_owner_or_revops_can_edit(rep, rep2, revops):
    opportunity = ready_opportunity(rep, stage=Stage.PROSPECTING)
    with pytest.raises(errors.PermissionDenied):
        update(opportunity, rep2, name="mine now")
    assert update(opportunity, revops, name="fixed by revops").name == "fixed by revops"


def test_a_rep_cannot_reassign_a_deal(rep, rep2, revops):
    opportunity = ready_opportunity(rep, stage=Stage.PROSPECTING)
    with pytest.raises(errors.PermissionDenied):
        update(opportunity, rep, owner=rep2.pk)
    assert update(opportunity, revops, owner=rep2.pk).owner_id == rep2.pk


def test_the_stage_is_read_only_in_updates_and_creates(rep):
    opportunity = ready_opportunity(rep, stage=Stage.PROSPECTING)
    with pytest.raises(errors.StageReadOnly) as exc:
        update(opportunity, rep, stage=Stage.CLOSED_WON)
    assert exc.value.code == "stage_read_only"
    with pytest.raises(errors.StageReadOnly):
        services.opportunity_create(actor=rep, data={"name": "x", "stage": "closed_won"})


def test_invalid_values_report_every_field(rep):
    opportunity = ready_opportunity(rep, stage=Stage.PROSPECTING)
    with pytest.raises(errors.InvalidInput) as exc:
        update(opportunity, rep, amount=Decimal("-1"), currency="XXQ", name="")
    fields = sorted(e["field"] for e in exc.value.errors)
    assert fields == ["amount", "currency", "name"]
    assert Opportunity.objects.get(pk=opportunity.pk).version == 1


def test_line_items_replace_all(rep):
    opportunity = ready_opportunity(rep, stage=Stage.PROPOSAL)
    keep = opportunity.line_items.get()
    p2 = ProductFactory()
    updated = update(
        opportunity,
        rep,
        line_items=[
            {"id": keep.pk, "product": keep.product_id, "seats": 3},
            {"product": p2.pk, "seats": 2, "unit_price": "5.50"},
        ],
    )
    rows = list(
        LineItem.objects.filter(opportunity=opportunity)
        .order_by("id")
        .values_list("id", "product_id", "seats", "unit_price")
    )
    assert rows == [(keep.pk, keep.product_id, 3, None), (rows[1][0], p2.pk, 2, Decimal("5.50"))]
    assert updated.version == 2


@pytest.mark.parametrize(
    "row,field",
    [
        ({"product": 999999, "seats": 1}, "line_items[0].product"),
        ({"product": None, "seats": 1}, "line_items[0].product"),
        ({"seats": 0}, "line_items[0].seats"),
        ({"seats": "1.5"}, "line_items[0].seats"),
        ({"seats": 1, "unit_price": "-2"}, "line_items[0].unit_price"),
        ({"seats": 1, "unit_price": "abc"}, "line_items[0].unit_price"),
        ({"seats": 1, "unit_price": "NaN"}, "line_items[0].unit_price"),
    ],
)
def test_bad_line_items_are_refused_and_nothing_changes(rep, row, field):
    opportunity = ready_opportunity(rep, stage=Stage.PROPOSAL)
    product = ProductFactory()
    row = {"product": product.pk, **row}
    with pytest.raises(errors.InvalidInput) as exc:
        update(opportunity, rep, line_items=[row])
    assert exc.value.errors[0]["field"] == field
    assert LineItem.objects.filter(opportunity=opportunity).count() == 1


def test_create_starts_in_prospecting_owned_by_the_actor(rep):
    account = AccountFactory()
    opportunity = services.opportunity_create(
        actor=rep, data={"name": "New", "account": account.pk, "amount": "10.00"}
    )
    assert (opportunity.stage, opportunity.owner_id, opportunity.version, opportunity.currency) == (
        Stage.PROSPECTING,
        rep.pk,
        1,
        "USD",
    )


def test_a_rep_cannot_create_a_deal_for_someone_else(rep, rep2):
    with pytest.raises(errors.PermissionDenied):
        services.opportunity_create(actor=rep, data={"name": "x", "owner": rep2.pk})


def test_field_history_records_who_changed_what(rep):
    opportunity = ready_opportunity(rep, stage=Stage.PROSPECTING)
    update(opportunity, rep, amount=Decimal("42.00"))
    latest = opportunity.history.latest()
    assert latest.history_user == rep
    delta = latest.diff_against(latest.prev_record)
    assert [(c.field, c.new) for c in delta.changes if c.field == "amount"] == [
        ("amount", Decimal("42.00"))
    ]
