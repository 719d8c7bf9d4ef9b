"""CSV import and export: every imported row through the services, errors per row."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from opportunities.models import Account, Contact, Opportunity, StageChange
from opportunities.services import imports
from opportunities.stages import Source
from tests.admin.conftest import client_for, pending_opportunity, stage_of
from tests.factories import AccountFactory, ContactFactory, ProductFactory, ready_opportunity

pytestmark = pytest.mark.django_db


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text.strip() + "\n")))


def codes(outcome) -> list[str]:
    return [e["code"] for e in outcome.errors]


def test_a_new_deal_is_created_and_walked_to_its_stage_through_the_gate(rep, revops):
    account = AccountFactory(external_id="crm-1")
    contact = ContactFactory(account=account, email="pat@acme.example")
    ProductFactory(sku="CW-CORE")

    outcome = imports.opportunity_import_row(
        actor=revops,
        row={
            "name": "Imported deal",
            "account_external_id": "crm-1",
            "owner": rep.username,
            "amount": "12,000.00",
            "close_date": "2030-01-31",
            "primary_contact_email": "PAT@acme.example",
            "line_items": "CW-CORE x 10 @ 1200.00",
            "stage": "negotiation",
        },
    )

    assert outcome.ok and outcome.action == "new"
    opportunity = Opportunity.objects.get(name="Imported deal")
    assert (
        opportunity.stage,
        opportunity.owner,
        opportunity.account,
        opportunity.primary_contact,
    ) == (
        "negotiation",
        rep,
        account,
        contact,
    )
    assert opportunity.amount == Decimal("12000.00")
    change = StageChange.objects.get(opportunity=opportunity)
    assert (change.transition, change.source, change.actor) == (
        "move_to_negotiation",
        Source.ADMIN,
        revops,
    )
    assert opportunity.history.earliest().history_user == revops


def test_a_row_asking_for_a_stage_it_does_not_meet_is_refused_whole(rep, revops):
    outcome = imports.opportunity_import_row(
        actor=revops,
        row={"name": "Thin deal", "owner": rep.username, "stage": "negotiation"},
        number=7,
    )

    assert outcome.number == 7 and outcome.action == "error"
    assert codes(outcome) == [
        "gate_failed",
        "account_required",
        "amount_required",
        "close_date_required",
        "primary_contact_required",
    ]
    assert not Opportunity.objects.filter(name="Thin deal").exists()  # the row is atomic


@pytest.mark.parametrize(
    ("stage", "code"),
    [("closed_won", "approval_required"), ("pending_approval", "permission_denied")],
)
def test_an_import_can_never_put_a_deal_past_the_approval(rep, revops, stage, code):
    opportunity = ready_opportunity(rep, stage="negotiation")

    outcome = imports.opportunity_import_row(
        actor=revops, row={"id": str(opportunity.pk), "stage": stage}
    )

    assert code in codes(outcome)
    assert stage_of(opportunity) == "negotiation"


def test_gated_fields_of_a_pending_deal_are_locked_in_imports_too(rep, revops):
    approval = pending_opportunity(rep)

    outcome = imports.opportunity_import_row(
        actor=revops, row={"id": str(approval.opportunity_id), "amount": "1.00"}
    )

    assert codes(outcome) == ["record_locked"]
    assert Opportunity.objects.get(pk=approval.opportunity_id).amount == Decimal("1000.00")


def test_mark_lost_from_an_import_needs_the_loss_reason(rep, revops):
    opportunity = ready_opportunity(rep, stage="proposal")

    refused = imports.opportunity_import_row(
        actor=revops, row={"id": str(opportunity.pk), "stage": "closed_lost"}
    )
    lost = imports.opportunity_import_row(
        actor=revops,
        row={"id": str(opportunity.pk), "stage": "Closed Lost", "loss_reason": "price"},
    )

    assert codes(refused) == ["reason_required"]
    assert lost.ok and lost.transitions == ["mark_lost"]
    assert stage_of(opportunity) == "closed_lost"


def test_a_lost_deal_is_reopened_before_it_moves(rep, revops):
    opportunity = ready_opportunity(rep, stage="closed_lost")

    outcome = imports.opportunity_import_row(
        actor=revops,
        row={"id": str(opportunity.pk), "stage": "proposal", "name": "Back from the dead"},
    )

    assert outcome.ok and outcome.transitions == ["reopen", "move_to_proposal"]
    opportunity.refresh_from_db()
    assert (opportunity.stage, opportunity.name) == ("proposal", "Back from the dead")


def test_a_file_imports_the_good_rows_and_reports_the_bad_ones(rep, revops):
    report = imports.import_rows(
        kind="opportunities",
        actor=revops,
        rows=rows(
            f"""
name,owner,amount,stage,currency
Good one,{rep.username},100,,USD
Bad currency,{rep.username},100,,US$
Unknown owner,nobody,100,,USD
Bad stage,{rep.username},100,won-ish,USD
Good two,{rep.username},,prospecting,EUR
"""
        ),
    )

    assert (report.rows, report.new, report.updated, report.skipped) == (5, 2, 0, 0)
    assert [(o.number, codes(o)) for o in report.failed] == [
        (2, ["invalid_currency"]),
        (3, ["does_not_exist"]),
        (4, ["invalid_choice"]),
    ]
    assert sorted(Opportunity.objects.values_list("name", flat=True)) == ["Good one", "Good two"]


def test_accounts_and_contacts_import_through_their_services(rep, revops):
    accounts = imports.import_rows(
        kind="accounts",
        actor=revops,
        rows=rows(
            f"""
