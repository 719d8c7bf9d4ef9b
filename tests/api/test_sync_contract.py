"""What a sync client relies on: strict input, cursor pages that neither skip nor repeat,
precise protocol answers, expiring and revocable tokens."""

from __future__ import annotations

import datetime as dt
import json
import threading
from io import StringIO

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.db import connections
from django.utils import timezone
from knox.models import AuthToken

from opportunities import services
from opportunities.models import Account, LineItem, Opportunity
from opportunities.stages import Source
from tests.api.conftest import client_for, db_state, problem
from tests.factories import (
    ContactFactory,
    OpportunityFactory,
    ProductFactory,
    make_user,
    ready_opportunity,
)

pytestmark = pytest.mark.django_db


def fields(body):
    return {(e["field"], e["code"]) for e in body["errors"]}


# --- wrong types: a 400 naming the field, on every write -------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("post", "/api/v1/accounts/", {"name": 12345}, "name"),
        ("patch", "/api/v1/accounts/{account}/", {"name": 12345}, "name"),
        ("patch", "/api/v1/accounts/{account}/", {"owner": "1"}, "owner"),
        ("post", "/api/v1/contacts/", {"account": True, "last_name": "D"}, "account"),
        ("patch", "/api/v1/contacts/{contact}/", {"last_name": ["D"]}, "last_name"),
        ("post", "/api/v1/products/", {"sku": "S", "name": "N", "active": "true"}, "active"),
        ("post", "/api/v1/opportunities/", {"name": "N", "amount": 1.5}, "amount"),
        ("patch", "/api/v1/opportunities/{opportunity}/", {"amount": 1000}, "amount"),
        ("patch", "/api/v1/opportunities/{opportunity}/", {"term_months": "12"}, "term_months"),
        ("patch", "/api/v1/opportunities/{opportunity}/", {"term_months": 12.0}, "term_months"),
        ("patch", "/api/v1/opportunities/{opportunity}/", {"currency": 840}, "currency"),
        (
            "patch",
            "/api/v1/opportunities/{opportunity}/",
            {"line_items": [{"product": 1, "seats": "2"}]},
            "line_items[0].seats",
        ),
        (
            "post",
            "/api/v1/opportunities/{opportunity}/transitions/mark_lost/",
            {"reason": 1},
            "reason",
        ),
    ],
)
def test_a_wrong_json_type_is_invalid_and_changes_nothing(api, method, path, body, field):
    rep, revops = make_user("rep"), make_user("revops")
    opportunity = ready_opportunity(rep)
    contact = ContactFactory(account=opportunity.account)
    path = path.format(
        account=opportunity.account_id, contact=contact.pk, opportunity=opportunity.pk
    )
    before = (db_state(), Account.objects.count(), list(Account.objects.values_list("name")))
    user = revops if "products" in path else rep
    response = getattr(api(user), method)(
        path, data=json.dumps(body), content_type="application/json"
    )
    answer = problem(response, 400, "invalid")
    assert (field, "invalid") in fields(answer), answer
    assert before == (
        db_state(),
        Account.objects.count(),
        list(Account.objects.values_list("name")),
    )


@pytest.mark.parametrize(
    ("path", "body", "expected"),
    [
        ("/api/v1/accounts/{account}/", {"id": 9, "updated_at": "x"}, {"id", "updated_at"}),
        ("/api/v1/contacts/{contact}/", {"created_at": "x"}, {"created_at"}),
        (
            "/api/v1/opportunities/{opportunity}/",
            {"version": 9, "closed_at": None},
            {"version", "closed_at"},
        ),
    ],
)
def test_read_only_fields_in_a_patch_are_named(api, rep, path, body, expected):
    opportunity = ready_opportunity(rep)
    contact = ContactFactory(account=opportunity.account)
    path = path.format(
        account=opportunity.account_id, contact=contact.pk, opportunity=opportunity.pk
    )
    answer = problem(api(rep).patch(path, body, format="json"), 400, "invalid")
    assert fields(answer) == {(name, "read_only_field") for name in expected}


