"""Numbers typed into URLs: superscripts ("²" is a digit to str.isdigit(), not to int()),
other scripts' digits ("٣") and ids too big for the database never make a 500 — on the rep
pages, the admin pages with an id in the path, and the forms."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from tests.admin.conftest import client_for

pytestmark = pytest.mark.django_db

ODD = ["\u00b2", "\u0663", "1\u00b3", "9" * 30, "-1", "abc"]


@pytest.mark.parametrize("raw", ODD)
def test_rep_pages_ignore_an_odd_owner_or_account(rep, raw):
    client = client_for(rep)
    for url in (
        f"/pipeline/?scope=all&owner={quote(raw)}",
        f"/opportunities/?owner={quote(raw)}",
        f"/dashboard/?owner={quote(raw)}",
        f"/opportunities/new/?account={quote(raw)}&primary_contact={quote(raw)}",
    ):
        assert client.get(url).status_code == 200, url


@pytest.mark.parametrize("raw", ODD)
def test_admin_pages_with_an_odd_id_are_not_found_not_a_500(revops, raw):
    client = client_for(revops)
    for base in (
        "/admin/opportunities/closedwonapproval/",
        "/admin/amendments/amendment/",
        "/admin/jobs/bulkjob/",
    ):
        response = client.get(f"{base}{quote(raw)}/change/")
        # The admin's answer to a missing object: back to the list (302) or a 404.
        assert response.status_code in (302, 404), (base, response.status_code)