name,domain,billing_country,owner,external_id
Acme,acme.example,us,{rep.username},crm-1
Bad country,x.example,XX,,crm-2
"""
        ),
    )
    contacts = imports.import_rows(
        kind="contacts",
        actor=revops,
        rows=rows(
            """
account_external_id,first_name,last_name,email
crm-1,Pat,Buyer,pat@acme.example
crm-404,Nobody,Home,nobody@example.com
"""
        ),
    )

    assert (accounts.new, [codes(o) for o in accounts.failed]) == (1, [["invalid_country"]])
    assert Account.objects.get(external_id="crm-1").billing_country == "US"
    assert (contacts.new, [codes(o) for o in contacts.failed]) == (1, [["does_not_exist"]])
    assert Contact.objects.get(email="pat@acme.example").account.external_id == "crm-1"


def test_a_contact_of_a_pending_deal_cannot_be_moved_by_an_import(rep, revops):
    approval = pending_opportunity(rep)
    contact = approval.opportunity.primary_contact
    elsewhere = AccountFactory()

    outcome = imports.contact_import_row(
        actor=revops, row={"id": str(contact.pk), "account": str(elsewhere.pk)}
    )

    assert codes(outcome) == ["record_locked"]


# --- through the admin (django-import-export) --------------------------------------------------


def export_csv(client, model: str) -> list[dict[str, str]]:
    """Export every column of ``model`` as CSV, the way the export page posts it."""
    url = reverse(f"admin:opportunities_{model}_export")
    form = client.get(url).context["form"]
    data = {"format": "0", "resource": "0"}
    data |= {
        name: "on" for name in form.fields if name not in ("format", "resource", "export_items")
    }
    response = client.post(url, data)
    assert response["Content-Type"].startswith("text/csv"), response.status_code
    return list(csv.DictReader(io.StringIO(response.getvalue().decode("utf-8-sig"))))


def test_the_admin_exports_deals_with_their_line_items_and_stage(rep, revops):
    approval = pending_opportunity(
        rep, seats=3, unit_price=Decimal("200.00"), amount=Decimal("600.00")
    )

    [row] = export_csv(client_for(revops), "opportunity")

    sku = approval.opportunity.line_items.get().product.sku
    assert row["stage"] == "pending_approval" and row["owner"] == rep.username
    assert row["line_items"] == f"{sku} x 3 @ 200.00"
    assert row["amount"] == "600.00"


def test_re_importing_an_export_changes_nothing_even_for_locked_deals(rep, revops):
    pending_opportunity(rep)
    ready_opportunity(rep, stage="proposal")
    client = client_for(revops)
    exported = export_csv(client, "opportunity")
    versions = dict(Opportunity.objects.values_list("pk", "version"))

    report = imports.import_rows(kind="opportunities", actor=revops, rows=exported)

    assert (report.skipped, report.failed) == (2, [])
    assert dict(Opportunity.objects.values_list("pk", "version")) == versions


def upload(client, text: str):
    url = reverse("admin:opportunities_opportunity_import")
    return client.post(
        url,
        {
            "format": "0",
            "resource": "0",
            "import_file": SimpleUploadedFile("deals.csv", text.encode(), content_type="text/csv"),
        },
    )


def test_the_admin_import_previews_then_imports_on_confirm(rep, revops):
    client = client_for(revops)

    preview = upload(client, f"name,owner,amount\nFrom the admin,{rep.username},250\n")

    assert preview.status_code == 200
    assert not Opportunity.objects.exists()  # the dry run rolled back
    confirm = preview.context["confirm_form"]
    done = client.post(
        reverse("admin:opportunities_opportunity_process_import"),
        {name: confirm.initial.get(name, "") for name in confirm.fields},
    )
    assert done.status_code == 302
    opportunity = Opportunity.objects.get(name="From the admin")
    assert (opportunity.owner, opportunity.stage, opportunity.amount) == (
        rep,
        "prospecting",
        Decimal("250"),
    )


def test_the_admin_import_lists_invalid_rows_and_offers_no_confirm(rep, revops):
    client = client_for(revops)

    preview = upload(
        client, f"name,owner,stage\nOk,{rep.username},\nNot ready,{rep.username},proposal\n"
    )

    result = preview.context["result"]
    assert preview.context.get("confirm_form") is None
    [invalid] = result.invalid_rows
    assert invalid.number == 2
    assert {e.code for errs in invalid.error.error_dict.values() for e in errs} >= {
        "gate_failed",
        "account_required",
        "amount_required",
    }
    assert not Opportunity.objects.exists()


def test_reps_cannot_import(rep):
    response = client_for(rep).get(reverse("admin:opportunities_opportunity_import"))

    assert response.status_code == 302 and "/admin/login/" in response["Location"]


@pytest.mark.parametrize(
    ("column", "value", "code"),
    [
        ("id", "inf", "invalid"),
        ("id", "1e999", "invalid"),
        ("id", "9" * 30, "invalid"),
        ("id", "NaN", "invalid"),
        ("account_id", "-inf", "invalid"),
        ("owner", "\u00b2", "does_not_exist"),
        ("owner", "\u0663", "does_not_exist"),
    ],
)
def test_an_odd_number_fails_its_row_not_the_file(rep, revops, column, value, code):
    """One cell that is no database integer ("inf", "1e999", a superscript) is that row's
    error with its line number; the other rows import."""
    cells = {"name": "Odd", "owner": rep.username, column: value}
    report = imports.import_rows(
        kind="opportunities",
        actor=revops,
        rows=[cells, {"name": "Fine", "owner": rep.username}],
    )
    assert [(o.number, codes(o)) for o in report.failed] == [(1, [code])]
    assert list(Opportunity.objects.values_list("name", flat=True)) == ["Fine"]
