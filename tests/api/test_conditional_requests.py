"""ETag on a deal's GET, If-Match on PATCH and transitions (412 stale_version),
If-None-Match (304), and `version` in the body."""

from __future__ import annotations

import json

import pytest

from opportunities.models import Opportunity
from opportunities.stages import Stage
from tests.api.conftest import db_state, problem
from tests.factories import ready_opportunity

pytestmark = pytest.mark.django_db


def patch(client, path, body, **extra):
    return client.patch(path, data=json.dumps(body), content_type="application/json", **extra)


def test_get_sends_the_version_as_etag(api, rep):
    opportunity = ready_opportunity(rep)
    response = api(rep).get(f"/api/v1/opportunities/{opportunity.pk}/")
    assert response.status_code == 200
    assert response["ETag"] == '"1"'
    assert response.json()["version"] == 1


def test_patch_with_the_current_etag_succeeds_and_returns_the_new_one(api, rep):
    opportunity = ready_opportunity(rep)
    client = api(rep)
    etag = client.get(f"/api/v1/opportunities/{opportunity.pk}/")["ETag"]

    response = patch(
        client, f"/api/v1/opportunities/{opportunity.pk}/", {"name": "v2"}, HTTP_IF_MATCH=etag
    )

    assert response.status_code == 200
    assert response["ETag"] == '"2"' and response.json()["version"] == 2


def test_patch_with_an_old_etag_is_412_and_changes_nothing(api, rep, revops):
    opportunity = ready_opportunity(rep)
    client = api(rep)
    etag = client.get(f"/api/v1/opportunities/{opportunity.pk}/")["ETag"]
    # Someone else edits in between.
    assert (
        patch(
            api(revops), f"/api/v1/opportunities/{opportunity.pk}/", {"term_months": 24}
        ).status_code
        == 200
    )
    before = db_state()

    response = patch(
        client, f"/api/v1/opportunities/{opportunity.pk}/", {"name": "mine"}, HTTP_IF_MATCH=etag
    )

    problem(response, 412, "stale_version")
    assert db_state() == before


def test_a_transition_honours_if_match(api, rep):
    opportunity = ready_opportunity(rep)
    client = api(rep)
    path = f"/api/v1/opportunities/{opportunity.pk}/transitions/submit_for_approval/"

    problem(client.post(path, HTTP_IF_MATCH='"5"'), 412, "stale_version")
    assert Opportunity.objects.get(pk=opportunity.pk).stage == Stage.NEGOTIATION

    response = client.post(path, HTTP_IF_MATCH='"1"')
    assert response.status_code == 200
    assert response["ETag"] == '"2"' and response.json()["stage"] == Stage.PENDING_APPROVAL


@pytest.mark.parametrize("value", ["*", '"1"', '"9", "1"', ' "1" '])
def test_if_match_forms_that_name_the_current_version(api, rep, value):
    opportunity = ready_opportunity(rep)
    response = patch(
        api(rep), f"/api/v1/opportunities/{opportunity.pk}/", {"name": "x"}, HTTP_IF_MATCH=value
    )
    assert response.status_code == 200, response.content


@pytest.mark.parametrize("value", ['W/"1"', "1", '"01x"', 'W/"1", W/"2"', '"\u00b2"'])
def test_if_match_compares_strongly_so_weak_or_bare_tags_never_match(api, rep, value):
    opportunity = ready_opportunity(rep)
    before = db_state()
    response = patch(
        api(rep), f"/api/v1/opportunities/{opportunity.pk}/", {"name": "x"}, HTTP_IF_MATCH=value
    )
    body = problem(response, 412, "stale_version")
    assert body["errors"][0]["field"] == "If-Match"
    assert db_state() == before


def test_if_none_match_gives_304_while_unchanged(api, rep):
    opportunity = ready_opportunity(rep)
    client = api(rep)
    path = f"/api/v1/opportunities/{opportunity.pk}/"
    not_modified = client.get(path, HTTP_IF_NONE_MATCH='"1"')
    assert not_modified.status_code == 304 and not_modified.content == b""
    assert not_modified["ETag"] == '"1"'

    patch(client, path, {"name": "changed"})
    changed = client.get(path, HTTP_IF_NONE_MATCH='"1"')
    assert changed.status_code == 200 and changed.json()["name"] == "changed"


def test_a_create_returns_etag_and_location(api, rep):
    response = api(rep).post("/api/v1/opportunities/", data={"name": "New"}, format="json")
    assert response.status_code == 201
    assert response["ETag"] == '"1"'
    assert response["Location"] == f"/api/v1/opportunities/{response.json()['id']}/"
