"""Accounts, contacts and products: create, read, PATCH, filters — through the services."""

from __future__ import annotations

import json

import pytest

from opportunities import services
from opportunities.models import Account, Contact, Product
from opportunities.stages import Source
from tests.api.conftest import problem
from tests.factories import AccountFactory, ContactFactory, ProductFactory, ready_opportunity

pytestmark = pytest.mark.django_db


def send(client, method, path, body):
    return getattr(client, method)(path, data=json.dumps(body), content_type="application/json")


def test_create_and_update_an_account(api, rep, revops):
    client = api(rep)
    created = send(
        client, "post", "/api/v1/accounts/", {"name": "  Acme  ", "billing_country": "DE"}
    )
    assert created.status_code == 201
    body = created.json()
    assert (body["name"], body["owner"], body["external_id"]) == ("Acme", rep.pk, None)
    # The CRM id is written by RevOps or an integration user, never by a rep.
    problem(
        send(client, "patch", f"/api/v1/accounts/{body['id']}/", {"external_id": "crm-1"}),
        403,
        "permission_denied",
    )
    synced = send(api(revops), "patch", f"/api/v1/accounts/{body['id']}/", {"external_id": "crm-1"})
    assert synced.status_code == 200
    assert created["Location"] == f"/api/v1/accounts/{body['id']}/"

    updated = send(client, "patch", f"/api/v1/accounts/{body['id']}/", {"domain": "acme.de"})
    assert updated.status_code == 200 and updated.json()["domain"] == "acme.de"
    assert client.get("/api/v1/accounts/?external_id=crm-1").json()["results"].__len__() == 1


def test_account_validation_comes_from_the_model(api, revops):
    AccountFactory(external_id="taken")
    body = problem(
        send(
            api(revops),
            "post",
            "/api/v1/accounts/",
            {"name": "X", "billing_country": "ZZ", "external_id": "taken"},
        ),
        400,
        "invalid",
    )
    assert {e["field"] for e in body["errors"]} == {"billing_country", "external_id"}
    assert Account.objects.count() == 1


def test_create_a_contact_and_search(api, rep):
    account = AccountFactory(owner=rep)
    client = api(rep)
    response = send(
        client,
        "post",
        "/api/v1/contacts/",
        {"account": account.pk, "first_name": "Ada", "last_name": "King", "email": "ada@x.io"},
    )
    assert response.status_code == 201
    assert client.get("/api/v1/contacts/?search=ada@").json()["results"].__len__() == 1
    assert client.get(f"/api/v1/contacts/?account={account.pk}").json()["results"].__len__() == 1


def test_a_contact_of_a_pending_deal_cannot_lose_its_email(api, rep):
    opportunity = ready_opportunity(rep)
    services.opportunity_transition(
        opportunity=opportunity, name="submit_for_approval", actor=rep, source=Source.API
    )
    problem(
        send(
            api(rep), "patch", f"/api/v1/contacts/{opportunity.primary_contact_id}/", {"email": ""}
        ),
        409,
        "record_locked",
    )
    assert Contact.objects.get(pk=opportunity.primary_contact_id).email


def test_products_are_revops_only_to_change(api, rep, revops):
    created = send(api(revops), "post", "/api/v1/products/", {"sku": "SEAT-1", "name": "Seat"})
    assert created.status_code == 201
    pk = created.json()["id"]
    problem(
        send(api(rep), "patch", f"/api/v1/products/{pk}/", {"active": False}),
        403,
        "permission_denied",
    )
    assert (
        send(api(revops), "patch", f"/api/v1/products/{pk}/", {"active": False}).json()["active"]
        is False
    )
    assert api(rep).get("/api/v1/products/?active=false").json()["results"].__len__() == 1


def test_a_duplicate_sku_is_invalid(api, revops):
    ProductFactory(sku="DUP")
    body = problem(
        send(api(revops), "post", "/api/v1/products/", {"sku": "DUP", "name": "Again"}),
        400,
        "invalid",
    )
    assert body["errors"][0]["field"] == "sku"
    assert Product.objects.count() == 1


def test_patch_with_no_fields_changes_nothing(api, rep):
    contact = ContactFactory(account=AccountFactory(owner=rep))
    response = send(api(rep), "patch", f"/api/v1/contacts/{contact.pk}/", {})
    assert response.status_code == 200 and response.json()["last_name"] == contact.last_name


def test_an_integration_user_with_sync_records_writes_external_ids(api, rep):
    from django.contrib.auth.models import Permission

    from tests.factories import make_user

    crm = make_user("rep", "crm_sync")
    crm.user_permissions.add(
        Permission.objects.get(codename="sync_records", content_type__app_label="opportunities")
    )
    account = AccountFactory(owner=rep)
    response = send(
        api(crm),
        "patch",
        f"/api/v1/accounts/{account.pk}/",
        {"external_id": "crm-77", "owner": rep.pk},
    )
    assert response.status_code == 200, response.content
    assert response.json()["external_id"] == "crm-77"
    # ...while the account's own rep may not reassign it to someone else
    other = make_user("rep", "rep_other")
    problem(
        send(api(rep), "patch", f"/api/v1/accounts/{account.pk}/", {"owner": other.pk}),
        403,
        "permission_denied",
    )
