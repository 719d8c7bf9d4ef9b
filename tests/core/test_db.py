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
from tests.sql import statements_sent

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
    with statements_sent() as sent, bound_parameters():
        Event.objects.bulk_create(_events(2, TRICKY))
    (insert,) = [q for q in sent if q.startswith("INSERT")]
    assert "say" not in insert and "$1" in insert


def test_the_default_cursor_is_back_after_the_block_even_after_an_error():
    connection.ensure_connection()
    before = connection.connection.cursor_factory
    with pytest.raises(RuntimeError), bound_parameters():
        assert connection.connection.cursor_factory is not before
        raise RuntimeError("boom")
    assert connection.connection.cursor_factory is before


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


# --- statements without the query compiler -----------------------------------------------
# update_by_pk / select_by_pk / insert_returning_pks must read and write exactly what the
# ORM does: the same column values, the same Python types back (UUIDs, aware datetimes,
# decoded JSON), the model's defaults for fields not given.


def _endpoint(**fields):
    from handoffs.models import WebhookEndpoint

    return WebhookEndpoint.objects.create(url="https://hooks.example.com/x", **fields)


def _handoffs(n: int, **fields):
    from handoffs.models import Handoff

    return [
        Handoff.outbox.create(event_type="deal.won", payload={"n": i, **TRICKY}, **fields)
        for i in range(n)
    ]


def test_update_by_pk_returns_the_changed_rows_as_the_orm_reads_them():
    import uuid

    from core.db import update_by_pk
    from handoffs.models import Handoff

    endpoint = _endpoint()
    rows = _handoffs(3, endpoint=endpoint)
    untouched = _handoffs(1)[0]
    token = uuid.uuid4()
    now = timezone.now()

    changed = update_by_pk(
        Handoff,
        [r.pk for r in rows] + [untouched.pk],
        {"claim_token": token, "claimed_until": now, "updated_at": now},
        increment=["attempts"],
        where="endpoint_id = %s",
        where_values=[("endpoint", endpoint.pk)],
        returning=True,
    )

    assert sorted(h.pk for h in changed) == sorted(r.pk for r in rows)
    for returned in changed:
        stored = Handoff.outbox.get(pk=returned.pk)
        for field in Handoff._meta.concrete_fields:
            assert getattr(returned, field.attname) == getattr(stored, field.attname), field.name
        assert returned.claim_token == token and isinstance(returned.claim_token, uuid.UUID)
        assert returned.claimed_until == now and returned.claimed_until.tzinfo is not None
        assert returned.attempts == 1 and returned.payload["quote"] == 'say "hi"'
        assert returned.endpoint_id == endpoint.pk and not returned._state.adding
    untouched.refresh_from_db()
    assert untouched.claim_token is None and untouched.attempts == 0


def test_update_by_pk_without_returning_counts_and_an_empty_list_touches_nothing():
    from core.db import update_by_pk
    from handoffs.models import Handoff

    rows = _handoffs(2)
    with CaptureQueriesContext(connection) as nothing:
        assert update_by_pk(Handoff, [], {"last_error": "x"}) == 0
        assert update_by_pk(Handoff, [], {"last_error": "x"}, returning=True) == []
    assert nothing.captured_queries == []

    assert update_by_pk(Handoff, [r.pk for r in rows], {"last_error": "gone"}) == 2
    assert (
        update_by_pk(
            Handoff,
            [r.pk for r in rows],
            {"last_error": "x"},
            where="status = %s",
            where_values=[("status", "dead")],
        )
        == 0
    )
    assert set(Handoff.outbox.values_list("last_error", flat=True)) == {"gone"}


def test_update_by_pk_keeps_values_out_of_the_sql_text():
    from core.db import update_by_pk
    from handoffs.models import Handoff

    (row,) = _handoffs(1)
    evil = "x'); DROP TABLE handoffs_handoff; --"
    with CaptureQueriesContext(connection):
        assert update_by_pk(Handoff, [row.pk], {"last_error": evil}) == 1
    row.refresh_from_db()
    assert row.last_error == evil


