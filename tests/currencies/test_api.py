"""GET/POST /api/v1/exchange-rates/."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

from currencies.models import ExchangeRate
from tests.api.conftest import client_for, error_codes, problem

pytestmark = pytest.mark.django_db

URL = "/api/v1/exchange-rates/"


@pytest.fixture(autouse=True)
def _usd_reporting(settings):
    settings.REPORTING_CURRENCY = "USD"


def post(user, body, **headers):
    return client_for(user).post(URL, json.dumps(body), content_type="application/json", **headers)


def test_revops_post_a_rate(revops):
    response = post(revops, {"currency": "EUR", "rate": "1.0825", "valid_from": "2030-01-01"})

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["currency"], Decimal(body["rate"]), body["valid_from"]) == (
        "EUR",
        Decimal("1.0825"),
        "2030-01-01",
    )
    assert body["created_by"] == revops.pk
    row = ExchangeRate.objects.get()
    assert (row.rate, row.created_by) == (Decimal("1.0825"), revops)


def test_a_rep_may_read_but_not_post(rep):
    ExchangeRate.objects.create(currency="EUR", rate=Decimal("1.1"), valid_from=dt.date(2030, 1, 1))

    listed = client_for(rep).get(URL)
    refused = post(rep, {"currency": "GBP", "rate": "1.3", "valid_from": "2030-01-01"})

    assert listed.status_code == 200
    assert [r["currency"] for r in listed.json()["results"]] == ["EUR"]
    problem(refused, 403, "permission_denied")
    assert ExchangeRate.objects.count() == 1


def test_any_signed_in_user_may_read(db):
    nobody = get_user_model().objects.create_user("integration", password="pw-for-tests-123")
    assert client_for(nobody).get(URL).status_code == 200


def test_anonymous_callers_get_401():
    problem(client_for(None).get(URL), 401, "not_authenticated")


@pytest.mark.parametrize(
    ("body", "codes"),
    [
        # The currency is an enum in the schema (ISO 4217 money codes but the reporting
        # currency), the rate a decimal string above zero: what the schema states is refused.
        ({"currency": "USD", "rate": "1", "valid_from": "2030-01-01"}, ["invalid_choice"]),
        ({"currency": "ABC", "rate": "1", "valid_from": "2030-01-01"}, ["invalid_choice"]),
        ({"currency": "EUR", "rate": "0", "valid_from": "2030-01-01"}, ["invalid"]),
        ({"currency": "EUR", "rate": "-2", "valid_from": "2030-01-01"}, ["invalid"]),
        ({"currency": "EUR", "rate": "NaN", "valid_from": "2030-01-01"}, ["invalid"]),
        ({"currency": "EUR", "rate": "1e400", "valid_from": "2030-01-01"}, ["invalid"]),
        ({"currency": "EUR", "rate": "0.0000000000001", "valid_from": "2030-01-01"}, None),
        ({"currency": "EUR", "rate": "1.1", "valid_from": "2030-02-30"}, ["invalid"]),
        ({"currency": "EUR", "rate": "1.1"}, ["required"]),
        ({"currency": "EUROS", "rate": "1.1", "valid_from": "2030-01-01"}, ["invalid_choice"]),
        ({"currency": ["EUR"], "rate": {"x": 1}, "valid_from": 7}, None),
    ],
)
def test_invalid_bodies_are_400_problems_and_change_nothing(revops, body, codes):
    response = post(revops, body)

    found = problem(response, 400, "invalid")
    if codes is not None:
        assert error_codes(found) == codes
    assert not ExchangeRate.objects.exists()


def test_a_second_rate_for_the_same_day_is_refused(revops):
    body = {"currency": "EUR", "rate": "1.1", "valid_from": "2030-01-01"}
    assert post(revops, body).status_code == 201

    found = problem(post(revops, {**body, "rate": "1.2"}), 400, "invalid")

    assert error_codes(found) == ["unique"]
    assert ExchangeRate.objects.get().rate == Decimal("1.1")


def test_a_repeated_post_with_the_same_idempotency_key_replays(revops):
    body = {"currency": "EUR", "rate": "1.1", "valid_from": "2030-01-01"}
    first = post(revops, body, HTTP_IDEMPOTENCY_KEY="rate-eur-2030")
    second = post(revops, body, HTTP_IDEMPOTENCY_KEY="rate-eur-2030")

    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json() == second.json()
    assert ExchangeRate.objects.count() == 1


def test_the_list_filters_and_orders(rep):
    for currency, day, value in (
        ("EUR", 1, "1.1"),
        ("EUR", 2, "1.2"),
        ("GBP", 1, "1.3"),
    ):
        ExchangeRate.objects.create(
            currency=currency, rate=Decimal(value), valid_from=dt.date(2030, 1, day)
        )
    api = client_for(rep)

    eur = api.get(URL, {"currency": "EUR"}).json()["results"]
    recent = api.get(URL, {"valid_from_after": "2030-01-02"}).json()["results"]
    ordered = api.get(URL, {"ordering": "valid_from"}).json()["results"]

    assert [r["valid_from"] for r in eur] == ["2030-01-02", "2030-01-01"]
    assert [r["rate"] for r in recent] == ["1.200000000000"]
    assert [r["valid_from"] for r in ordered][0] == "2030-01-01"
    problem(api.get(URL, {"valid_from_after": "yesterday"}), 400, "invalid")
    problem(api.get(URL, {"ordering": "rate"}), 400, "invalid")


def test_the_schema_documents_the_endpoint(rep):
    schema = client_for(rep).get("/api/v1/schema/").json()
    operations = schema["paths"]["/api/v1/exchange-rates/"]
    assert operations["get"]["operationId"] == "exchange_rates_list"
    assert operations["post"]["operationId"] == "exchange_rates_create"


def test_a_valid_from_that_is_not_a_calendar_day_is_named(revops):
    response = post(revops, {"currency": "EUR", "rate": "1.1", "valid_from": "2030-02-29"})

    body = problem(response, 400, "invalid")
    assert body["errors"] == [
        {
            "code": "invalid",
            "field": "valid_from",
            "message": "2030-02-29 is not a day on the calendar.",
        }
    ]
    assert not ExchangeRate.objects.exists()
