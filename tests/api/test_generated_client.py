"""A client generated from the live schema by openapi-python-client, used without hand
edits: the whole approval flow runs through it and every response parses into its model.

The schema is fetched from /api/v1/schema/ of a live server, the client generated into a
temporary directory and imported from there; the calls go over real HTTP.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from knox.models import AuthToken

from tests.factories import make_user

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

CONFIG = "package_name_override: cw_client\nproject_name_override: cw-client\npost_hooks: []\n"


@pytest.fixture
def generated(tmp_path: Path, live_server: Any) -> Any:
    import httpx

    token = AuthToken.objects.create(user=make_user("rep"))[1]
    schema = httpx.get(
        f"{live_server.url}/api/v1/schema/", headers={"Authorization": f"Token {token}"}
    )
    assert schema.status_code == 200
    (tmp_path / "schema.json").write_text(schema.text)
    (tmp_path / "config.yml").write_text(CONFIG)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "openapi_python_client",
            "generate",
            "--path",
            "schema.json",
            "--config",
            "config.yml",
            "--meta",
            "none",
            "--output-path",
            "cw_client",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Warning" not in result.stdout, result.stdout
    sys.path.insert(0, str(tmp_path))
    try:
        yield importlib.import_module("cw_client")
    finally:
        sys.path.remove(str(tmp_path))
        for name in [n for n in sys.modules if n == "cw_client" or n.startswith("cw_client.")]:
            del sys.modules[name]


def _call(module: str, *args: Any, expect: int, **kwargs: Any) -> Any:
    """Run one generated operation; the response must have the status and parse."""
    operation = importlib.import_module(f"cw_client.api.{module}")
    response = operation.sync_detailed(*args, **kwargs)
    assert response.status_code == expect, (module, response.status_code, response.content)
    if expect != 204:
        assert response.parsed is not None, (module, response.content)
        assert not type(response.parsed).__name__.startswith("Problem"), response.content
    return response


def test_the_approval_flow_through_a_generated_client(generated, live_server):
    from cw_client import AuthenticatedClient

    models = importlib.import_module("cw_client.models")
    rep, revops = make_user("rep"), make_user("revops")

    def client_of(user: Any) -> Any:
        token = AuthToken.objects.create(user=user)[1]
        return AuthenticatedClient(base_url=live_server.url, token=token, prefix="Token")

    as_rep, as_revops = client_of(rep), client_of(revops)

    account = _call(
        "accounts.accounts_create",
        client=as_rep,
        body=models.AccountWriteRequest(
            name="Acme GmbH", billing_country=models.BillingCountryEnum.DE
        ),
        expect=201,
    ).parsed
    contact = _call(
        "contacts.contacts_create",
        client=as_rep,
        body=models.ContactWriteRequest(
            account=account.id, last_name="Doe", email="doe@acme.example"
        ),
        expect=201,
    ).parsed
    product = _call(
        "products.products_create",
        client=as_revops,
        body=models.ProductWriteRequest(sku="SEAT-1", name="Seat"),
        expect=201,
    ).parsed
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    created = _call(
        "opportunities.opportunities_create",
        client=as_rep,
        body=models.OpportunityWriteRequest(
            name="Acme rollout",
            account=account.id,
            primary_contact=contact.id,
            amount="1000.00",
            currency=models.CurrencyEnum.EUR,
            close_date=yesterday,
            contract_id="CT-GEN-1",
            line_items=[
                models.LineItemWriteRequest(product=product.id, seats=10, unit_price="100.00")
            ],
        ),
        expect=201,
    )
    opportunity = created.parsed
    assert opportunity.stage == models.StageEnum.PROSPECTING and opportunity.version == 1

    options = _call(
        "transitions.opportunities_transitions_list", opportunity.id, client=as_rep, expect=200
    ).parsed
    assert any(o.name == "submit_for_approval" and o.allowed for o in options)
    submitted = _call(
        "transitions.opportunities_transitions_run",
        opportunity.id,
        models.OpportunitiesTransitionsRunName.SUBMIT_FOR_APPROVAL,
        client=as_rep,
        if_match=created.headers["ETag"],
        expect=200,
    ).parsed
    assert submitted.stage == models.StageEnum.PENDING_APPROVAL

    queue = _call(
        "approvals.approvals_list",
        client=as_revops,
        decision=models.ApprovalsListDecision.PENDING,
        expect=200,
    ).parsed
    assert [a.opportunity for a in queue.results] == [opportunity.id]
    won = _call(
        "transitions.opportunities_transitions_run",
        opportunity.id,
        models.OpportunitiesTransitionsRunName.APPROVE,
        client=as_revops,
        expect=200,
    ).parsed
    assert won.stage == models.StageEnum.CLOSED_WON and won.closed_at is not None

    # Every read parses too: the deal, its history, the lists, the handoffs, the feed.
    assert (
        _call(
            "opportunities.opportunities_retrieve", opportunity.id, client=as_rep, expect=200
        ).parsed.version
        == 3
    )
    history = _call(
        "opportunities.opportunities_history_list", opportunity.id, client=as_rep, expect=200
    ).parsed
    assert [h.transition for h in history.results] == ["approve", "submit_for_approval"]
    for module in (
        "accounts.accounts_list",
        "contacts.contacts_list",
        "products.products_list",
        "opportunities.opportunities_list",
        "handoffs.handoffs_list",
    ):
        assert _call(module, client=as_revops, expect=200).parsed.results
    # A refusal parses as the Problem model, not an UnexpectedStatus.
    refused = importlib.import_module("cw_client.api.transitions.opportunities_transitions_run")
    again = refused.sync_detailed(
        opportunity.id, models.OpportunitiesTransitionsRunName.APPROVE, client=as_revops
    )
    assert again.status_code == 409 and again.parsed.code == "transition_not_allowed"

    seen: list[Any] = []
    after = None
    for _ in range(200):
        extra = {"after": after} if after else {}
        page = _call("events.events_list", client=as_rep, expect=200, **extra).parsed
        seen += page.results
        if any(e.type_ == "opportunity.approved" for e in seen):
            break
        after = page.next_cursor or after
        time.sleep(0.05)  # an open transaction elsewhere on the cluster holds the feed
    assert [e.type_ for e in seen if e.object_ == "opportunity"] == [
        "opportunity.created",
        "opportunity.stage_changed",
        "opportunity.approved",
    ]
    assert json.loads(json.dumps(seen[-1].data))["stage"] == "closed_won"
