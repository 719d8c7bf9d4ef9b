"""The change feed: every committed change exactly once, in an order that never changes.

These tests commit for real (``transaction=True``): the feed serves only events of
transactions older than every running one, so a test transaction left open would hide
its own writes.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from currencies.models import ExchangeRate
from events.models import Event
from events.selectors import cursor_for
from events.services import event_record, events_purge
from opportunities import services
from opportunities.api import feed as feed_module
from opportunities.models import Opportunity
from opportunities.stages import Source
from tests.api.conftest import client_for, problem
from tests.factories import AccountFactory, ProductFactory, make_user, ready_opportunity

pytestmark = pytest.mark.django_db(transaction=True)


def feed(client: Any, after: str | None = None, **params: Any) -> dict[str, Any]:
    query = {k: v for k, v in {"after": after, **params}.items() if v is not None}
    response = client.get("/api/v1/events/", query)
    assert response.status_code == 200, response.content
    return response.json()


def drain(
    client: Any, after: str | None = None, limit: int = 3, expect: int | None = None
) -> tuple[list[dict], str | None]:
    """Follow the feed to its end. With ``expect``, keep polling until that many events
    came (up to 15 s): a transaction still open anywhere on the PostgreSQL cluster (another
    test run, a vacuum) holds the feed back until it ends, by design."""
    seen: list[dict] = []
    deadline = time.monotonic() + 15
    while True:
        page = feed(client, after, limit=limit)
        seen += page["results"]
        after = page["next_cursor"] or after
        if not page["results"]:
            if expect is None or len(seen) >= expect or time.monotonic() > deadline:
                return seen, after
            time.sleep(0.05)


def test_every_write_records_the_object_as_the_api_shows_it():
    rep, revops = make_user("rep"), make_user("revops")
    client = client_for(rep)
    account = services.account_create(actor=rep, data={"name": "Acme"})
    services.account_update(account=account, actor=rep, data={"domain": "acme.example"})
    contact = services.contact_create(
        actor=rep, data={"account": account, "last_name": "Doe", "email": "doe@example.com"}
    )
    services.contact_update(contact=contact, actor=rep, data={"title": "CFO"})
    product = services.product_create(actor=revops, data={"sku": "SKU-1", "name": "Seat"})
    services.product_update(product=product, actor=revops, data={"name": "Seat+"})
    opportunity = ready_opportunity(rep)
    services.opportunity_update(opportunity=opportunity, actor=rep, data={"name": "Bigger"})
    services.opportunity_transition(
        opportunity=opportunity, name="submit_for_approval", actor=rep, source=Source.API
    )
    services.opportunity_transition(opportunity=opportunity, name="approve", actor=revops)

    events, _ = drain(client, expect=9)
    assert [e["type"] for e in events] == [
        "account.created",
        "account.updated",
        "contact.created",
        "contact.updated",
        "product.created",
        "product.updated",
        "opportunity.updated",
        "opportunity.stage_changed",
        "opportunity.approved",
    ]
    assert set(events[0]) == {
        "id", "cursor", "type", "object", "object_id", "version", "occurred_at", "actor", "data",
    }  # fmt: skip
    assert events[-1]["data"] == client.get(f"/api/v1/opportunities/{opportunity.pk}/").json()
    assert events[-1]["version"] == events[-1]["data"]["version"] == 4
    assert events[-1]["actor"] == revops.pk and events[-1]["object_id"] == opportunity.pk
    assert events[1]["data"] == client.get(f"/api/v1/accounts/{account.pk}/").json()
    assert events[3]["data"]["title"] == "CFO" and events[5]["data"]["name"] == "Seat+"


def test_a_rolled_back_write_leaves_no_event():
    rep = make_user("rep")
    opportunity = ready_opportunity(rep)
    with pytest.raises(RuntimeError), transaction.atomic():
        services.opportunity_update(opportunity=opportunity, actor=rep, data={"name": "Gone"})
        raise RuntimeError
    assert not Event.objects.exists()
    with pytest.raises(transaction.TransactionManagementError):
        event_record(instance=opportunity, change="updated", actor=rep)


def test_after_filters_limits_and_bad_cursors():
    rep = make_user("rep")
    client = client_for(rep)
    account = AccountFactory(owner=rep)
    for index in range(4):
        services.account_update(account=account, actor=rep, data={"name": f"Acme {index}"})
    opportunity = ready_opportunity(rep)
    services.opportunity_update(opportunity=opportunity, actor=rep, data={"name": "Renamed"})

    drain(client, expect=5)
    first = feed(client, limit=2)
    assert [e["data"]["name"] for e in first["results"]] == ["Acme 0", "Acme 1"]
    rest = feed(client, first["next_cursor"])
    assert [e["type"] for e in rest["results"]] == ["account.updated"] * 2 + ["opportunity.updated"]
    empty = feed(client, rest["next_cursor"])
    assert empty == {"results": [], "next_cursor": rest["next_cursor"]}
    only = feed(client, object="opportunity")["results"]
    assert [e["object_id"] for e in only] == [opportunity.pk]
    assert feed(client, type="account.updated,opportunity.updated", limit=500)["results"]
    assert feed(client)["results"][0]["cursor"] == first["results"][0]["cursor"]

    for query in (
        "limit=0",
        "limit=501",
        "limit=x",
        "limit=%C2%B2",
        "limit=%D9%A3",
        "type=bad",
        "object=user",
        "after=bm90LWEtY3Vyc29y",
    ):
        body = problem(client.get(f"/api/v1/events/?{query}"), 400, "invalid")
        assert body["errors"][0]["field"] == query.split("=")[0]
    body = problem(client.get("/api/v1/events/?aftr=x"), 400, "invalid")
    assert body["errors"] == [
        {"code": "unknown_parameter", "field": "aftr", "message": "Unknown query parameter."}
    ]
    problem(client_for(None).get("/api/v1/events/"), 401, "not_authenticated")


def test_purge_keeps_the_retention_and_an_older_cursor_is_410():
    rep = make_user("rep")
    client = client_for(rep)
    account = AccountFactory(owner=rep)
    services.account_update(account=account, actor=rep, data={"name": "Old"})
    _, old_cursor = drain(client, expect=1)
    services.account_update(account=account, actor=rep, data={"name": "New"})
    Event.objects.filter(data__name="Old").update(
        occurred_at=timezone.now() - dt.timedelta(days=31)
    )
    assert events_purge() == 1
    assert [e["data"]["name"] for e in drain(client, expect=1)[0]] == ["New"]
    body = problem(client.get("/api/v1/events/", {"after": old_cursor}), 410, "cursor_expired")
    assert "resync" in body["detail"]
    # A cursor past the newest event was never issued by this feed: a 400, not "resync".
    newest = Event.objects.order_by("-id").values_list("id", flat=True).first()
    problem(client.get("/api/v1/events/", {"after": cursor_for(newest + 1000)}), 400, "invalid")


def test_an_event_is_not_served_while_an_older_transaction_is_uncommitted():
    """The sync race: a slow approve (holding its lock, its transaction started first) and
    a quick PATCH of another deal that commits first. A client polling in between must not
    advance past the approve; once it commits, the client sees both, exactly once, the
    approve first."""
    assert connection.vendor == "postgresql", (
        "xid visibility is PostgreSQL's: make test runs on PostgreSQL"
    )
    rep, revops = make_user("rep"), make_user("revops")
    client = client_for(make_user("rep"))
    slow = ready_opportunity(rep)
    services.opportunity_transition(
        opportunity=slow, name="submit_for_approval", actor=rep, source=Source.API
    )
    quick = ready_opportunity(rep)
    _, cursor = drain(client, expect=1)

    locked, go, done = threading.Event(), threading.Event(), threading.Event()
    failure: list[BaseException] = []

    def approve_slowly() -> None:
        try:
            with transaction.atomic():
                # Takes the row lock first: this transaction is older than the PATCH below.
                Opportunity.objects.select_for_update().get(pk=slow.pk)
                locked.set()
                assert go.wait(10)
                services.opportunity_transition(
                    opportunity=slow.pk, name="approve", actor=revops, source=Source.API
                )
        except BaseException as exc:  # noqa: BLE001 - reported to the test thread
            failure.append(exc)
        finally:
            connections.close_all()
            done.set()

    worker = threading.Thread(target=approve_slowly)
    worker.start()
    assert locked.wait(10)
    response = client_for(rep).patch(
        f"/api/v1/opportunities/{quick.pk}/", {"name": "Quick"}, format="json"
    )
    assert response.status_code == 200
    # The PATCH has committed, but an older transaction is still open: nothing is served.
    during = feed(client, cursor)
    assert during["results"] == [] and during["next_cursor"] == cursor
    go.set()
    assert done.wait(20)
    worker.join()
    assert not failure, failure
    events, _ = drain(client, cursor, expect=2)
    assert [(e["object_id"], e["type"]) for e in events] == [
        (slow.pk, "opportunity.approved"),
        (quick.pk, "opportunity.updated"),
    ]


def test_a_sync_loop_sees_every_committed_change_exactly_once_in_order():
    """Writers in threads, some holding their transaction open, while a client polls the
    feed: at the end it has every event once, and each deal's versions only go up."""
    assert connection.vendor == "postgresql", "concurrent writers: make test runs on PostgreSQL"
    rep = make_user("rep")
    opportunities = [ready_opportunity(rep) for _ in range(4)]
    client = client_for(make_user("rep"))
    failure: list[BaseException] = []

    def writer(opportunity: Opportunity, hold: float) -> None:
        try:
            for round_ in range(6):
                with transaction.atomic():
                    services.opportunity_update(
                        opportunity=opportunity.pk,
                        actor=rep,
                        data={"name": f"{opportunity.pk}-{round_}"},
                    )
                    time.sleep(hold)
        except BaseException as exc:  # noqa: BLE001
            failure.append(exc)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=writer, args=(opportunity, hold))
        for opportunity, hold in zip(opportunities, (0.0, 0.15, 0.02, 0.3), strict=True)
    ]
    for thread in threads:
        thread.start()
    seen: list[dict] = []
    after = None
    while any(t.is_alive() for t in threads):
        page = feed(client, after, limit=2)
        seen += page["results"]
        after = page["next_cursor"]
    for thread in threads:
        thread.join()
    rest, _ = drain(client, after, expect=24 - len(seen))
    seen += rest
    assert not failure, failure
    assert sorted(e["id"] for e in seen) == sorted(Event.objects.values_list("id", flat=True))
    assert len({e["id"] for e in seen}) == len(seen) == 24
    for opportunity in opportunities:
        versions = [e["version"] for e in seen if e["object_id"] == opportunity.pk]
        assert versions == list(range(2, 8)), versions


