"""Property-based run against the live OpenAPI schema (schemathesis, WSGI, a real token).

The schema is fetched from /api/v1/schema/ of the real WSGI application with a knox
token; for every operation, schemathesis generates valid and deliberately invalid
requests and sends them through the whole stack. Every response must be non-5xx and
match the schema (status code, content type, headers, body), and schema-invalid input
must be rejected. Path ids are pinned to real rows so that the 2xx answers are exercised
too (404s are covered in test_error_codes.py). Examples are bounded to keep it short.

(schemathesis' pytest plugin — ``from_fixture``/``parametrize`` — is not used: with
pytest 9 it fails on a removed private attribute; its strategies are the same.)
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from knox.models import AuthToken
from schemathesis import GenerationMode

from closedwon.wsgi import application
from handoffs.models import Handoff
from opportunities import services
from opportunities.stages import Source
from tests.factories import ContactFactory, ProductFactory, make_user, ready_opportunity

MAX_EXAMPLES = 10
STATEFUL_EXAMPLES = 15

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


@pytest.fixture
def _keep_the_test_connection():
    """Django's WSGI handler closes the database connection around each request (the
    test client switches that off; a raw WSGI client does not), which would end the
    test's transaction: switch it off for this test only."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


ROLES = ("rep", "revops")
# A schema-valid request may still break a business rule (a gate, a lock, a version,
# ownership, a reused Idempotency-Key): those are 403/404/409/412/422, never a 400.
ACCEPTED = ["2xx", "304", "401", "403", "404", "409", "412", "422"]
# Opaque tokens the server issues: a generator cannot make a valid one. They are covered
# by tests/api/test_sync_contract.py and tests/events/.
SERVER_ISSUED = ("cursor", "after")


@pytest.fixture
def live(_keep_the_test_connection, settings) -> dict[str, Any]:
    """The loaded schema per role, the auth headers, and real ids per path."""
    settings.API_THROTTLE_USER = None
    settings.API_THROTTLE_ANON = None
    rep = make_user("rep")
    revops = make_user("revops")
    opportunity = ready_opportunity(rep)
    approved = ready_opportunity(rep)
    services.opportunity_transition(
        opportunity=approved, name="submit_for_approval", actor=rep, source=Source.API
    )
    services.opportunity_transition(
        opportunity=approved, name="approve", actor=make_user("revops"), source=Source.API
    )
    ProductFactory.create_batch(2)
    contact = ContactFactory(account=opportunity.account)
    handoff = Handoff.objects.filter(opportunity=approved).first()
    ids: dict[str, Any] = {
        "/accounts/{id}/": opportunity.account_id,
        "/contacts/{id}/": contact.pk,
        "/products/{id}/": ProductFactory().pk,
        "/opportunities/{id}/": opportunity.pk,
        "/opportunities/{id}/transitions/": opportunity.pk,
        "/opportunities/{id}/transitions/{name}/": opportunity.pk,
        "/opportunities/{id}/history/": approved.pk,
    }
    if handoff is not None:
        ids["/handoffs/{id}/retry/"] = str(handoff.pk)
        ids["/handoffs/{id}/complete/"] = str(handoff.pk)
    config = schemathesis.Config.from_dict(
        {
            "checks": {
                "positive_data_acceptance": {"expected-statuses": ACCEPTED},
                "negative_data_rejection": {"enabled": True},
            },
        }
    )
    users = {"rep": rep, "revops": revops}
    auth: dict[str, dict[str, str]] = {}
    schemas: dict[str, Any] = {}
    for role, user in users.items():
        _instance, token = AuthToken.objects.create(user=user)
        auth[role] = {"Authorization": f"Token {token}"}
        schemas[role] = schemathesis.openapi.from_wsgi(
            "/api/v1/schema/", application, config=config, headers=auth[role]
        )
    return {"schemas": schemas, "auth": auth, "ids": ids}