def test_stage_in_a_transition_body_is_read_only(api, rep):
    opportunity = ready_opportunity(rep)
    before = db_state()
    response = api(rep).post(
        f"/api/v1/opportunities/{opportunity.pk}/transitions/submit_for_approval/",
        {"stage": "closed_won"},
        format="json",
    )
    assert fields(problem(response, 400, "invalid")) == {("stage", "read_only_field")}
    assert db_state() == before


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/opportunities/?updated_sinc=2099-01-01",
        "/api/v1/accounts/?updated_sinc=2099-01-01",
        "/api/v1/contacts/?foo=1",
        "/api/v1/products/?offset=10",
        "/api/v1/approvals/?ordering=submitted_at",
        "/api/v1/handoffs/?page=2",
        "/api/v1/opportunities/{opportunity}/?fields=id",
        "/api/v1/opportunities/{opportunity}/history/?stage=won",
        "/api/v1/opportunities/{opportunity}/transitions/?verbose=1",
    ],
)
def test_an_unknown_query_parameter_is_named_not_ignored(api, rep, path):
    opportunity = ready_opportunity(rep)
    path = path.format(opportunity=opportunity.pk)
    answer = problem(api(rep).get(path), 400, "invalid")
    name = path.split("?")[1].split("=")[0]
    assert fields(answer) == {(name, "unknown_parameter")}


def test_an_unknown_query_parameter_on_a_write_is_refused_before_the_write(api, rep):
    response = api(rep).post("/api/v1/accounts/?dry_run=1", {"name": "Acme"}, format="json")
    assert fields(problem(response, 400, "invalid")) == {("dry_run", "unknown_parameter")}
    assert not Account.objects.filter(name="Acme").exists()


def test_a_line_item_id_must_be_one_of_this_deals(api, rep):
    opportunity = ready_opportunity(rep)
    other = ready_opportunity(rep)
    theirs = other.line_items.first()
    client = api(rep)
    for bad in (999999999, theirs.pk):
        before = (db_state(), LineItem.objects.count())
        body = {"line_items": [{"id": bad, "product": theirs.product_id, "seats": 3}]}
        response = client.patch(f"/api/v1/opportunities/{opportunity.pk}/", body, format="json")
        assert fields(problem(response, 400, "invalid")) == {("line_items[0].id", "invalid")}
        assert (db_state(), LineItem.objects.count()) == before
    product = ProductFactory()
    response = client.post(
        "/api/v1/opportunities/",
        {"name": "New", "line_items": [{"id": theirs.pk, "product": product.pk, "seats": 1}]},
        format="json",
    )
    assert fields(problem(response, 400, "invalid")) == {("line_items[0].id", "invalid")}


def test_record_locked_on_a_contacts_email_names_the_email(api, rep):
    opportunity = ready_opportunity(rep)
    services.opportunity_transition(
        opportunity=opportunity, name="submit_for_approval", actor=rep, source=Source.API
    )
    contact = opportunity.primary_contact
    response = api(rep).patch(f"/api/v1/contacts/{contact.pk}/", {"email": ""}, format="json")
    assert fields(problem(response, 409, "record_locked")) == {("email", "record_locked")}


# --- protocol ------------------------------------------------------------------------------


def test_odd_paths_are_problems_and_anonymous_callers_get_401_first(api, rep):
    for path in ("/api/v1/nothing%0A", "/api/v1/opportunities/1%0A/", "/api/v1/x/y/z"):
        problem(api(rep).get(path), 404, "not_found")
        problem(api(None).get(path), 401, "not_authenticated")


def test_failed_authentication_uses_up_the_anonymous_rate(api, settings):
    settings.API_THROTTLE_ANON = "5/min"
    cache.clear()
    bad = client_for(None)
    bad.credentials(HTTP_AUTHORIZATION="Token " + "ab" * 32)
    for _ in range(5):
        problem(bad.get("/api/v1/products/"), 401, "not_authenticated")
    response = bad.get("/api/v1/products/")
    problem(response, 429, "throttled")
    assert int(response["Retry-After"]) > 0
    cache.clear()


# --- tokens --------------------------------------------------------------------------------


def test_tokens_expire_after_the_configured_ttl(api, rep):
    instance, token = AuthToken.objects.create(user=rep)
    assert instance.expiry is not None
    lifetime = instance.expiry - timezone.now()
    assert dt.timedelta(days=89) < lifetime <= dt.timedelta(days=90)
    client = client_for(None)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/v1/products/").status_code == 200
    AuthToken.objects.filter(pk=instance.pk).update(expiry=timezone.now() - dt.timedelta(seconds=1))
    problem(client.get("/api/v1/products/"), 401, "not_authenticated")


def test_issue_token_chooses_the_lifetime_deliberately(rep):
    def issue(*args):
        out, err = StringIO(), StringIO()
        call_command("issue_token", rep.username, *args, stdout=out, stderr=err)
        return AuthToken.objects.order_by("-created").first(), err.getvalue()

    forever, said = issue("--no-expiry")
    assert forever.expiry is None and "expires never" in said
    short, _ = issue("--ttl-hours", "2")
    assert dt.timedelta(minutes=119) < short.expiry - timezone.now() <= dt.timedelta(hours=2)


