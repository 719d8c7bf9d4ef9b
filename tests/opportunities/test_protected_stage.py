"""No code path writes the stage except the service."""

import pytest

from opportunities.models import Opportunity
from opportunities.stages import Stage
from tests.factories import ready_deal

pytestmark = pytest.mark.django_db


def test_assigning_the_stage_directly_raises(rep):
    deal = ready_deal(rep)
    with pytest.raises(AttributeError, match="Direct stage modification is not allowed"):
        deal.stage = Stage.CLOSED_WON
    deal.refresh_from_db()
    assert deal.stage == Stage.NEGOTIATION


def test_a_loaded_deal_cannot_be_saved_into_another_stage(rep):
    deal = Opportunity.objects.get(pk=ready_deal(rep).pk)
    with pytest.raises(AttributeError):
        deal.stage = Stage.CLOSED_WON


def test_calling_a_gated_transition_method_directly_checks_the_gate(rep):
    # Even a caller that bypasses the service cannot skip the gate: it is the FSM condition.
    import django_fsm

    deal = ready_deal(rep, contract_id="")
    with pytest.raises(django_fsm.TransitionNotAllowed):
        deal.submit_for_approval()
