"""The evidence rule, pure: requirements × present kinds × amount in reporting currency."""

from __future__ import annotations

from decimal import Decimal

from documents.rules import RequirementFacts, evidence_unmet

CONTRACT_FROM_50K = RequirementFacts(id=1, kind="signed_contract", min_amount=Decimal("50000"))
PO_ALWAYS = RequirementFacts(id=2, kind="purchase_order", min_amount=None)


def test_it_requires_the_contract_from_the_minimum_up():
    unmet = evidence_unmet([CONTRACT_FROM_50K], frozenset(), Decimal("50000"))
    assert [(u.code, u.field, u.kind) for u in unmet] == [
        ("evidence_required", "documents", "signed_contract")
    ]
    assert unmet[0].as_dict().keys() == {"code", "field", "message"}


def test_it_does_not_require_it_below_the_minimum():
    assert evidence_unmet([CONTRACT_FROM_50K], frozenset(), Decimal("49999.99")) == []


def test_an_unknown_amount_is_treated_as_large_enough():
    assert [u.kind for u in evidence_unmet([CONTRACT_FROM_50K], frozenset(), None)] == [
        "signed_contract"
    ]


def test_a_present_kind_meets_it():
    assert evidence_unmet([CONTRACT_FROM_50K, PO_ALWAYS], {"signed_contract"}, Decimal("9e5")) == [
        u for u in evidence_unmet([PO_ALWAYS], frozenset(), None)
    ]


def test_every_missing_kind_is_reported_once():
    twice = RequirementFacts(id=3, kind="purchase_order", min_amount=Decimal("10"))
    unmet = evidence_unmet([PO_ALWAYS, twice, CONTRACT_FROM_50K], frozenset(), Decimal("60000"))
    assert [u.kind for u in unmet] == ["purchase_order", "signed_contract"]
    assert "50,000" in unmet[1].message


def test_no_requirements_nothing_unmet():
    assert evidence_unmet([], frozenset(), Decimal("1")) == []
