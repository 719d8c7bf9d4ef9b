"""No code path writes the stage except the service."""

import pytest

from opportunities.models import Opportunity
from opportunities.stages import Stage
from tests.factories import ready_opportunity

pytestmark = pytest.mark.django_db


def test_assigning_the_stage_directly_raises(rep):
    opportunity = ready_opportunity(rep)
    with pytest.raises(AttributeError, match="Direct stage modification is not allowed"):
        opportunity.stage = Stage.CLOSED_WON
    opportunity.refresh_from_db()
    assert opportunity.stage == Stage.NEGOTIATION


def test_a_loaded_deal_cannot_be_saved_into_another_stage(rep):
    opportunity = Opportunity.objects.get(pk=ready_opportunity(rep).pk)
    with pytest.raises(AttributeError):
        opportunity.stage = Stage.CLOSED_WON


def test_calling_a_gated_transition_method_directly_checks_the_gate(rep):
    # Even a caller that bypasses the service cannot skip the gate: it is the FSM condition.
    import django_fsm

    opportunity = ready_opportunity(rep, contract_id="")
    with pytest.raises(django_fsm.TransitionNotAllowed):
        opportunity.submit_for_approval()
