"""No input, however malformed, produces a 500: bad bodies, types, numbers, ids, headers
and query strings are 4xx problems, and the database is unchanged."""

from __future__ import annotations

import json

import pytest

from api.models import IdempotencyKey
from opportunities.models import Account
from tests.api.conftest import db_state, problem
from tests.factories import ProductFactory, ready_opportunity

pytestmark = pytest.mark.django_db

HUGE = 10**40


@pytest.fixture
def opportunity(rep):
    return ready_opportunity(rep)


def send(client, method, path, raw, content_type="application/json", **extra):
    return getattr(client, method)(path, data=raw, content_type=content_type, **extra)


BAD_BODIES = {
    "not json": "{name: 'x',}",
    "truncated json": '{"name": "x"',
    "invalid utf-8": b'{"name": "\xff\xfe"}',
    "nested too deep": "[" * 100_000 + "]" * 100_000,
    "lone surrogate": '{"name": "\\ud800"}',
    "NaN": '{"name": "x", "amount": NaN}',
    "top-level list": '[{"name": "x"}]',
    "top-level string": '"x"',
    "top-level null": "null",
    "name is a list": '{"name": ["x"]}',
    "name is an object": '{"name": {"x": 1}}',
    "name has a NUL": '{"name": "a\\u0000b"}',
    "name is too long": json.dumps({"name": "x" * 201}),
    "amount is a word": '{"name": "x", "amount": "lots"}',
    "amount is a list": '{"name": "x", "amount": [1]}',
    "amount is huge": json.dumps({"name": "x", "amount": str(HUGE)}),
    "amount has an enormous exponent": '{"name": "x", "amount": 1e400}',
    "amount as an infinite string": '{"name": "x", "amount": "Infinity"}',
    "amount has three decimals": '{"name": "x", "amount": "1.005"}',
    "amount is negative": '{"name": "x", "amount": "-1.00"}',
    "term_months is huge": json.dumps({"name": "x", "term_months": HUGE}),
    "term_months is a float": '{"name": "x", "term_months": 1.5}',
    "term_months is a bool": '{"name": "x", "term_months": true}',
    "close_date is not a date": '{"name": "x", "close_date": "2025-02-30"}',
    "close_date is a number": '{"name": "x", "close_date": 20250101}',
    "account does not exist": '{"name": "x", "account": 999999}',
    "account id is huge": json.dumps({"name": "x", "account": HUGE}),
    "account id is a bool": '{"name": "x", "account": true}',
    "account id is a string": '{"name": "x", "account": "acme"}',
    "owner does not exist": '{"name": "x", "owner": 999999}',
    "primary_contact id is negative": '{"name": "x", "primary_contact": -1}',
    "currency is not ISO 4217": '{"name": "x", "currency": "XYZ"}',
    "type is unknown": '{"name": "x", "type": "barter"}',
    "line_items is an object": '{"name": "x", "line_items": {"product": 1}}',
    "line item product unknown": '{"name": "x", "line_items": [{"product": 999999, "seats": 1}]}',
    "line item product huge": json.dumps(
        {"name": "x", "line_items": [{"product": HUGE, "seats": 1}]}
    ),
    "line item seats huge": '{"name": "x", "line_items": [{"product": 1, "seats": 1e30}]}',
    "line item seats zero": '{"name": "x", "line_items": [{"product": 1, "seats": 0}]}',
    "line item is a string": '{"name": "x", "line_items": ["one"]}',
    "line item price negative": (
        '{"name": "x", "line_items": [{"product": 1, "seats": 1, "unit_price": "-5"}]}'
    ),
}


@pytest.mark.parametrize("name", list(BAD_BODIES))
def test_a_malformed_create_is_a_400_and_changes_nothing(api, rep, opportunity, name):
    ProductFactory()
    before = (db_state(), Account.objects.count())
    response = send(api(rep), "post", "/api/v1/opportunities/", BAD_BODIES[name])
    problem(response, 400, "invalid")
    assert (db_state(), Account.objects.count()) == before


