"""The due time of the waiting step, frozen when the step becomes current."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine

from approvals.calendar import add_business_hours
from opportunities import services
from opportunities.stages import Source
from tests.admin.conftest import submit
from tests.factories import ready_opportunity

pytestmark = pytest.mark.django_db


def test_the_due_time_is_frozen_at_submission_and_at_each_step(rep, revops, fiona, policy):
    at = dt.datetime(2031, 3, 3, 10, 0, tzinfo=dt.UTC)  # a Monday
    opportunity = ready_opportunity(rep, seats=100, unit_price=Decimal("1500.00"))
    with time_machine.travel(at, tick=False):
        approval = submit(opportunity)
    assert approval.step_due_at == add_business_hours(at, 8)

    later = at + dt.timedelta(hours=2)
    with time_machine.travel(later, tick=False):
        services.opportunity_transition(
            opportunity=opportunity, name="approve", actor=revops, source=Source.API
        )
    approval.refresh_from_db()
    assert approval.step_index == 1
    assert approval.step_due_at == add_business_hours(later, 8)  # Finance's SLA

    services.opportunity_transition(
        opportunity=opportunity, name="approve", actor=fiona, source=Source.API
    )
    approval.refresh_from_db()
    assert approval.decision == "approved" and approval.step_due_at is None


def test_a_rejected_or_withdrawn_request_has_no_due_time(rep, revops):
    opportunity = ready_opportunity(rep)
    approval = submit(opportunity)
    assert approval.step_due_at is not None
    services.opportunity_transition(
        opportunity=opportunity, name="reject", actor=revops, source=Source.API, reason="No PO"
    )
    approval.refresh_from_db()
    assert approval.decision == "rejected" and approval.step_due_at is None
