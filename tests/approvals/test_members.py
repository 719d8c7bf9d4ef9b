"""One membership rule: whoever may decide a step is whoever is told of it (e-mails,
RevOps notices, the inbox). And one place for the rules of a policy definition: the
service refuses what the API's shape check lets through, whoever calls."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission

from approvals import selectors, services
from approvals.models import ApprovalPolicy
from core import errors
from handoffs.models import OutgoingMessage
from handoffs.targets import revops_recipients
from opportunities import policies
from opportunities.models import Approval
from opportunities.services import opportunity_transition
from tests.api.conftest import client_for, problem
from tests.approvals.conftest import BIG
from tests.factories import make_user, ready_opportunity

pytestmark = pytest.mark.django_db


def _approver_by_permission():
    """Not in the RevOps group: granted the approve permission directly."""
    user = make_user("rep", "direct_approver")
    user.user_permissions.add(
        Permission.objects.get(
            content_type__app_label="opportunities", codename="approve_opportunity"
        )
    )
    return type(user).objects.get(pk=user.pk)


def test_whoever_may_decide_revops_step_is_told_of_it(rep, revops, fiona, policy):
    direct = _approver_by_permission()
    boss = make_user("admin", "super_sam")
    assert boss.is_superuser
    for user in (revops, direct, boss):
        assert policies.is_member(user, "RevOps")
    assert not policies.is_member(fiona, "RevOps")
    told = set(policies.members_of("RevOps"))
    assert {revops, direct, boss} <= told and fiona not in told
    assert {revops.email, direct.email, boss.email} <= set(revops_recipients())

    opportunity = ready_opportunity(rep, **BIG)
    opportunity_transition(opportunity=opportunity, name="submit_for_approval", actor=rep)
    mailed = {
        tuple(to)
        for to in OutgoingMessage.objects.filter(event_type="email.approval").values_list(
            "payload__to", flat=True
        )
    }
    assert {(revops.email,), (direct.email,), (boss.email,)} <= mailed
    inbox = selectors.decidable_by(Approval.objects.all(), direct)
    assert list(inbox.values_list("opportunity", flat=True)) == [opportunity.pk]
    opportunity_transition(opportunity=opportunity, name="approve", actor=direct)
    assert Approval.objects.get(opportunity=opportunity).step_index == 1


def test_an_inactive_member_neither_decides_nor_is_told(rep, revops, fiona, fred, policy):
    fred.is_active = False
    fred.save()
    assert not policies.is_member(fred, "Finance")
    assert list(policies.members_of("Finance")) == [fiona]
    opportunity = ready_opportunity(rep, **BIG)
    opportunity_transition(opportunity=opportunity, name="submit_for_approval", actor=rep)
    opportunity_transition(opportunity=opportunity, name="approve", actor=revops)
    to = OutgoingMessage.objects.filter(event_type="email.approval", payload__to=[fred.email])
    assert not to.exists()
    assert not selectors.decidable_by(Approval.objects.all(), fred).exists()


BAD = {
    "name": "Out of range",
    "rules": [
        {
            "name": "r",
            "conditions": {
                "amount_gte": "100000000000000000",
                "max_discount_pct_gte": "150",
                "term_months_gt": 5000,
                "billing_country_in": ["USA"],
                "type_in": ["merger"],
            },
            "steps": [{"group": "Finance", "mode": "some", "count": 99, "sla_hours": 0}],
        }
    ],
}
BAD_FIELDS = {
    "rules[0].conditions.amount_gte",
    "rules[0].conditions.max_discount_pct_gte",
    "rules[0].conditions.term_months_gt",
    "rules[0].conditions.billing_country_in",
    "rules[0].conditions.type_in",
    "rules[0].steps[0].mode",
    "rules[0].steps[0].count",
    "rules[0].steps[0].sla_hours",
}


def test_the_service_refuses_out_of_range_definitions_with_a_field_error_each(
    revops, finance_group
):
    with pytest.raises(errors.InvalidInput) as bad:
        services.policy_save(BAD, actor=revops)
    assert {e.field for e in bad.value.errors} == BAD_FIELDS
    assert not ApprovalPolicy.objects.exists()


def test_the_api_gets_the_same_answer_from_the_service(revops, finance_group):
    body = problem(
        client_for(revops).post("/api/v1/approval-policies/", BAD, format="json"), 400, "invalid"
    )
    assert {e["field"] for e in body["errors"]} == BAD_FIELDS
    assert not ApprovalPolicy.objects.exists()
