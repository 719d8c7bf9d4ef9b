"""Every SPEC §4 error code, reached by a real request, as an RFC 9457 problem."""

from __future__ import annotations

import json

import pytest

from api.models import IdempotencyKey
from opportunities import services
from opportunities.gate import Code
from opportunities.models import Opportunity
from opportunities.stages import Source, Stage
from tests.api.conftest import db_state, error_codes, problem
from tests.factories import OpportunityFactory, ready_opportunity

pytestmark = pytest.mark.django_db


def post(client, path, body=None, **extra):
    return client.post(path, data=json.dumps(body or {}), content_type="application/json", **extra)


def patch(client, path, body, **extra):
    return client.patch(path, data=json.dumps(body), content_type="application/json", **extra)


def submit(opportunity, actor):
    return services.opportunity_transition(
        opportunity=opportunity, name="submit_for_approval", actor=actor, source=Source.API
    )


def test_invalid_lists_every_bad_field(api, rep):
    body = problem(
        post(
            api(rep),
            "/api/v1/opportunities/",
            {"amount": "lots", "close_date": "someday", "line_items": [{"seats": 0}]},
        ),
        400,
        "invalid",
    )
    fields = {e["field"] for e in body["errors"]}
    assert {
        "name",
        "amount",
        "close_date",
        "line_items[0].product",
        "line_items[0].seats",
    } <= fields
    # The date's own message comes with the others, not instead of them.
    assert {"code": "invalid", "field": "close_date", "message": DATE_FORMAT} in body["errors"]
    assert not Opportunity.objects.exists()


DATE_FORMAT = "Write the date as YYYY-MM-DD, such as 2026-12-31."


def test_a_calendar_date_error_comes_with_every_other_bad_field(api, rep):
    body = problem(
        post(api(rep), "/api/v1/opportunities/", {"amount": "lots", "close_date": "2026-02-30"}),
        400,
        "invalid",
    )
    assert {e["field"] for e in body["errors"]} >= {"name", "amount", "close_date"}
    assert {
        "code": "invalid",
        "field": "close_date",
        "message": "2026-02-30 is not a day on the calendar.",
    } in body["errors"]


def test_stage_read_only_on_patch(api, rep):
    opportunity = ready_opportunity(rep)
    before = db_state()
    problem(
        patch(api(rep), f"/api/v1/opportunities/{opportunity.pk}/", {"stage": "closed_won"}),
        400,
        "stage_read_only",
    )
    assert db_state() == before


def test_stage_read_only_on_create(api, rep):
    problem(
        post(api(rep), "/api/v1/opportunities/", {"name": "x", "stage": "closed_won"}),
        400,
        "stage_read_only",
    )
    assert not Opportunity.objects.exists()


def test_not_authenticated(api):
    response = api(None).get("/api/v1/opportunities/")
    problem(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == "Token"


def test_permission_denied_for_another_reps_deal(api, rep, rep2):
    opportunity = ready_opportunity(rep)
    before = db_state()
    problem(
        patch(api(rep2), f"/api/v1/opportunities/{opportunity.pk}/", {"name": "Mine now"}),
        403,
        "permission_denied",
    )
    assert db_state() == before


def test_self_approval_forbidden_for_the_owner(api, rep):
    opportunity = ready_opportunity(rep)
    submit(opportunity, rep)
    problem(
        post(api(rep), f"/api/v1/opportunities/{opportunity.pk}/transitions/approve/"),
        403,
        "self_approval_forbidden",
    )
    assert Opportunity.objects.get(pk=opportunity.pk).stage == Stage.PENDING_APPROVAL


def test_self_approval_forbidden_for_revops_who_own_the_deal(api, revops):
    opportunity = ready_opportunity(revops)
    submit(opportunity, revops)
    problem(
        post(api(revops), f"/api/v1/opportunities/{opportunity.pk}/transitions/approve/"),
        403,
        "self_approval_forbidden",
    )


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/opportunities/999999/",
        "/api/v1/opportunities/999999/transitions/",
        "/api/v1/opportunities/999999/history/",
        "/api/v1/accounts/999999/",
        "/api/v1/contacts/999999/",
        "/api/v1/products/999999/",
        "/api/v1/opportunities/99999999999999999999999999/",
        "/api/v1/opportunities/abc/",
        "/api/v1/no-such-thing/",
        "/api/v1/handoffs/not-a-uuid/retry/",
    ],
)
def test_not_found(api, rep, path):
    problem(api(rep).get(path), 404, "not_found")


def test_not_found_for_an_unknown_transition_name(api, rep):
    opportunity = ready_opportunity(rep)
    problem(
        post(api(rep), f"/api/v1/opportunities/{opportunity.pk}/transitions/close_it_now/"),
        404,
        "not_found",
    )
    assert Opportunity.objects.get(pk=opportunity.pk).stage == Stage.NEGOTIATION


