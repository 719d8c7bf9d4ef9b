"""opportunities.selectors.line_items_loaded: the deal's line items read once, as the
shared prefetch reads them, built without Model.__init__ (core.db.instances_from_rows)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db.models import prefetch_related_objects
from django.db.models.signals import post_init

from core.db import instances_from_rows
from opportunities.models import LineItem, Opportunity, Product, line_items_prefetch
from opportunities.selectors.opportunities import line_items_loaded
from tests.factories import LineItemFactory, ProductFactory, ready_opportunity

pytestmark = pytest.mark.django_db


def _deal(rep, lines: int = 3) -> Opportunity:
    deal = ready_opportunity(rep, lines=0, amount=Decimal("30.00"))
    for n in range(lines):
        product = ProductFactory(list_price=Decimal("12.5000") if n % 2 else None)
        LineItemFactory(opportunity=deal, product=product, seats=n + 1, unit_price=Decimal("10.00"))
    return deal


def _fields(instance) -> dict:
    return {k: v for k, v in instance.__dict__.items() if k != "_state"}


def test_the_same_line_items_as_the_prefetch_in_one_query(rep, django_assert_num_queries):
    deal = _deal(rep)
    expected = Opportunity.objects.get(pk=deal.pk)
    prefetch_related_objects([expected], line_items_prefetch())
    want = list(expected.line_items.all())

    fresh = Opportunity.objects.get(pk=deal.pk)
    with django_assert_num_queries(1):
        got = line_items_loaded(fresh)
        assert line_items_loaded(fresh) == got  # read once per instance
        assert list(fresh.line_items.all()) == got  # where prefetch_related keeps them
        for line in got:
            assert line.opportunity is fresh
            assert line.product.sku  # cached: no query

    assert [line.pk for line in got] == [line.pk for line in want]
    for line, other in zip(got, want, strict=True):
        assert _fields(line) == _fields(other)
        assert _fields(line.product) == _fields(other.product)
        assert (
            line.get_deferred_fields()
            == other.get_deferred_fields()
            == {
                "created_at",
                "updated_at",
            }
        )
        assert (line._state.adding, line._state.db) == (False, "default")
    # A deferred field still reads on demand, as with the prefetch.
    assert got[0].created_at == LineItem.objects.get(pk=got[0].pk).created_at
    # A query chained on the cached line items joins their products, as the prefetch's.
    with django_assert_num_queries(1):
        assert [line.product.sku for line in fresh.line_items.filter(seats__gte=2)] == [
            line.product.sku for line in want[1:]
        ]


def test_a_deal_without_line_items_reads_an_empty_list(rep, django_assert_num_queries):
    deal = _deal(rep, lines=0)
    fresh = Opportunity.objects.get(pk=deal.pk)
    with django_assert_num_queries(1):
        assert line_items_loaded(fresh) == []
        assert list(fresh.line_items.all()) == []


def test_a_loaded_instance_saves_as_an_update(rep):
    deal = _deal(rep, lines=1)
    line = line_items_loaded(Opportunity.objects.get(pk=deal.pk))[0]
    line.seats = 7
    line.save(update_fields=["seats"])
    assert LineItem.objects.get(pk=line.pk).seats == 7
    assert LineItem.objects.count() == 1


def test_a_listener_of_model_instantiation_is_not_skipped(rep):
    deal = _deal(rep, lines=2)
    seen: list[Product] = []

    def listener(sender, instance, **kwargs):
        seen.append(instance)

    post_init.connect(listener, sender=Product)
    try:
        got = line_items_loaded(Opportunity.objects.get(pk=deal.pk))
    finally:
        post_init.disconnect(listener, sender=Product)
    assert [p.pk for p in seen] == [line.product.pk for line in got]


@pytest.mark.parametrize("listened", [False, True], ids=["built", "from_db"])
def test_instances_from_rows_equal_from_db(listened):
    products = [ProductFactory(list_price=Decimal("99.0000")), ProductFactory()]
    names = ["name", "id", "list_price", "sku"]  # not in the model's order
    rows = list(Product.objects.order_by("id").values_list(*names))

    def listener(sender, instance, **kwargs):
        pass

    if listened:
        post_init.connect(listener, sender=Product)
    try:
        built = instances_from_rows(Product, names, rows, "default")
        with pytest.raises(ValueError):
            instances_from_rows(Product, names, [rows[0][:-1]], "default")
    finally:
        post_init.disconnect(listener, sender=Product)
    loaded = list(Product.objects.order_by("id").only(*names))
    assert [p.pk for p in built] == [p.pk for p in products]
    for one, other in zip(built, loaded, strict=True):
        assert type(one) is Product
        assert _fields(one) == _fields(other)
        assert one.get_deferred_fields() == other.get_deferred_fields()
        assert (one._state.adding, one._state.db) == (False, "default")
