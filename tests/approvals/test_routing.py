"""The pure routing function: every condition, cumulative steps, one step per group."""

from __future__ import annotations

from decimal import Decimal

from approvals.routing import (
    Conditions,
    OpportunityFacts,
    RuleDef,
    StepDef,
    max_discount_pct,
    route,
    route_label,
)


def facts(**over):
    base = dict(
        amount_reporting=Decimal("50000"),
        amount_converted=True,
        max_discount_pct=Decimal("5"),
        term_months=12,
        type="new_business",
        currency="USD",
        reporting_currency="USD",
        billing_country="US",
    )
    base.update(over)
    return OpportunityFacts(**base)


FIN = RuleDef("Big deals", Conditions(amount_gte=Decimal("100000")), (StepDef("Finance"),))
DESK = RuleDef(
    "Discounts", Conditions(max_discount_pct_gte=Decimal("20")), (StepDef("Deal desk", "all", 2),)
)


def groups(steps):
    return [s.group for s in steps]


def test_no_rule_matches_only_revops():
    assert groups(route(facts(), [FIN, DESK])) == ["RevOps"]


def test_amount_threshold_is_inclusive_and_labelled():
    steps = route(facts(amount_reporting=Decimal("100000")), [FIN])
    assert groups(steps) == ["RevOps", "Finance"]
    assert steps[1].rule == "Big deals"
    assert route_label(steps) == "RevOps → Finance (amount ≥ 100,000)"
    assert groups(route(facts(amount_reporting=Decimal("99999.99")), [FIN])) == ["RevOps"]


def test_unconvertible_amount_is_routed_not_skipped():
    steps = route(facts(amount_reporting=None, amount_converted=False), [FIN])
    assert groups(steps) == ["RevOps", "Finance"]
    assert groups(route(facts(amount_reporting=None, amount_converted=True), [FIN])) == ["RevOps"]


def test_discount_and_cumulative_steps_in_rule_order():
    steps = route(
        facts(amount_reporting=Decimal("200000"), max_discount_pct=Decimal("20")), [FIN, DESK]
    )
    assert groups(steps) == ["RevOps", "Finance", "Deal desk"]
    assert (steps[2].mode, steps[2].count) == ("all", 2)
    assert groups(route(facts(max_discount_pct=None), [DESK])) == ["RevOps"]


def test_every_other_condition():
    legal = (StepDef("Legal"),)
    cases = [
        (Conditions(term_months_gt=24), dict(term_months=36), dict(term_months=24)),
        (Conditions(type_in=("renewal",)), dict(type="renewal"), dict(type="new_business")),
        (Conditions(currency_not_reporting=True), dict(currency="EUR"), dict(currency="USD")),
        (Conditions(billing_country_in=("DE", "FR")), dict(billing_country="DE"), dict()),
    ]
    for cond, yes, no in cases:
        rule = RuleDef("r", cond, legal)
        assert groups(route(facts(**yes), [rule])) == ["RevOps", "Legal"], cond
        assert groups(route(facts(**no), [rule])) == ["RevOps"], cond
    both = RuleDef("both", Conditions(term_months_gt=24, currency_not_reporting=True), legal)
    assert groups(route(facts(term_months=36), [both])) == ["RevOps"]


def test_one_step_per_group_first_rule_places_it():
    again = RuleDef(
        "Also finance", Conditions(), (StepDef("Finance", sla_hours=2), StepDef("RevOps"))
    )
    steps = route(facts(amount_reporting=Decimal("100000")), [FIN, again])
    assert groups(steps) == ["RevOps", "Finance"]
    assert steps[1].rule == "Big deals"


def test_max_discount():
    assert max_discount_pct(
        [(Decimal("80"), Decimal("100")), (Decimal("90"), Decimal("100"))]
    ) == Decimal("20.00")
    assert max_discount_pct([(Decimal("80"), None), (None, Decimal("1"))]) is None