@pytest.mark.parametrize("name", list(BAD_BODIES))
def test_a_malformed_patch_is_a_400_and_changes_nothing(api, rep, opportunity, name):
    before = db_state()
    response = send(api(rep), "patch", f"/api/v1/opportunities/{opportunity.pk}/", BAD_BODIES[name])
    problem(response, 400, "invalid")
    assert db_state() == before


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2025-02-30", "2025-02-30 is not a day on the calendar."),
        ("2025-13-01", "2025-13-01 is not a day on the calendar."),
        ("2025-1-5", "Write the date as YYYY-MM-DD, such as 2026-12-31."),
        ("20250105", "Write the date as YYYY-MM-DD, such as 2026-12-31."),
        ("05/01/2025", "Write the date as YYYY-MM-DD, such as 2026-12-31."),
        ("2025-01-05T00:00:00", "Write the date as YYYY-MM-DD, such as 2026-12-31."),
        ("\u0662\u0660\u0662\u0665-01-05", "Write the date as YYYY-MM-DD, such as 2026-12-31."),
    ],
)
def test_a_date_that_is_not_yyyy_mm_dd_or_not_on_the_calendar_says_which(
    api, rep, opportunity, value, message
):
    before = db_state()
    raw = '{"close_date": "' + value + '"}'
    response = send(api(rep), "patch", f"/api/v1/opportunities/{opportunity.pk}/", raw)
    body = problem(response, 400, "invalid")
    assert body["errors"] == [{"code": "invalid", "field": "close_date", "message": message}]
    assert db_state() == before


@pytest.mark.parametrize(
    "body",
    [
        "{oops",
        '{"reason": ["a"]}',
        '{"loss_reason": {"x": 1}}',
        '{"reason": "\\ud800"}',
        "[1, 2]",
    ],
)
def test_a_malformed_transition_body_is_a_400(api, rep, opportunity, body):
    before = db_state()
    response = send(
        api(rep), "post", f"/api/v1/opportunities/{opportunity.pk}/transitions/mark_lost/", body
    )
    problem(response, 400, "invalid")
    assert db_state() == before


def test_an_unknown_loss_reason_is_a_400(api, rep, opportunity):
    response = send(
        api(rep),
        "post",
        f"/api/v1/opportunities/{opportunity.pk}/transitions/mark_lost/",
        '{"loss_reason": "bad vibes"}',
    )
    problem(response, 400, "invalid")


def test_a_body_that_is_not_json_is_a_415(api, rep):
    response = send(api(rep), "post", "/api/v1/accounts/", "name=Acme", "text/plain")
    problem(response, 415, "unsupported_media_type")
    response = send(
        api(rep), "post", "/api/v1/accounts/", "name=Acme", "application/x-www-form-urlencoded"
    )
    problem(response, 415, "unsupported_media_type")
    assert not Account.objects.exists()


@pytest.mark.parametrize(
    "query",
    [
        "limit=abc",
        "limit=%C2%B2",  # "²": a digit to str.isdigit(), not to int()
        "limit=%D9%A3",  # "٣": a digit to int(), not ASCII
        "limit=0",
        "limit=201",
        f"limit={HUGE}",
        "cursor=abc",
        "cursor=",
        "ordering=password",
        "ordering=-stage_label",
        "stage=won",
        "type=barter",
        "owner=abc",
        "owner=1.5",
        "owner=20.00",  # Django's IntegerField reads it as 20
        "owner=20.",
        "owner=%2B3",  # "+3"
        "owner=%D9%A3",  # "٣"
        "account=1e3",
        f"owner={HUGE}",
        "account=-3",
        "close_date_after=yesterday",
        "close_date_before=2025-13-01",
        "updated_since=last-tuesday",
        "updated_since=0001-01-01T00:00:00%2B01:00",
        "updated_since=9999-12-31T23:59:59-14:00",
        "search=%00",
    ],
)
def test_bad_query_parameters_are_a_400(api, rep, opportunity, query):
    problem(api(rep).get(f"/api/v1/opportunities/?{query}"), 400, "invalid")


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("limit=-1", "Must be between 1 and 200."),
        ("limit=%20-5%20", "Must be between 1 and 200."),
        ("limit=0", "Must be between 1 and 200."),
        ("limit=-x", "A whole number is required."),
        ("limit=--1", "A whole number is required."),
        ("limit=1.5", "A whole number is required."),
    ],
)
def test_a_limit_out_of_range_says_the_range_and_a_non_number_says_so(api, rep, query, message):
    body = problem(api(rep).get(f"/api/v1/opportunities/?{query}"), 400, "invalid")
    assert body["errors"] == [{"code": "invalid", "field": "limit", "message": message}]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/handoffs/?opportunity=20.00",
        "/api/v1/handoffs/?opportunity=%D9%A3",
        "/api/v1/approvals/?opportunity=7.0",
        "/api/v1/contacts/?account=2.0",
    ],
)
def test_an_id_filter_that_is_not_ascii_digits_is_a_400_on_every_list(api, revops, path):
    problem(api(revops).get(path), 400, "invalid")


