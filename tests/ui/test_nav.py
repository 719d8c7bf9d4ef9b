"""The top bar marks the section the rep is in."""

from __future__ import annotations

import re

import pytest

from tests.admin.conftest import client_for
from tests.factories import ready_opportunity

pytestmark = pytest.mark.django_db


def _current(html: str) -> list[str]:
    return re.findall(r'<a href="[^"]*" aria-current="page">([^<]+)</a>', html)


def test_every_opportunity_page_marks_deals_and_no_other_section(rep):
    client = client_for(rep)
    opportunity = ready_opportunity(rep)
    for url in ("/opportunities/", "/opportunities/new/", f"/opportunities/{opportunity.pk}/"):
        assert _current(client.get(url).content.decode()) == ["Deals"], url
    assert _current(client.get("/pipeline/").content.decode()) == ["Pipeline"]
    assert _current(client.get("/dashboard/").content.decode()) == ["Dashboard"]
