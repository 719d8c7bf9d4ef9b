"""Racing step decisions on PostgreSQL: the row locks serialise them."""

from __future__ import annotations

import time

import pytest
from django.contrib.auth.models import Group

from approvals import services as approval_services
from approvals.models import ApprovalDecision, ApprovalPolicy
from core import errors
from opportunities import services
from opportunities.models import Approval, Opportunity
from opportunities.stages import Stage
from tests.factories import make_user, policy_author, ready_opportunity
from tests.opportunities.test_concurrency import race

pytestmark = pytest.mark.django_db(transaction=True)


def _members(group_name, n):
    group = Group.objects.get_or_create(name=group_name)[0]
    users = [make_user("rep", f"{group_name.lower()}{i}") for i in range(n)]
    for u in users:
        u.groups.add(group)
    return users


def _policy(mode, count):
    approval_services.policy_save(
        {
            "name": "Race",
            "rules": [
                {
                    "name": "All deals",
                    "conditions": {},
                    "steps": [{"group": "Finance", "mode": mode, "count": count, "sla_hours": 8}],
                }
            ],
        },
        actor=policy_author(),
    )


def _at_finance(rep, revops):
    opportunity = ready_opportunity(rep)
    services.opportunity_transition(opportunity=opportunity, name="submit_for_approval", actor=rep)
    services.opportunity_transition(opportunity=opportunity.pk, name="approve", actor=revops)
    return opportunity


def test_two_members_of_an_all_two_step_both_count_once(rep, revops):
    members = _members("Finance", 2)
    _policy("all", 2)
    opportunity = _at_finance(rep, revops)
    results = race(
        2,
        lambda i: services.opportunity_transition(
            opportunity=opportunity.pk, name="approve", actor=members[i]
        ),
    )
    assert all(isinstance(r, Opportunity) for r in results), results
    approval = Approval.objects.get(opportunity=opportunity)
    assert approval.decision == "approved"
    assert Opportunity.objects.get(pk=opportunity.pk).stage == Stage.CLOSED_WON
    finance = ApprovalDecision.objects.filter(approval=approval, group="Finance")
    assert sorted(finance.values_list("decided_by", flat=True)) == sorted(m.pk for m in members)
    assert opportunity.handoffs.count() == 4


def test_two_members_on_the_last_any_step_one_wins(rep, revops):
    members = _members("Finance", 2)
    _policy("any", 1)
    opportunity = _at_finance(rep, revops)
    results = race(
        2,
        lambda i: services.opportunity_transition(
            opportunity=opportunity.pk, name="approve", actor=members[i]
        ),
    )
    wins = [r for r in results if isinstance(r, Opportunity)]
    losses = [r for r in results if isinstance(r, errors.DomainError)]
    assert len(wins) == 1 and len(losses) == 1, results
    assert losses[0].code in ("transition_not_allowed", "already_decided")
    approval = Approval.objects.get(opportunity=opportunity)
    assert ApprovalDecision.objects.filter(approval=approval, group="Finance").count() == 1
    assert opportunity.handoffs.count() == 4


def test_two_first_publishes_at_once_both_succeed_in_turn(monkeypatch, revops):
    # No version is published yet: nothing to lock but the publish lock itself.
    author = policy_author()
    drafts = [approval_services.policy_copy_to_draft(None, actor=author) for _ in range(2)]
    real = approval_services._next_version

    def slow_next_version():
        # Widen the window between reading the last version and writing the next one.
        version = real()
        time.sleep(0.3)
        return version

    monkeypatch.setattr(approval_services, "_next_version", slow_next_version)
    results = race(2, lambda i: approval_services.policy_publish(drafts[i], actor=author))
    assert all(isinstance(r, ApprovalPolicy) for r in results), results
    assert sorted(r.version for r in results) == [1, 2]
    assert sorted(
        ApprovalPolicy.objects.filter(version__isnull=False).values_list("version", flat=True)
    ) == [1, 2]