def test_the_kept_serializer_starts_each_event_with_todays_rates_and_its_own_thread(settings):
    """The opportunity's event serializer is built once per thread; what one event worked
    out (today's rate of a currency, a line's price) must not reach the next."""
    settings.REPORTING_CURRENCY = "USD"
    rep, revops = make_user("rep"), make_user("revops")
    product = ProductFactory(list_price=Decimal("100"))
    deals = []
    for _ in range(2):
        deal = ready_opportunity(rep, currency="EUR", unit_price=Decimal("90"))
        deal.line_items.update(product=product)
        deals.append(deal)
    rate = ExchangeRate.objects.create(
        currency="EUR", rate=Decimal("1.1"), valid_from="2000-01-01", created_by=revops
    )

    def discount(deal: Opportunity) -> str:
        fresh = Opportunity.objects.get(pk=deal.pk)
        return feed_module._opportunity(fresh)["line_items"][0]["discount_pct"]

    assert discount(deals[0]) == "1.00"  # 90 EUR = 99.00 USD against 100
    ExchangeRate.objects.filter(pk=rate.pk).update(rate=Decimal("1.0"))
    assert discount(deals[1]) == "10.00"  # 90 EUR = 90.00 USD: the new rate, not the kept one
    assert discount(deals[0]) == "10.00"

    client = client_for(rep)
    shown = client.get(f"/api/v1/opportunities/{deals[0].pk}/").json()
    assert feed_module._opportunity(Opportunity.objects.get(pk=deals[0].pk)) == shown

    seen: dict[str, Any] = {}

    def other_thread() -> None:
        try:
            seen["before"] = getattr(feed_module._serializers, "opportunity", None)
            seen["discount"] = discount(deals[1])
            seen["after"] = feed_module._serializers.opportunity
        finally:
            connections.close_all()

    mine = feed_module._serializers.opportunity
    worker = threading.Thread(target=other_thread)
    worker.start()
    worker.join()
    assert seen["before"] is None and seen["discount"] == "10.00"
    assert seen["after"] is not mine