def _without_server_issued(case: Any) -> Any:
    if case.query:
        for name in SERVER_ISSUED:
            case.query.pop(name, None)
    # The logout operations would revoke the token the rest of the run uses.
    return case


def _depends_on_stored_rows(response: Any) -> bool:
    """A generated id of a row that does not exist (``"owner": 2000``), or a SKU another
    product already has, is well-formed: only the database knows otherwise. The answer,
    400 ``does_not_exist`` / ``unique`` naming the field, is right; nothing else about
    the response is in question. Likewise a well-formed webhook URL whose host does not
    resolve, or resolves where the operator does not allow (``url_not_allowed``): only
    DNS and the operator's network policy know. And a PATCH of the URL or event types of
    a webhook endpoint the environment manages (``HANDOFF_<KIND>_URL``): only the row
    knows it is one."""
    if response.status_code != 400:
        return False
    body = response.json()
    errors = body.get("errors") or []
    if (
        errors
        and str(body.get("instance", "")).startswith("/api/v1/webhook-endpoints/")
        and all(
            e["code"] == "read_only_field" and e["field"] in ("url", "event_types") for e in errors
        )
    ):
        return True
    return (
        bool(errors)
        and all(e["code"] in ("does_not_exist", "unique", "url_not_allowed") for e in errors)
        or body.get("code") == "url_not_allowed"
    )


def _run(operation: Any, mode: GenerationMode, live: dict[str, Any], role: str) -> None:
    path = operation.path.removeprefix("/api/v1")
    if path.startswith("/auth/"):
        return  # tested in test_sync_contract: they revoke the run's own token
    pinned = {"id": live["ids"][path]} if path in live["ids"] else None
    strategy = operation.as_strategy(generation_mode=mode, path_parameters=pinned)

    @given(case=strategy)
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any) -> None:
        case = _without_server_issued(case)
        response = case.call(headers=live["auth"][role])
        if _depends_on_stored_rows(response):
            return
        auth = live["auth"][role]
        case.validate_response(response, headers=auth, transport_kwargs={"headers": dict(auth)})

    check()


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_operation_honours_the_schema(live, mode, role):
    """Every check, ``positive_data_acceptance`` and ``negative_data_rejection``
    included: schema-valid input is never a 400, schema-invalid input always a 4xx."""
    operations = [result.ok() for result in live["schemas"][role].get_all_operations()]
    assert len(operations) >= 20
    failures = []
    for operation in operations:
        try:
            _run(operation, mode, live, role)
        except Exception as exc:  # collect them all, then fail with the list
            if type(exc).__name__ in ("Unsatisfiable",) and mode is GenerationMode.NEGATIVE:
                continue  # nothing left to make invalid once the path id is pinned
            failures.append(f"{role} {operation.method.upper()} {operation.path}: {exc}")
    assert not failures, "\n\n".join(failures)


@pytest.mark.parametrize("role", ROLES)
def test_the_stateful_phase_follows_the_links(live, role):
    """Sequences built from the schema's OpenAPI links (create → retrieve → update →
    transitions → history): every response conforms and none is a server error."""
    machine = live["schemas"][role].as_state_machine()
    headers = live["auth"][role]

    class Scenario(machine):  # type: ignore[misc, valid-type]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"headers": headers}

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            if _depends_on_stored_rows(response):
                return
            # Name the auth header, so the auth checks send the request without it.
            case.validate_response(
                response,
                headers=headers,
                transport_kwargs={"headers": dict(headers)},
                recorder=self.recorder,
            )

        def before_call(self, case: Any) -> None:
            _without_server_issued(case)
            if case.path.startswith("/api/v1/auth/"):
                case.path = "/api/v1/events/"  # never revoke the run's token
                case.method = "GET"
                case.body = None

    Scenario.run(
        settings=settings(
            max_examples=STATEFUL_EXAMPLES,
            stateful_step_count=6,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
    )
