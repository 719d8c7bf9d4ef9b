"""RevOps see each line's discount in the queue (as submitted) and on the approval page."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from opportunities.models import Product
from tests.admin.conftest import client_for, opportunity_url, submit
from tests.factories import ready_opportunity

pytestmark = pytest.mark.django_db


def test_the_queue_row_and_the_approval_page_show_the_line_discount(rep, revops, queue_url):
    opportunity = ready_opportunity(rep, unit_price=Decimal("70.00"))
    Product.objects.filter(line_items__opportunity=opportunity).update(list_price=Decimal("100"))
    plain = ready_opportunity(rep, name="No list price")
    approval = submit(opportunity)
    submit(plain)
    client = client_for(revops)

    html = client.get(queue_url).content.decode()
    row = re.search(rf"<tr>(?:(?!</tr>).)*{re.escape(opportunity.name)}.*?</tr>", html, re.S).group(
        0
    )
    assert "data-discount='30.00'" in row and "30 %" in row
    other = re.search(r"<tr>(?:(?!</tr>).)*No list price.*?</tr>", html, re.S).group(0)
    assert "data-discount" not in other

    page = client.get(opportunity_url(approval)).content.decode()
    lines = re.search(r'id="line-items".*?</table>', page, re.S).group(0)
    assert 'data-discount="30.00"' in lines and "30 %" in lines and "$100" in lines


def test_a_line_at_its_list_price_shows_no_discount_in_the_queue(rep, revops, queue_url):
    opportunity = ready_opportunity(rep, unit_price=Decimal("100.00"), name="At list price")
    Product.objects.filter(line_items__opportunity=opportunity).update(list_price=Decimal("100"))
    submit(opportunity)

    html = client_for(revops).get(queue_url).content.decode()

    row = re.search(r"<tr>(?:(?!</tr>).)*At list price.*?</tr>", html, re.S).group(0)
    assert "data-discount" not in row
