"""Evidence requirements (RevOps), the batched facts and the gate items they produce."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from documents.models import Document, EvidenceRequirement
from documents.rules import evidence_unmet
from documents.selectors import evidence_facts
from tests.api.conftest import problem
from tests.factories import ready_opportunity

pytestmark = pytest.mark.django_db

URL = "/api/v1/evidence-requirements/"


def test_revops_require_a_signed_contract_from_50000(api, revops, rep):
    response = api(revops).post(
        URL, {"kind": "signed_contract", "min_amount": "50000"}, format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["min_amount"] == "50000.00"
    assert [r["kind"] for r in api(rep).get(URL).json()["results"]] == ["signed_contract"]
    problem(api(rep).post(URL, {"kind": "purchase_order"}, format="json"), 403, "permission_denied")
    problem(api(revops).post(URL, {"kind": "selfie"}, format="json"), 400, "invalid")
    problem(
        api(revops).post(URL, {"kind": "purchase_order", "min_amount": "-1"}, format="json"),
        400,
        "invalid",
    )
    row_id = response.json()["id"]
    problem(api(rep).delete(f"{URL}{row_id}/"), 403, "permission_denied")
    assert api(revops).delete(f"{URL}{row_id}/").status_code == 204
    assert EvidenceRequirement.objects.count() == 0


def test_the_checklist_turns_green_when_the_contract_is_uploaded(api, rep):
    EvidenceRequirement.objects.create(kind="signed_contract", min_amount=Decimal("50000"))
    big = ready_opportunity(rep, amount=Decimal("60000"))
    small = ready_opportunity(rep, amount=Decimal("1000"))
    requirements, present = evidence_facts([big.pk, small.pk])
    assert [
        u.as_dict()["code"] for u in evidence_unmet(requirements, present[big.pk], big.amount)
    ] == ["evidence_required"]
    assert evidence_unmet(requirements, present[small.pk], small.amount) == []
    from documents.samples import sample_pdf

    api(rep).post(
        f"/api/v1/opportunities/{big.pk}/documents/",
        {"kind": "signed_contract", "file": SimpleUploadedFile("c.pdf", sample_pdf(["signed"]))},
        format="multipart",
    )
    requirements, present = evidence_facts([big.pk])
    assert present[big.pk] == frozenset({"signed_contract"})
    assert evidence_unmet(requirements, present[big.pk], big.amount) == []


def test_facts_take_two_queries_for_a_page_of_deals(rep, django_assert_num_queries):
    EvidenceRequirement.objects.create(kind="purchase_order")
    opportunities = [ready_opportunity(rep) for _ in range(5)]
    for opportunity in opportunities[:3]:
        Document.objects.create(
            opportunity=opportunity,
            kind="purchase_order",
            file="x",
            name="x.pdf",
            size=1,
            content_type="application/pdf",
            sha256="0" * 64,
        )
    Document.objects.filter(opportunity=opportunities[2]).update(esign_status="voided")
    with django_assert_num_queries(2):
        requirements, present = evidence_facts([d.pk for d in opportunities])
    assert [bool(present[d.pk]) for d in opportunities] == [True, True, False, False, False]
    assert len(requirements) == 1
