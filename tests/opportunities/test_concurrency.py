"""Racing transitions on PostgreSQL: exactly one wins, the other gets a clean domain error."""

from __future__ import annotations

import threading

import pytest
from django.db import close_old_connections, connection

from core import errors
from opportunities import services
from opportunities.models import Approval, Opportunity, StageChange
from opportunities.stages import Stage
from tests.factories import ready_opportunity

pytestmark = pytest.mark.django_db(transaction=True)


def race(n, fn):
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def worker(i):
        try:
            barrier.wait()
            results[i] = fn(i)
        except Exception as exc:  # noqa: BLE001
            results[i] = exc
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def test_two_approvals_of_one_deal_exactly_one_wins(rep, revops, revops2):
    opportunity = ready_opportunity(rep)
    services.opportunity_transition(opportunity=opportunity, name="submit_for_approval", actor=rep)
    actors = [revops, revops2]
    results = race(
        2,
        lambda i: services.opportunity_transition(
            opportunity=opportunity.pk, name="approve", actor=actors[i]
        ),
    )
    wins = [r for r in results if isinstance(r, Opportunity)]
    losses = [r for r in results if isinstance(r, errors.DomainError)]
    assert len(wins) == 1 and len(losses) == 1, results
    assert losses[0].code in ("transition_not_allowed", "concurrent_update")
    assert StageChange.objects.filter(opportunity=opportunity, transition="approve").count() == 1
    assert Approval.objects.get(opportunity=opportunity).decision == "approved"


def test_two_submissions_of_one_deal_exactly_one_wins(rep):
    opportunity = ready_opportunity(rep)
    results = race(
        2,
        lambda i: services.opportunity_transition(
            opportunity=opportunity.pk, name="submit_for_approval", actor=rep
        ),
    )
    wins = [r for r in results if isinstance(r, Opportunity)]
    assert len(wins) == 1, results
    assert all(isinstance(r, errors.DomainError) for r in results if r not in wins)
    assert StageChange.objects.filter(opportunity=opportunity).count() == 1
    assert Approval.objects.filter(opportunity=opportunity).count() == 1


def test_two_deals_racing_for_one_contract_id_only_one_is_submitted(rep):
    a = ready_opportunity(rep, contract_id="RACE-1")
    b = ready_opportunity(rep, contract_id="race-1 ")
    opportunities = [a, b]
    results = race(
        2,
        lambda i: services.opportunity_transition(
            opportunity=opportunities[i].pk, name="submit_for_approval", actor=rep
        ),
    )
    wins = [r for r in results if isinstance(r, Opportunity)]
    losses = [r for r in results if isinstance(r, errors.GateFailed)]
    assert len(wins) == 1 and len(losses) == 1, results
    assert losses[0].errors[0]["code"] == "contract_id_in_use"
    assert Opportunity.objects.filter(stage=Stage.PENDING_APPROVAL).count() == 1


def test_ten_concurrent_approvals_one_winner(rep, db):
    from tests.factories import make_user

    opportunity = ready_opportunity(rep)
    services.opportunity_transition(opportunity=opportunity, name="submit_for_approval", actor=rep)
    approvers = [make_user("revops", f"approver{i}") for i in range(10)]
    results = race(
        10,
        lambda i: services.opportunity_transition(
            opportunity=opportunity.pk, name="approve", actor=approvers[i]
        ),
    )
    assert sum(isinstance(r, Opportunity) for r in results) == 1, results
    assert all(isinstance(r, (Opportunity, errors.DomainError)) for r in results), results
    assert StageChange.objects.filter(opportunity=opportunity, transition="approve").count() == 1
