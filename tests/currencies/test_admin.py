"""Exchange rates in the admin: RevOps add them by hand or by CSV."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from currencies.models import ExchangeRate
from tests.admin.conftest import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _usd_reporting(settings):
    settings.REPORTING_CURRENCY = "USD"


def upload(client, text: str):
    return client.post(
        reverse("admin:currencies_exchangerate_import"),
        {
            "format": "0",
            "resource": "0",
            "import_file": SimpleUploadedFile("rates.csv", text.encode(), content_type="text/csv"),
        },
    )


def confirm(client, preview):
    form = preview.context["confirm_form"]
    return client.post(
        reverse("admin:currencies_exchangerate_process_import"),
        {name: form.initial.get(name, "") for name in form.fields},
    )


def test_revops_add_a_rate_in_the_admin(revops):
    client = client_for(revops)

    response = client.post(
        reverse("admin:currencies_exchangerate_add"),
        {"currency": "EUR", "rate": "1.0825", "valid_from": "2030-01-01"},
    )

    assert response.status_code == 302, response.content[:2000]
    row = ExchangeRate.objects.get()
    assert (row.currency, row.rate, row.created_by) == ("EUR", Decimal("1.0825"), revops)
    assert client.get(reverse("admin:currencies_exchangerate_changelist")).status_code == 200


@pytest.mark.parametrize(
    ("currency", "rate"), [("USD", "1"), ("EURO", "1.1"), ("EUR", "0"), ("XAU", "2000")]
)
def test_the_admin_form_refuses_what_the_api_refuses(revops, currency, rate):
    response = client_for(revops).post(
        reverse("admin:currencies_exchangerate_add"),
        {"currency": currency, "rate": rate, "valid_from": "2030-01-01"},
    )

    assert response.status_code == 200 and response.context["adminform"].form.errors
    assert not ExchangeRate.objects.exists()


def test_a_csv_of_rates_imports_after_the_preview(revops):
    client = client_for(revops)
    ExchangeRate.objects.create(
        currency="EUR", rate=Decimal("1.05"), valid_from=dt.date(2030, 1, 1)
    )

    preview = upload(
        client,
        "currency,rate,valid_from\nEUR,1.10,2030-01-01\nEUR,1.20,2030-02-01\nJPY,0.0067,2030-01-01\n",
    )
    assert not ExchangeRate.objects.filter(currency="JPY").exists()  # the dry run rolled back
    done = confirm(client, preview)

    assert done.status_code == 302
    assert sorted(ExchangeRate.objects.values_list("currency", "valid_from", "rate")) == [
        ("EUR", dt.date(2030, 1, 1), Decimal("1.10")),
        ("EUR", dt.date(2030, 2, 1), Decimal("1.20")),
        ("JPY", dt.date(2030, 1, 1), Decimal("0.0067")),
    ]
    assert ExchangeRate.objects.get(currency="JPY").created_by == revops


def test_invalid_rows_are_listed_and_nothing_is_imported(revops):
    preview = upload(
        client_for(revops),
        "currency,rate,valid_from\nUSD,1,2030-01-01\nEUR,-1,2030-01-01\nABC,1,2030-01-01\n"
        "GBP,1.3,2030-01-01\n",
    )

    result = preview.context["result"]
    assert preview.context.get("confirm_form") is None
    assert [row.number for row in result.invalid_rows] == [1, 2, 3]
    assert not ExchangeRate.objects.exists()


def test_reps_cannot_import_export_or_add_rates(rep):
    rep.is_staff = True
    rep.save(update_fields=["is_staff"])
    client = client_for(rep)

    assert client.get(reverse("admin:currencies_exchangerate_import")).status_code == 403
    assert client.get(reverse("admin:currencies_exchangerate_export")).status_code == 403
    assert client.get(reverse("admin:currencies_exchangerate_add")).status_code == 403
