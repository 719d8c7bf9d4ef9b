"""Every export is safe to open in a spreadsheet: a cell that begins with =, +, -, @, tab
or carriage return is written with a leading apostrophe, on every admin export and in
every spreadsheet format offered; importing the export back gives the values typed."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from core.export_formats import SafeCSV, SafeTSV
from currencies.models import ExchangeRate
from opportunities.models import Account
from tests.admin.conftest import client_for
from tests.factories import AccountFactory, ContactFactory, ready_opportunity

pytestmark = pytest.mark.django_db

HYPERLINK = '=HYPERLINK("http://x.example","y")'
DANGEROUS = [HYPERLINK, "+1+1", "-2+3+cmd|' /C calc'!A0", "@SUM(1+1)", "\t=1+1", "\r=1+1"]


def export(client, url: str, fmt: type) -> list[dict[str, str]]:
    form = client.get(url).context["form"]
    choices = dict((label, value) for value, label in form.fields["format"].choices)
    assert fmt().get_title() in choices, choices
    data = {"format": choices[fmt().get_title()], "resource": "0"}
    data |= {
        name: "on" for name in form.fields if name not in ("format", "resource", "export_items")
    }
    response = client.post(url, data)
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"].startswith(fmt().get_content_type())
    text = response.getvalue().decode("utf-8-sig")
    dialect = "excel-tab" if fmt is SafeTSV else "excel"
    return list(csv.DictReader(io.StringIO(text, newline=""), dialect=dialect))


def assert_escaped(cells: list[str], values: list[str]) -> None:
    for value in values:
        assert "'" + value in cells, (value, cells)
        assert value not in cells


@pytest.mark.parametrize("fmt", [SafeCSV, SafeTSV])
def test_the_account_export_escapes_names_a_spreadsheet_would_run(revops, fmt):
    for name in DANGEROUS:
        AccountFactory(name=name, domain="", billing_country="")

    rows = export(client_for(revops), reverse("admin:opportunities_account_export"), fmt)

    assert_escaped([r["name"] for r in rows], DANGEROUS)


@pytest.mark.parametrize("fmt", [SafeCSV, SafeTSV])
def test_the_contact_export_escapes_names_and_account_names(revops, fmt):
    account = AccountFactory(name=HYPERLINK)
    ContactFactory(account=account, first_name="+1+1", last_name="@SUM(1+1)", phone="+1 555 0100")

    [row] = export(client_for(revops), reverse("admin:opportunities_contact_export"), fmt)

    assert row["first_name"] == "'+1+1"
    assert row["last_name"] == "'@SUM(1+1)"
    assert row["phone"] == "'+1 555 0100"
    assert row["account_name"] == "'" + HYPERLINK


@pytest.mark.parametrize("fmt", [SafeCSV, SafeTSV])
def test_the_opportunity_export_escapes_names_and_ids(revops, rep, fmt):
    account = AccountFactory(name=HYPERLINK)
    ready_opportunity(rep, account=account, name="=1+1", contract_id="-2+3", po_number="@x")

    [row] = export(client_for(revops), reverse("admin:opportunities_opportunity_export"), fmt)

    assert row["name"] == "'=1+1"
    assert row["contract_id"] == "'-2+3"
    assert row["po_number"] == "'@x"
    assert row["account_name"] == "'" + HYPERLINK
    assert not row["amount"].startswith("'")  # numbers are not text: left alone


def test_the_exchange_rate_export_is_escaped_like_the_others(revops, settings):
    settings.REPORTING_CURRENCY = "USD"
    ExchangeRate.objects.create(
        currency="EUR", rate=Decimal("1.1"), valid_from=dt.date(2030, 1, 1), created_by=revops
    )
    revops.username = "=evil"
    revops.save(update_fields=["username"])

    [row] = export(client_for(revops), reverse("admin:currencies_exchangerate_export"), SafeCSV)

    assert (row["currency"], row["created_by"]) == ("EUR", "'=evil")


def test_an_escaped_cell_imports_as_the_value_typed(revops):
    client = client_for(revops)
    text = 'name,external_id\n\'+1+1,crm-7\n"\'=HYPERLINK(""http://x.example"",""y"")",crm-8\n'

    preview = client.post(
        reverse("admin:opportunities_account_import"),
        {
            "format": "0",
            "resource": "0",
            "import_file": SimpleUploadedFile(
                "accounts.csv", text.encode(), content_type="text/csv"
            ),
        },
    )
    confirm = preview.context["confirm_form"]
    done = client.post(
        reverse("admin:opportunities_account_process_import"),
        {name: confirm.initial.get(name, "") for name in confirm.fields},
    )

    assert done.status_code == 302
    assert dict(Account.objects.values_list("external_id", "name")) == {
        "crm-7": "+1+1",
        "crm-8": HYPERLINK,
    }


def test_an_account_export_re_imports_unchanged(revops):
    AccountFactory(name="+1+1", external_id="crm-7", domain="", billing_country="")
    client = client_for(revops)
    rows = export(client, reverse("admin:opportunities_account_export"), SafeCSV)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)

    preview = client.post(
        reverse("admin:opportunities_account_import"),
        {
            "format": "0",
            "resource": "0",
            "import_file": SimpleUploadedFile(
                "accounts.csv", out.getvalue().encode(), content_type="text/csv"
            ),
        },
    )

    result = preview.context["result"]
    assert not result.has_errors() and not result.has_validation_errors()
    assert [row.import_type for row in result.rows] == ["skip"]


def test_html_is_not_offered_as_an_export_format(revops):
    form = client_for(revops).get(reverse("admin:opportunities_account_export")).context["form"]
    labels = [label for _value, label in form.fields["format"].choices]
    assert "csv" in labels and "tsv" in labels
    assert "html" not in labels