def test_logout_revokes_this_token_and_logoutall_every_token(api, rep):
    mine = client_for(rep)
    other_device = client_for(rep)
    someone_else = client_for(make_user("rep"))
    assert mine.post("/api/v1/auth/logout/").status_code == 204
    problem(mine.get("/api/v1/products/"), 401, "not_authenticated")
    assert other_device.get("/api/v1/products/").status_code == 200
    third = client_for(rep)
    assert third.post("/api/v1/auth/logoutall/").status_code == 204
    problem(other_device.get("/api/v1/products/"), 401, "not_authenticated")
    problem(third.get("/api/v1/products/"), 401, "not_authenticated")
    assert someone_else.get("/api/v1/products/").status_code == 200


def test_logout_of_a_browser_session_is_a_400(client, rep):
    client.force_login(rep)
    response = client.post("/api/v1/auth/logout/", content_type="application/json")
    assert fields(problem(response, 400, "invalid")) == {("Authorization", "invalid")}


# --- cursor pages ----------------------------------------------------------------------------


def test_following_next_after_a_patch_skips_nothing(api, rep):
    """13 deals, limit=5, ordering=updated_at: PATCH a row of page 1, follow `next` to the
    end. Every deal is seen; the one changed shows up again at its new place, with its new
    version, and no other row repeats."""
    for _ in range(13):
        OpportunityFactory(owner=rep)
    client = api(rep)
    page = client.get("/api/v1/opportunities/?limit=5&ordering=updated_at").json()
    rows = list(page["results"])
    changed = rows[1]
    response = client.patch(f"/api/v1/opportunities/{changed['id']}/", {"name": "x"}, format="json")
    assert response.status_code == 200
    while page["next"]:
        page = client.get(page["next"]).json()
        rows += page["results"]
    ids = [r["id"] for r in rows]
    assert set(ids) == set(Opportunity.objects.values_list("pk", flat=True))
    assert len(ids) == 14 and ids.count(changed["id"]) == 2
    assert rows[-1]["id"] == changed["id"] and rows[-1]["version"] == changed["version"] + 1


@pytest.mark.django_db(transaction=True)
def test_paging_while_another_thread_updates_rows_misses_and_repeats_nothing():
    rep = make_user("rep")
    opportunities = [
        OpportunityFactory(owner=rep, amount=None if i % 3 == 0 else i) for i in range(23)
    ]
    client = client_for(rep)
    stop = threading.Event()

    def keep_updating() -> None:
        try:
            index = 0
            while not stop.is_set():
                opportunity = opportunities[index % len(opportunities)]
                services.opportunity_update(
                    opportunity=opportunity.pk, actor=rep, data={"name": f"n{index}"}
                )
                index += 1
        finally:
            connections.close_all()

    writer = threading.Thread(target=keep_updating)
    writer.start()
    try:
        for ordering in ("id", "-created_at", "amount", "-amount", "name"):
            page = client.get(f"/api/v1/opportunities/?limit=4&ordering={ordering}").json()
            ids = [r["id"] for r in page["results"]]
            while page["next"]:
                page = client.get(page["next"]).json()
                ids += [r["id"] for r in page["results"]]
            if ordering != "name":  # names change under the pager: rows move
                assert sorted(ids) == sorted(d.pk for d in opportunities), ordering
                assert len(ids) == len(set(ids)), ordering
            else:
                assert set(ids) >= {d.pk for d in opportunities}
    finally:
        stop.set()
        writer.join()


def test_previous_walks_back_and_a_tampered_cursor_is_400(api, rep):
    opportunities = [
        OpportunityFactory(owner=rep, close_date=None if i % 2 else dt.date(2030, 1, i + 1))
        for i in range(7)
    ]
    client = api(rep)
    forward, page = [], client.get("/api/v1/opportunities/?limit=3&ordering=close_date").json()
    pages = [page]
    while page["next"]:
        page = client.get(page["next"]).json()
        pages.append(page)
    forward = [r["id"] for p in pages for r in p["results"]]
    assert sorted(forward) == sorted(d.pk for d in opportunities) and len(forward) == 7
    back = client.get(pages[-1]["previous"]).json()
    assert back["results"] == pages[-2]["results"]
    nxt = pages[0]["next"]
    tampered = nxt.replace("cursor=", "cursor=x")
    answer = problem(client.get(tampered), 400, "invalid")
    assert fields(answer) == {("cursor", "invalid")}
    other_order = nxt.replace("ordering=close_date", "ordering=amount")
    problem(client.get(other_order), 400, "invalid")
