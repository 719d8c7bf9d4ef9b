"""Creating an account or a contact from the deal form: htmx dialog and no-JS page."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from opportunities.models import Account, Contact
from tests.factories import AccountFactory, ContactFactory

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def test_htmx_account_creation_returns_the_account_select_with_it_chosen(rep, rep_client):
    response = rep_client.post(
        "/opportunities/new-account/",
        {"new_account-name": "Wonka", "new_account-billing_country": "gb"},
        headers=HTMX,
    )
    account = Account.objects.get(name="Wonka")
    assert (account.owner, account.billing_country) == (rep, "GB")
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="account-field">')
    assert f'<option value="{account.pk}" selected>Wonka</option>' in html
    assert json.loads(response["HX-Trigger"]) == {
        "closedwon:account-created": {"id": account.pk, "name": "Wonka"}
    }


def test_htmx_account_errors_come_back_into_the_dialog(rep_client):
    response = rep_client.post(
        "/opportunities/new-account/",
        {"new_account-name": "", "new_account-billing_country": "ZZ"},
        headers=HTMX,
    )
    assert response["HX-Retarget"] == "#account-dialog-body"
    assert set(response.context["account_form"].errors) == {"name", "billing_country"}
    assert not Account.objects.exists()


def test_no_js_account_page_returns_to_the_deal_form_with_the_account(rep_client):
    back = "/opportunities/new/"
    page = rep_client.get(f"/opportunities/new-account/?next={quote(back)}")
    assert page.status_code == 200 and 'name="name"' in page.content.decode()
    response = rep_client.post("/opportunities/new-account/", {"name": "Initech", "next": back})
    account = Account.objects.get(name="Initech")
    assert response["Location"] == f"/opportunities/new/?account={account.pk}"


def test_htmx_contact_creation_returns_the_contact_select_with_it_chosen(rep, rep_client):
    account = AccountFactory(owner=rep)
    ContactFactory(account=account, last_name="Existing")
    response = rep_client.post(
        "/opportunities/new-contact/",
        {
            "new_contact-account": account.pk,
            "new_contact-first_name": "Pat",
            "new_contact-last_name": "Buyer",
            "new_contact-email": "pat@buyer.example",
        },
        headers=HTMX,
    )
    contact = Contact.objects.get(last_name="Buyer")
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="contact-field">')
    assert f'<option value="{contact.pk}" selected>Pat Buyer · pat@buyer.example</option>' in html
    assert "Existing" in html  # the account's other contacts stay available
    assert "closedwon:contact-created" in response["HX-Trigger"]


def test_a_contact_needs_an_account_and_a_last_name(rep_client):
    response = rep_client.post(
        "/opportunities/new-contact/",
        {"new_contact-account": "", "new_contact-last_name": ""},
        headers=HTMX,
    )
    assert response["HX-Retarget"] == "#contact-dialog-body"
    assert set(response.context["contact_form"].errors) == {"account", "last_name"}


def test_no_js_contact_page_returns_with_account_and_contact(rep, rep_client):
    account = AccountFactory(owner=rep)
    back = "/opportunities/new/"
    response = rep_client.post(
        "/opportunities/new-contact/",
        {"account": account.pk, "last_name": "Lee", "email": "lee@example.com", "next": back},
    )
    contact = Contact.objects.get(last_name="Lee")
    assert (
        response["Location"]
        == f"/opportunities/new/?account={account.pk}&primary_contact={contact.pk}"
    )


def test_changing_the_account_reloads_its_contacts(rep_client):
    a, b = AccountFactory(), AccountFactory()
    in_a = ContactFactory(account=a)
    in_b = ContactFactory(account=b)
    html = rep_client.get(f"/opportunities/contact-field/?account={b.pk}").content.decode()
    assert f'value="{in_b.pk}"' in html and f'value="{in_a.pk}"' not in html
    html = rep_client.get("/opportunities/contact-field/?account=").content.decode()
    assert "Choose the account first" in html
