"""core.db: bulk INSERTs with bound (binary) parameters, and history rows copied by the
database — the same rows as the ORM's own paths, on the real PostgreSQL."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.db import bound_parameters, history_insert_from_rows
from events.models import Event
from opportunities.models import LineItem, Opportunity
from tests.factories import AccountFactory, ProductFactory

pytestmark = pytest.mark.django_db

TRICKY = {
    "quote": 'say "hi"',
    "backslash": "C:\\path\\n",
    "braces": "{a,b}",
    "unicode": "Zoë — ✓ 日本",
    "null_char_free": "tab\tnew\nline",
    "nested": [{"x": None, "y": [1, 2.5, True]}],
}


def _events(n: int, data: dict) -> list[Event]:
    return [
        Event(type="opportunity.created", object="opportunity", object_id=i, data=data, xid=0)
        for i in range(n)
    ]


def test_bound_parameters_store_the_same_values_as_the_default_cursor():
    with bound_parameters():
        bound = Event.objects.bulk_create(_events(3, TRICKY))
    plain = Event.objects.bulk_create(_events(3, TRICKY))

    stored = {e.pk: e for e in Event.objects.filter(pk__in=[e.pk for e in bound + plain])}
    assert [stored[e.pk].data for e in bound] == [TRICKY] * 3
    assert [stored[e.pk].data for e in plain] == [TRICKY] * 3
    # version and actor are NULL in every row: an all-NULL column array binds too
    assert {(stored[e.pk].version, stored[e.pk].actor_id) for e in bound} == {(None, None)}


def test_bound_parameters_keep_the_values_out_of_the_sql_text():
    with CaptureQueriesContext(connection) as ctx, bound_parameters():
        Event.objects.bulk_create(_events(2, TRICKY))
    (insert,) = [q["sql"] for q in ctx.captured_queries if q["sql"].startswith("INSERT")]
    assert "say" not in insert and "$1" in insert


def test_the_default_cursor_is_back_after_the_block_even_after_an_error():
    connection.ensure_connection()
    before = connection.connection.cursor_factory
    with pytest.raises(RuntimeError), bound_parameters():
        assert connection.connection.cursor_factory is not before
        raise RuntimeError("boom")
    assert connection.connection.cursor_factory is before
    with CaptureQueriesContext(connection) as ctx:
        Event.objects.bulk_create(_events(2, TRICKY))
    assert "say" in ctx.captured_queries[-1]["sql"]  # client-side binding again


def _tracked(history_row, model) -> dict:
    return {f.attname: getattr(history_row, f.attname) for f in model.history.model.tracked_fields}


def test_history_rows_copied_by_the_database_equal_simple_historys_own(rep, revops):
    account = AccountFactory()
    product = ProductFactory()

    def opportunities(prefix: str) -> list[Opportunity]:
        made = [
            Opportunity(
                name=f"{prefix} {n}",
                account=account,
                owner=rep,
                amount=Decimal("12.50") * n,
                close_date=dt.date(2031, 1, n + 1),
                contract_id=f"{prefix}-{n}",
            )
            for n in range(3)
        ]
        for opp in made:
            opp.set_keys()
        return Opportunity.objects.bulk_create(made)

    ours, theirs = opportunities("ours"), opportunities("theirs")
    date = timezone.now()
    assert history_insert_from_rows(ours, user=revops, change_reason="admin", date=date) == 3
    Opportunity.history.bulk_history_create(
        theirs, default_user=revops, default_change_reason="admin", default_date=date
    )

    def live(opp: Opportunity) -> dict:
        row = Opportunity.objects.get(pk=opp.pk)
        return {
            f.attname: getattr(row, f.attname) for f in Opportunity.history.model.tracked_fields
        }

    for opp in [*ours, *theirs]:
        history = Opportunity.history.get(id=opp.pk)
        assert _tracked(history, Opportunity) == live(opp)
        assert (history.history_type, history.history_user, history.history_change_reason) == (
            "+",
            revops,
            "admin",
        )
        assert history.history_date == date
    # the history ids follow the order of the objects given
    assert [h.id for h in Opportunity.history.filter(id__in=[o.pk for o in ours])] == [
        o.pk for o in reversed(ours)
    ]

    items = LineItem.objects.bulk_create(
        [LineItem(opportunity=ours[0], product=product, seats=n + 1) for n in range(2)]
    )
    assert history_insert_from_rows(items, user=None, change_reason=None) == 2
    copied = list(LineItem.history.filter(opportunity_id=ours[0].pk).order_by("history_id"))
    assert [(h.id, h.seats, h.unit_price, h.product_id) for h in copied] == [
        (li.pk, li.seats, None, product.pk) for li in items
    ]
    assert {(h.history_user_id, h.history_change_reason) for h in copied} == {(None, None)}


def test_no_rows_write_no_history():
    with CaptureQueriesContext(connection) as ctx:
        assert history_insert_from_rows([]) == 0
    assert ctx.captured_queries == []
