"""core.fields.JSONDocumentField: PostgreSQL's ``json`` type for documents written once
and read whole, with every JSON lookup still working (through a cast to ``jsonb``)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection

from events.models import Event
from handoffs.models import Handoff
from opportunities.models import Approval, StageChange

pytestmark = pytest.mark.django_db

DOCUMENT = {
    "zeta": 1,
    "alpha": {"quote": 'say "hi"', "unicode": "Zoë — ✓ 日本", "nested": [None, 2.5, True]},
    "name": "Acme",
    "to": ["a@example.com", "b@example.com"],
    "amount": "120000.00",
}


def _event(data, object_id: int = 1) -> Event:
    return Event.objects.create(
        type="opportunity.updated", object="opportunity", object_id=object_id, data=data
    )


@pytest.mark.parametrize(
    ("model", "column"),
    [
        (Handoff, "payload"),
        (Event, "data"),
        (StageChange, "gate_snapshot"),
        (Approval, "snapshot"),
    ],
)
def test_the_documents_are_json_columns_compressed_with_lz4(model, column):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT format_type(atttypid, atttypmod), attcompression FROM pg_attribute"
            " WHERE attrelid = %s::regclass AND attname = %s",
            [model._meta.db_table, column],
        )
        type_, compression = cursor.fetchone()
    assert type_ == "json"
    # 'l': lz4 (a server built without lz4 would keep the default, '').
    assert compression == "l"


@pytest.mark.parametrize(
    "data",
    [DOCUMENT, [1, "two", {"3": None}], "a JSON string", "42", '"quoted"', 42, True, {}, []],
    ids=[
        "object",
        "array",
        "string",
        "string-of-a-number",
        "string-of-json",
        "number",
        "boolean",
        "empty-object",
        "empty-array",
    ],
)
def test_a_document_reads_back_as_written(data):
    event = _event(data)
    assert Event.objects.get(pk=event.pk).data == data
    assert Event.objects.values_list("data", flat=True).get(pk=event.pk) == data


def test_the_key_order_is_kept_as_written():
    event = _event(DOCUMENT)
    assert list(Event.objects.get(pk=event.pk).data) == list(DOCUMENT)


def test_the_encoder_turns_decimals_into_strings():
    event = _event({"amount": Decimal("1.50")})
    assert Event.objects.get(pk=event.pk).data == {"amount": "1.50"}


def test_lookups_into_the_document_work():
    match, other = _event(DOCUMENT, 1), _event({"name": "Other", "to": []}, 2)
    by = Event.objects.filter
    assert list(by(data__name="Acme")) == [match]
    assert list(by(data__to__contains=["b@example.com"])) == [match]
    assert list(by(data__contains={"name": "Acme"})) == [match]
    assert list(by(data__has_key="zeta")) == [match]
    assert list(by(data__alpha__unicode="Zoë — ✓ 日本")) == [match]
    assert list(by(data__name__icontains="acm")) == [match]
    assert list(by(data={"name": "Other", "to": []})) == [other]
    assert set(by(data__isnull=False)) == {match, other}
    names = Event.objects.order_by("object_id").values_list("data__name", flat=True)
    assert list(names) == ["Acme", "Other"]
    assert list(Event.objects.order_by("data__name").values_list("object_id", flat=True)) == [
        1,
        2,
    ]


def test_a_lookup_encodes_its_value_with_the_fields_encoder():
    event = _event({"amount": Decimal("1.50"), "nested": {"amount": Decimal("2")}})
    assert list(Event.objects.filter(data__amount=Decimal("1.50"))) == [event]
    assert list(Event.objects.filter(data__contains={"nested": {"amount": Decimal("2")}})) == [
        event
    ]


def test_json_null_is_stored_as_json_not_as_sql_null():
    from django.db.models import JSONField, Value

    event = _event(Value(None, JSONField()))
    assert Event.objects.filter(pk=event.pk, data__isnull=False).exists()
    assert Event.objects.get(pk=event.pk).data is None


def test_a_query_with_a_lookup_pickles_and_compares_like_any():
    import pickle

    match = _event(DOCUMENT)
    query = Event.objects.filter(data__has_key="zeta", data__to__contains=["a@example.com"])
    again = Event.objects.all()
    again.query = pickle.loads(pickle.dumps(query.query))
    assert list(again) == [match]
    one, two = (Event.objects.filter(data__has_key="zeta") for _ in range(2))
    assert one.query.where == two.query.where