def test_a_missing_trailing_slash_says_where_to_go(api, rep):
    body = problem(api(rep).get("/api/v1/opportunities"), 404, "not_found")
    assert "/api/v1/opportunities/" in body["detail"]


def test_transition_not_allowed_from_the_wrong_stage(api, revops, rep):
    opportunity = ready_opportunity(rep)
    problem(
        post(api(revops), f"/api/v1/opportunities/{opportunity.pk}/transitions/approve/"),
        409,
        "transition_not_allowed",
    )


def test_record_locked_while_pending(api, rep):
    opportunity = ready_opportunity(rep)
    submit(opportunity, rep)
    before = db_state()
    body = problem(
        patch(api(rep), f"/api/v1/opportunities/{opportunity.pk}/", {"amount": "1.00"}),
        409,
        "record_locked",
    )
    assert body["errors"][0]["field"] == "amount"
    assert db_state() == before


def test_concurrent_update_while_the_same_key_is_in_flight(api, rep):
    """The request that reserved the key has not finished: the second gets 409."""
    opportunity = ready_opportunity(rep)
    client = api(rep)
    path = f"/api/v1/opportunities/{opportunity.pk}/transitions/submit_for_approval/"
    first = post(client, path, HTTP_IDEMPOTENCY_KEY="in-flight")
    assert first.status_code == 200
    IdempotencyKey.objects.filter(key="in-flight").update(response_status=None)
    problem(post(client, path, HTTP_IDEMPOTENCY_KEY="in-flight"), 409, "concurrent_update")


def test_stale_version(api, rep):
    opportunity = ready_opportunity(rep)
    before = db_state()
    problem(
        patch(
            api(rep), f"/api/v1/opportunities/{opportunity.pk}/", {"name": "x"}, HTTP_IF_MATCH='"7"'
        ),
        412,
        "stale_version",
    )
    assert db_state() == before


def test_gate_failed_lists_every_unmet_requirement(api, rep):
    opportunity = OpportunityFactory(owner=rep, stage=Stage.NEGOTIATION)
    body = problem(
        post(api(rep), f"/api/v1/opportunities/{opportunity.pk}/transitions/submit_for_approval/"),
        422,
        "gate_failed",
    )
    assert set(error_codes(body)) >= {
        Code.CONTRACT_OR_PO_REQUIRED,
        Code.AMOUNT_REQUIRED,
        Code.CLOSE_DATE_REQUIRED,
        Code.PRIMARY_CONTACT_REQUIRED,
        Code.SEATS_REQUIRED,
    }
    assert Opportunity.objects.get(pk=opportunity.pk).stage == Stage.NEGOTIATION


def test_reason_required_to_reject(api, rep, revops):
    opportunity = ready_opportunity(rep)
    submit(opportunity, rep)
    body = problem(
        post(
            api(revops),
            f"/api/v1/opportunities/{opportunity.pk}/transitions/reject/",
            {"reason": " "},
        ),
        422,
        "reason_required",
    )
    assert body["errors"][0]["field"] == "reason"


def test_reason_required_to_mark_lost(api, rep):
    opportunity = ready_opportunity(rep)
    body = problem(
        post(api(rep), f"/api/v1/opportunities/{opportunity.pk}/transitions/mark_lost/"),
        422,
        "reason_required",
    )
    assert body["errors"][0]["field"] == "loss_reason"


def test_idempotency_key_reused(api, rep):
    client = api(rep)
    assert (
        post(client, "/api/v1/accounts/", {"name": "A"}, HTTP_IDEMPOTENCY_KEY="k").status_code
        == 201
    )
    problem(
        post(client, "/api/v1/accounts/", {"name": "B"}, HTTP_IDEMPOTENCY_KEY="k"),
        422,
        "idempotency_key_reused",
    )


def test_throttled(api, settings):
    from tests.factories import make_user

    settings.API_THROTTLE_USER = "3/min"
    client = api(make_user("rep"))
    for _ in range(3):
        assert client.get("/api/v1/products/").status_code == 200
    response = client.get("/api/v1/products/")
    problem(response, 429, "throttled")
    assert int(response["Retry-After"]) > 0


def test_method_not_allowed(api, rep):
    opportunity = ready_opportunity(rep)
    problem(api(rep).delete(f"/api/v1/opportunities/{opportunity.pk}/"), 405, "method_not_allowed")
    problem(
        api(rep).put(
            f"/api/v1/opportunities/{opportunity.pk}/", data="{}", content_type="application/json"
        ),
        405,
        "method_not_allowed",
    )
    assert Opportunity.objects.filter(pk=opportunity.pk).exists()


def test_an_unexpected_error_is_a_500_problem_not_an_html_page(rf):
    """The last branch of the handler (nothing in the API should reach it)."""
    from api.problem import exception_handler

    response = exception_handler(ZeroDivisionError("boom"), {"request": rf.get("/api/v1/x/")})
    assert response.status_code == 500
    assert response.data["code"] == "server_error"
    assert "boom" not in json.dumps(response.data)