def test_the_largest_id_is_a_filter_value_one_more_is_a_400(api, rep):
    largest = 2**63 - 1
    assert api(rep).get(f"/api/v1/opportunities/?account={largest}").status_code == 200
    problem(api(rep).get(f"/api/v1/opportunities/?account={largest + 1}"), 400, "invalid")
    problem(api(rep).get(f"/api/v1/opportunities/?account={'9' * 40}"), 400, "invalid")


@pytest.mark.parametrize(
    "header",
    [
        "Token",
        "Token not-hex-at-all",
        "Token \xff\xfe",
        "Token a b",
        "Token " + "a" * 300,
        "Token 0000000000000000000000000000000000000000000000000000000000000000",
    ],
)
def test_bad_credentials_are_a_401(api, header):
    client = api(None)
    client.credentials(HTTP_AUTHORIZATION=header)
    problem(client.get("/api/v1/opportunities/"), 401, "not_authenticated")


@pytest.mark.parametrize("key", ["", " leading-space", "x" * 256, "tab\there", "é"])
def test_a_malformed_idempotency_key_is_a_400(api, rep, key):
    response = send(
        api(rep), "post", "/api/v1/accounts/", '{"name": "A"}', HTTP_IDEMPOTENCY_KEY=key
    )
    body = problem(response, 400, "invalid")
    assert body["errors"][0]["field"] == "Idempotency-Key"
    assert not Account.objects.exists()
    assert not IdempotencyKey.objects.exists()


@pytest.mark.parametrize("value", ["garbage", '"abc"', '"-1"', "W/", '""'])
def test_an_if_match_that_cannot_match_is_a_412(api, rep, opportunity, value):
    before = db_state()
    response = send(
        api(rep),
        "patch",
        f"/api/v1/opportunities/{opportunity.pk}/",
        '{"name": "x"}',
        HTTP_IF_MATCH=value,
    )
    problem(response, 412, "stale_version")
    assert db_state() == before


def test_read_only_and_unknown_fields_are_named_not_ignored(api, rep, opportunity):
    before = db_state()
    response = send(
        api(rep),
        "patch",
        f"/api/v1/opportunities/{opportunity.pk}/",
        '{"name": "Renamed", "id": 1, "version": 99, "probability": 5, "closed_at": null, '
        '"favourite_colour": "red"}',
    )
    body = problem(response, 400, "invalid")
    assert {(e["field"], e["code"]) for e in body["errors"]} == {
        ("id", "read_only_field"),
        ("version", "read_only_field"),
        ("probability", "read_only_field"),
        ("closed_at", "read_only_field"),
        ("favourite_colour", "unknown_field"),
    }
    assert db_state() == before


def test_a_wrong_content_length_body_is_not_a_500(api, rep):
    response = api(rep).generic("POST", "/api/v1/accounts/", b"", content_type="application/json")
    problem(response, 400, "invalid")


def test_a_body_over_the_upload_limit_is_a_413(api, rep, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = json.dumps({"name": "x" * 2000})
    answer = problem(send(api(rep), "post", "/api/v1/accounts/", body), 413, "payload_too_large")
    assert "DATA_UPLOAD" not in json.dumps(answer) and "settings" not in json.dumps(answer)
    assert not Account.objects.exists()


def test_a_10_mb_body_is_a_413(api, rep):
    body = json.dumps({"name": "x" * (10 * 1024 * 1024)})
    problem(send(api(rep), "post", "/api/v1/accounts/", body), 413, "payload_too_large")
    assert not Account.objects.exists()


def test_a_5000_digit_number_names_no_python_internals(api, rep):
    response = send(api(rep), "post", "/api/v1/accounts/", '{"name": ' + "9" * 5000 + "}")
    answer = problem(response, 400, "invalid")
    text = json.dumps(answer)
    assert "sys." not in text and "int_max_str_digits" not in text and "digits" in text


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/opportunities/",
        "/api/v1/opportunities/{opportunity}/",
        "/api/v1/opportunities/{opportunity}/transitions/approve/",
        "/api/v1/handoffs/",
        "/api/v1/schema/",
    ],
)
def test_options_and_head_are_not_a_500(api, rep, opportunity, path):
    path = path.format(opportunity=opportunity.pk)
    options = api(rep).options(path)
    assert options.status_code == 200, options.content
    assert options.json()["schema"] == "/api/v1/schema/"
    head = api(rep).head(path)
    assert head.status_code in (200, 405), head.content
