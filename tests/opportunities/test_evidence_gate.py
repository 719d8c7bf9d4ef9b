"""Evidence documents in the gate: the service, the dry run and the checklist refuse a deal
without the documents RevOps require, in a constant number of queries."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core import errors
from documents.models import Document, EvidenceRequirement
from opportunities import gate, selectors, services
from opportunities.stages import Source, Stage
from tests.api.conftest import client_for
from tests.factories import ready_opportunity

pytestmark = pytest.mark.django_db


def attach(opportunity, kind):
    return Document.objects.create(
        opportunity=opportunity,
        kind=kind,
        file="x",
        name="x.pdf",
        size=1,
        content_type="application/pdf",
        sha256="0" * 64,
    )


def test_it_refuses_to_submit_without_the_required_document(rep):
    EvidenceRequirement.objects.create(kind="signed_contract", min_amount=Decimal("50000"))
    opportunity = ready_opportunity(rep, seats=60, unit_price=Decimal("1000.00"))
    with pytest.raises(errors.GateFailed) as refused:
        services.opportunity_transition(
            opportunity=opportunity, name="submit_for_approval", actor=rep, source=Source.API
        )
    assert [(e.code, e.field) for e in refused.value.errors] == [
        ("evidence_required", "documents.signed_contract")
    ]
    attach(opportunity, "signed_contract")
    done = services.opportunity_transition(
        opportunity=opportunity, name="submit_for_approval", actor=rep, source=Source.API
    )
    assert done.stage == Stage.PENDING_APPROVAL


def test_a_deal_below_the_minimum_needs_no_document(rep):
    EvidenceRequirement.objects.create(kind="signed_contract", min_amount=Decimal("50000"))
    opportunity = ready_opportunity(rep, amount=Decimal("1000"))
    assert gate.unmet_requirements(opportunity, Stage.CLOSED_WON) == []


def test_the_checklist_has_a_row_with_an_upload_kind_per_required_document(rep):
    EvidenceRequirement.objects.create(kind="purchase_order")
    opportunity = ready_opportunity(rep)
    rows = {row["label"]: row for row in selectors.opportunity_checklist(opportunity)["items"]}
    assert rows["Purchase order attached"]["met"] is False
    assert rows["Purchase order attached"]["upload_kind"] == "purchase_order"
    attach(opportunity, "purchase_order")
    rows = {row["label"]: row for row in selectors.opportunity_checklist(opportunity)["items"]}
    assert rows["Purchase order attached"]["met"] is True


def test_the_dry_run_lists_the_missing_document(rep):
    EvidenceRequirement.objects.create(kind="purchase_order")
    opportunity = ready_opportunity(rep)
    options = {
        o["name"]: o
        for o in client_for(rep).get(f"/api/v1/opportunities/{opportunity.pk}/transitions/").json()
    }
    submit = options["submit_for_approval"]
    assert submit["allowed"] is False
    assert [u["code"] for u in submit["unmet"]] == ["evidence_required"]


@pytest.mark.parametrize("opportunities", [1, 20])
def test_gate_facts_with_evidence_cost_four_queries_for_any_page(rep, opportunities):
    EvidenceRequirement.objects.create(kind="purchase_order")
    page = list(
        selectors.opportunity_list().filter(
            pk__in=[ready_opportunity(rep).pk for _ in range(opportunities)]
        )
    )
    with CaptureQueriesContext(connection) as ctx:
        gate.unmet_for_page(page)
    # claims, configuration (stage + evidence requirements in one), document kinds; line
    # items and contacts come prefetched with the page.
    assert len(ctx.captured_queries) <= 4, [q["sql"] for q in ctx.captured_queries]