def test_select_by_pk_equals_in_bulk():
    from core.db import select_by_pk
    from handoffs.models import WebhookEndpoint

    endpoints = [_endpoint(event_types=["deal.won", "ünïcode"]), _endpoint(active=False)]
    pks = [e.pk for e in endpoints]

    with CaptureQueriesContext(connection) as one:
        got = select_by_pk(WebhookEndpoint, pks)
    assert len(one.captured_queries) == 1
    expected = WebhookEndpoint.objects.in_bulk(pks)
    assert got.keys() == expected.keys()
    for pk, endpoint in got.items():
        for field in WebhookEndpoint._meta.concrete_fields:
            assert getattr(endpoint, field.attname) == getattr(expected[pk], field.attname)
    assert select_by_pk(WebhookEndpoint, []) == {}


def test_insert_returning_pks_fills_the_defaults_and_keeps_the_order():
    from core.db import insert_returning_pks
    from handoffs.models import HandoffAttempt

    rows = _handoffs(3)
    now = timezone.now()
    pks = insert_returning_pks(
        HandoffAttempt,
        [
            {"handoff_id": r.pk, "number": i + 1, "at": now, "url": f"u{i}"}
            for i, r in enumerate(rows)
        ],
    )

    assert len(pks) == 3 and pks == sorted(pks)
    for i, (pk, handoff) in enumerate(zip(pks, rows, strict=True)):
        attempt = HandoffAttempt.objects.get(pk=pk)
        assert (attempt.handoff_id, attempt.number, attempt.url) == (handoff.pk, i + 1, f"u{i}")
        assert attempt.at == now
        # The model's defaults, as save() would write them.
        assert (attempt.outcome, attempt.error, attempt.response_excerpt) == ("sending", "", "")
        assert attempt.status_code is None and attempt.duration_ms is None
    assert insert_returning_pks(HandoffAttempt, []) == []


SQLITE_STATEMENTS_SCRIPT = """
import uuid
from django.core.management import call_command
from django.utils import timezone
call_command("migrate", verbosity=0)
from core.db import insert_returning_pks, select_by_pk, update_by_pk
from handoffs.models import Handoff, HandoffAttempt, WebhookEndpoint

endpoint = WebhookEndpoint.objects.create(url="https://hooks.example.com/x")
rows = [Handoff.outbox.create(event_type="deal.won", payload={"n": i, "s": "Zoë"}, endpoint=endpoint) for i in range(3)]
token, now = uuid.uuid4(), timezone.now()
changed = update_by_pk(
    Handoff, [r.pk for r in rows[:2]], {"claim_token": token, "claimed_until": now},
    increment=["attempts"], where="status = %s", where_values=[("status", "pending")],
    returning=True,
)
assert sorted(h.pk for h in changed) == sorted(r.pk for r in rows[:2]), changed
for h in changed:
    stored = Handoff.outbox.get(pk=h.pk)
    for field in Handoff._meta.concrete_fields:
        assert getattr(h, field.attname) == getattr(stored, field.attname), field.name
    assert h.claim_token == token and h.claimed_until == now and h.attempts == 1
    assert h.payload == {"n": h.payload["n"], "s": "Zoë"}
assert Handoff.outbox.get(pk=rows[2].pk).claim_token is None
assert set(select_by_pk(WebhookEndpoint, [endpoint.pk])) == {endpoint.pk}
pks = insert_returning_pks(HandoffAttempt, [{"handoff_id": r.pk, "number": 1, "at": now} for r in rows])
assert [HandoffAttempt.objects.get(pk=pk).handoff_id for pk in pks] == [r.pk for r in rows]
assert {a.outcome for a in HandoffAttempt.objects.all()} == {"sending"}
print("sqlite ok")
"""


def test_the_statements_on_sqlite(tmp_path):
    from tests.project.sqlite import run_on_sqlite

    assert "sqlite ok" in run_on_sqlite(SQLITE_STATEMENTS_SCRIPT, tmp_path)
