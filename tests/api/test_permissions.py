"""Every endpoint × {anonymous, rep owner, other rep, RevOps, admin}: status and code.

Given a world with a deal owned by ``rep`` (and, where the endpoint needs it, a pending
deal or a handoff in the right status), when each role calls the endpoint, then it gets
exactly the status — and for errors the problem ``code`` — of SPEC §2/§4.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from documents.models import EvidenceRequirement
from documents.samples import sample_pdf
from documents.services import document_attach
from handoffs.models import Handoff, HandoffStatus, WebhookEndpoint
from opportunities import services
from opportunities.stages import Source, Stage
from tests.api.conftest import problem
from tests.factories import ContactFactory, ProductFactory, ready_opportunity

pytestmark = pytest.mark.django_db

ROLES = ("anonymous", "owner", "other_rep", "revops", "admin")
FIXTURE_OF_ROLE = {"owner": "rep", "other_rep": "rep2", "revops": "revops", "admin": "admin_user"}


@dataclass(frozen=True)
class Case:
    method: str
    path: Callable[[dict[str, Any]], str]
    # Role → expected (status, code-or-None); roles not listed expect 200.
    expect: dict[str, tuple[int, str | None]]
    body: Callable[[dict[str, Any]], Any] | None = None
    needs: str = "opportunity"
    multipart: bool = False


ANON = {"anonymous": (401, "not_authenticated")}
CREATED = {
    "owner": (201, None),
    "other_rep": (201, None),
    "revops": (201, None),
    "admin": (201, None),
}
NO_CONTENT = {
    "owner": (204, None),
    "other_rep": (204, None),
    "revops": (204, None),
    "admin": (204, None),
}
REVOPS_ONLY = {
    **ANON,
    "owner": (403, "permission_denied"),
    "other_rep": (403, "permission_denied"),
}

CASES: dict[str, Case] = {
    "accounts list": Case("get", lambda w: "/api/v1/accounts/", ANON),
    "accounts create": Case(
        "post", lambda w: "/api/v1/accounts/", {**ANON, **CREATED}, lambda w: {"name": "Acme"}
    ),
    "account get": Case("get", lambda w: f"/api/v1/accounts/{w['account'].pk}/", ANON),
    # Reps change the accounts they own and those accounts' contacts.
    "account patch": Case(
        "patch",
        lambda w: f"/api/v1/accounts/{w['account'].pk}/",
        {**ANON, "other_rep": (403, "permission_denied")},
        lambda w: {"domain": "acme.example"},
    ),
    "contacts list": Case("get", lambda w: "/api/v1/contacts/", ANON),
    "contacts create": Case(
        "post",
        lambda w: "/api/v1/contacts/",
        {**ANON, **CREATED, "other_rep": (403, "permission_denied")},
        lambda w: {"account": w["account"].pk, "last_name": "Doe", "email": "doe@example.com"},
    ),
    "contact get": Case("get", lambda w: f"/api/v1/contacts/{w['contact'].pk}/", ANON),
    "contact patch": Case(
        "patch",
        lambda w: f"/api/v1/contacts/{w['contact'].pk}/",
        {**ANON, "other_rep": (403, "permission_denied")},
        lambda w: {"title": "CFO"},
    ),
    "products list": Case("get", lambda w: "/api/v1/products/", ANON),
    "products create": Case(
        "post",
        lambda w: "/api/v1/products/",
        {**REVOPS_ONLY, "revops": (201, None), "admin": (201, None)},
        lambda w: {"sku": "NEW-1", "name": "New product"},
    ),
    "product get": Case("get", lambda w: f"/api/v1/products/{w['product'].pk}/", ANON),
    "product patch": Case(
        "patch",
        lambda w: f"/api/v1/products/{w['product'].pk}/",
        REVOPS_ONLY,
        lambda w: {"name": "Renamed"},
    ),
    "opportunities list": Case("get", lambda w: "/api/v1/opportunities/", ANON),
    "opportunities create for the owner": Case(
        "post",
        lambda w: "/api/v1/opportunities/",
        {**ANON, **CREATED, "other_rep": (403, "permission_denied")},
        lambda w: {"name": "New deal", "owner": w["opportunity"].owner_id},
    ),
    "opportunity get": Case("get", lambda w: f"/api/v1/opportunities/{w['opportunity'].pk}/", ANON),
    "opportunity patch": Case(
        "patch",
        lambda w: f"/api/v1/opportunities/{w['opportunity'].pk}/",
        {**ANON, "other_rep": (403, "permission_denied")},
        lambda w: {"name": "Renamed"},
    ),
    "transitions dry run": Case(
        "get", lambda w: f"/api/v1/opportunities/{w['opportunity'].pk}/transitions/", ANON
    ),
    "submit_for_approval": Case(
        "post",
        lambda w: f"/api/v1/opportunities/{w['opportunity'].pk}/transitions/submit_for_approval/",
        {
            **ANON,
            "other_rep": (403, "permission_denied"),
            "revops": (403, "permission_denied"),
            "admin": (403, "permission_denied"),
        },
        lambda w: {},
    ),
    "approve": Case(
        "post",
        lambda w: f"/api/v1/opportunities/{w['pending'].pk}/transitions/approve/",
        {**REVOPS_ONLY, "owner": (403, "self_approval_forbidden")},
        lambda w: {},
        needs="pending",
    ),
    "reject": Case(
        "post",
        lambda w: f"/api/v1/opportunities/{w['pending'].pk}/transitions/reject/",
        REVOPS_ONLY,
        lambda w: {"reason": "Contract not countersigned"},
        needs="pending",
    ),
    "withdraw": Case(
        "post",
        lambda w: f"/api/v1/opportunities/{w['pending'].pk}/transitions/withdraw/",
        {
            **ANON,
            "other_rep": (403, "permission_denied"),
            "revops": (403, "permission_denied"),
            "admin": (403, "permission_denied"),
        },
        lambda w: {},
        needs="pending",
    ),
    "mark_lost": Case(
        "post",
        lambda w: f"/api/v1/opportunities/{w['opportunity'].pk}/transitions/mark_lost/",
        {**ANON, "other_rep": (403, "permission_denied")},
        lambda w: {"loss_reason": "price"},
    ),
    "history": Case("get", lambda w: f"/api/v1/opportunities/{w['opportunity'].pk}/history/", ANON),
    "approvals queue": Case("get", lambda w: "/api/v1/approvals/?decision=pending", ANON),
    "handoffs list": Case("get", lambda w: "/api/v1/handoffs/", ANON, needs="handoff"),
    "handoff retry": Case(
        "post",
        lambda w: f"/api/v1/handoffs/{w['handoff'].pk}/retry/",
        REVOPS_ONLY,
        lambda w: {},
        needs="dead_handoff",
    ),
    "handoff complete": Case(
        "post",
        lambda w: f"/api/v1/handoffs/{w['handoff'].pk}/complete/",
        REVOPS_ONLY,
        lambda w: {"external_ref": "INV-1"},
        needs="delivered_handoff",
    ),
    "exchange rates list": Case("get", lambda w: "/api/v1/exchange-rates/", ANON),
    "exchange rates create": Case(
        "post",
        lambda w: "/api/v1/exchange-rates/",
        {**REVOPS_ONLY, "revops": (201, None), "admin": (201, None)},
        lambda w: {"currency": "EUR", "rate": "1.0825", "valid_from": "2030-01-01"},
    ),
    "approval policies list": Case("get", lambda w: "/api/v1/approval-policies/", ANON),
    "approval policies create": Case(
        "post",
        lambda w: "/api/v1/approval-policies/",
        {**REVOPS_ONLY, "revops": (201, None), "admin": (201, None)},
        lambda w: {"name": "Matrix", "rules": []},
    ),
    "schema": Case("get", lambda w: "/api/v1/schema/", ANON),
    "documents list": Case(
        "get", lambda w: f"/api/v1/opportunities/{w['opportunity'].pk}/documents/", ANON
    ),
    "document upload": Case(
        "post",
        lambda w: f"/api/v1/opportunities/{w['opportunity'].pk}/documents/",
        {**CREATED, **ANON, "other_rep": (403, "permission_denied")},
        lambda w: {
            "kind": "purchase_order",
            "file": SimpleUploadedFile("po.pdf", sample_pdf(["PO"])),
        },
        multipart=True,
    ),
    "document get": Case("get", lambda w: f"/api/v1/documents/{w['document'].pk}/", ANON),
    "document remove": Case(
        "delete",
        lambda w: f"/api/v1/documents/{w['document'].pk}/",
        {
            **ANON,
            "owner": (204, None),
            "other_rep": (403, "permission_denied"),
            "revops": (204, None),
            "admin": (204, None),
        },
    ),
    "document download": Case(
        "get", lambda w: f"/api/v1/documents/{w['document'].pk}/download/", ANON
    ),
    "evidence requirements list": Case("get", lambda w: "/api/v1/evidence-requirements/", ANON),
    "evidence requirement create": Case(
        "post",
        lambda w: "/api/v1/evidence-requirements/",
        {**REVOPS_ONLY, "revops": (201, None), "admin": (201, None)},
        lambda w: {"kind": "signed_contract", "min_amount": "50000"},
    ),
    "evidence requirement get": Case(
        "get", lambda w: f"/api/v1/evidence-requirements/{w['requirement'].pk}/", ANON
    ),
    "evidence requirement delete": Case(
        "delete",
        lambda w: f"/api/v1/evidence-requirements/{w['requirement'].pk}/",
        {**REVOPS_ONLY, "revops": (204, None), "admin": (204, None)},
    ),
    # Signed by the sender, not by a user: unsigned is 401 whoever is signed in.
    "inbound esign": Case(
        "post",
        lambda w: "/api/v1/inbound/esign/",
        {role: (401, "not_authenticated") for role in ROLES},
        lambda w: {"envelope_id": "e", "status": "completed", "opportunity_id": 1},
    ),
    "change feed": Case("get", lambda w: "/api/v1/events/", ANON),
    "logout": Case("post", lambda w: "/api/v1/auth/logout/", {**ANON, **NO_CONTENT}),
    "logout everywhere": Case("post", lambda w: "/api/v1/auth/logoutall/", {**ANON, **NO_CONTENT}),
    "webhook endpoints list": Case("get", lambda w: "/api/v1/webhook-endpoints/", REVOPS_ONLY),
    "webhook endpoint create": Case(
        "post",
        lambda w: "/api/v1/webhook-endpoints/",
        {**REVOPS_ONLY, "revops": (201, None), "admin": (201, None)},
        # An address literal: no DNS lookup in the check.
        lambda w: {"url": "https://93.184.215.14/hook", "event_types": ["deal.won"]},
    ),
    "webhook endpoint get": Case(
        "get",
        lambda w: f"/api/v1/webhook-endpoints/{w['endpoint'].pk}/",
        REVOPS_ONLY,
        needs="endpoint",
    ),
    "webhook endpoint patch": Case(
        "patch",
        lambda w: f"/api/v1/webhook-endpoints/{w['endpoint'].pk}/",
        REVOPS_ONLY,
        lambda w: {"description": "Warehouse"},
        needs="endpoint",
    ),
    "webhook endpoint delete": Case(
        "delete",
        lambda w: f"/api/v1/webhook-endpoints/{w['endpoint'].pk}/",
        {**REVOPS_ONLY, "revops": (204, None), "admin": (204, None)},
        needs="endpoint",
    ),
    "webhook endpoint rotate": Case(
        "post",
        lambda w: f"/api/v1/webhook-endpoints/{w['endpoint'].pk}/rotate-secret/",
        REVOPS_ONLY,
        lambda w: {},
        needs="endpoint",
    ),
    "webhook endpoint replay": Case(
        "post",
        lambda w: f"/api/v1/webhook-endpoints/{w['endpoint'].pk}/replay/",
        {**REVOPS_ONLY, "revops": (202, None), "admin": (202, None)},
        lambda w: {"since": "2020-01-01T00:00:00Z"},
        needs="endpoint",
    ),
    "webhook deliveries list": Case("get", lambda w: "/api/v1/webhook-deliveries/", REVOPS_ONLY),
    "amendments list": Case("get", lambda w: "/api/v1/amendments/", ANON, needs="amendment"),
    "amendment get": Case(
        "get", lambda w: f"/api/v1/amendments/{w['amendment'].pk}/", ANON, needs="amendment"
    ),
    "deal amendments list": Case(
        "get", lambda w: f"/api/v1/opportunities/{w['won'].pk}/amendments/", ANON, needs="amendment"
    ),
    # The owner or RevOps request a change of a won deal.
    "amendment request": Case(
        "post",
        lambda w: f"/api/v1/opportunities/{w['won_free'].pk}/amendments/",
        {**ANON, **CREATED, "other_rep": (403, "permission_denied")},
        lambda w: {"kind": "change", "reason": "Longer term", "changes": {"term_months": 24}},
        needs="amendment",
    ),
    "amendment dry run": Case(
        "post",
        lambda w: f"/api/v1/opportunities/{w['won_free'].pk}/amendments/dry-run/",
        {**ANON, "other_rep": (403, "permission_denied")},
        lambda w: {"kind": "change", "reason": "", "changes": {"term_months": 24}},
        needs="amendment",
    ),
    # RevOps decide, never the requester (here the owner).
    "amendment approve": Case(
        "post",
        lambda w: f"/api/v1/amendments/{w['amendment'].pk}/transitions/approve/",
        REVOPS_ONLY,
        needs="amendment",
    ),
}


def _world(case: Case, rep, revops2) -> dict[str, Any]:
    opportunity = ready_opportunity(rep)
    opportunity.account.owner = rep
    opportunity.account.save()
    world: dict[str, Any] = {
        "opportunity": opportunity,
        "account": opportunity.account,
        "contact": ContactFactory(account=opportunity.account),
        "product": ProductFactory(),
    }
    # Far above the deals' amounts: it exists for the endpoints, not for the gate.
    world["requirement"] = EvidenceRequirement.objects.create(
        kind="order_form", min_amount=Decimal("1000000000")
    )
    world["document"] = document_attach(
        opportunity=opportunity,
        actor=rep,
        kind="other",
        file=io.BytesIO(sample_pdf(["x"])),
        name="x.pdf",
    )
    if case.needs == "amendment":
        from amendments.services import amendment_request

        for key in ("won", "won_free"):
            won = ready_opportunity(rep)
            services.opportunity_transition(opportunity=won, name="submit_for_approval", actor=rep)
            services.opportunity_transition(opportunity=won, name="approve", actor=revops2)
            world[key] = won
        world["amendment"] = amendment_request(
            opportunity=world["won"],
            actor=rep,
            kind="change",
            reason="More seats",
            changes={"term_months": 24},
        )
        return world
    if case.needs not in ("opportunity", "endpoint"):
        pending = ready_opportunity(rep)
        services.opportunity_transition(
            opportunity=pending, name="submit_for_approval", actor=rep, source=Source.API
        )
        world["pending"] = pending
    if case.needs == "endpoint":
        world["endpoint"] = WebhookEndpoint.objects.create(
            url="https://93.184.215.14/hook", event_types=["deal.won"]
        )
    if case.needs.endswith("handoff"):
        services.opportunity_transition(
            opportunity=world["pending"], name="approve", actor=revops2, source=Source.API
        )
        handoff = Handoff.objects.filter(opportunity=world["pending"]).first()
        assert handoff is not None, "approve creates the handoffs"
        status = {
            "dead_handoff": HandoffStatus.DEAD,
            "delivered_handoff": HandoffStatus.DELIVERED,
        }.get(case.needs, HandoffStatus.PENDING)
        Handoff.objects.filter(pk=handoff.pk).update(status=status)
        world["handoff"] = handoff
    return world


@pytest.fixture(autouse=True)
def _documents_in_tmp(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "documents": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "documents")},
        },
    }


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", list(CASES))
def test_endpoint_by_role(name, role, request, api, rep, rep2, revops, revops2, admin_user):
    case = CASES[name]
    world = _world(case, rep, revops2)
    user = request.getfixturevalue(FIXTURE_OF_ROLE[role]) if role != "anonymous" else None
    client = api(user)

    kwargs: dict[str, Any] = {}
    if case.multipart:
        kwargs = {"data": case.body(world), "format": "multipart"}
    elif case.body is not None:
        kwargs = {"data": json.dumps(case.body(world)), "content_type": "application/json"}
    response = getattr(client, case.method)(case.path(world), **kwargs)

    status, code = case.expect.get(role, (200, None))
    if code is None:
        assert response.status_code == status, response.content[:1000]
    else:
        problem(response, status, code)


def test_the_matrix_covers_every_documented_operation(api, rep):
    schema = api(rep).get("/api/v1/schema/").json()
    documented = {
        (method, path)
        for path, operations in schema["paths"].items()
        for method in operations
        if method in ("get", "post", "patch", "put", "delete")
    }
    covered = set()
    for case in CASES.values():
        path = (
            case.path(_FakeWorld())
            .split("?")[0]
            .replace("/42/", "/{id}/")
            .replace("/00000000-0000-0000-0000-000000000042/", "/{id}/")
        )
        for transition in ("submit_for_approval", "approve", "reject", "withdraw", "mark_lost"):
            path = path.replace(f"/{transition}/", "/{name}/")
        covered.add((case.method, path))
    assert documented <= covered, documented - covered


class _FakeObj:
    def __init__(self, pk):
        self.pk = pk
        self.owner_id = 1


class _FakeWorld(dict):
    def __missing__(self, key):
        if "handoff" in key or "endpoint" in key:
            return _FakeObj("00000000-0000-0000-0000-000000000042")
        return _FakeObj(42)


def test_anonymous_docs_page_goes_to_the_login_form(api):
    response = api(None).get("/api/v1/docs/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/api/v1/docs/")


@pytest.mark.parametrize("role", ["owner", "other_rep", "revops", "admin"])
def test_signed_in_roles_see_the_docs_page(client, request, role):
    client.force_login(request.getfixturevalue(FIXTURE_OF_ROLE[role]))
    response = client.get("/api/v1/docs/")
    assert response.status_code == 200
    assert b"swagger-ui" in response.content


def test_a_user_without_a_role_cannot_read(api):
    from tests.factories import UserFactory

    nobody = UserFactory()
    problem(api(nobody).get("/api/v1/opportunities/"), 403, "permission_denied")


def test_an_inactive_users_token_is_refused(api, rep):
    client = api(rep)
    rep.is_active = False
    rep.save()
    problem(client.get("/api/v1/opportunities/"), 401, "not_authenticated")


@pytest.mark.parametrize("stage", [Stage.NEGOTIATION])
def test_session_auth_works_for_the_browser_and_needs_csrf_for_writes(rep, stage):
    from rest_framework.test import APIClient

    opportunity = ready_opportunity(rep, stage=stage)
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(rep)
    assert client.get(f"/api/v1/opportunities/{opportunity.pk}/").status_code == 200
    problem(
        client.patch(
            f"/api/v1/opportunities/{opportunity.pk}/",
            data=json.dumps({"name": "x"}),
            content_type="application/json",
        ),
        403,
        "permission_denied",
    )
