"""The transition service: every transition allowed and refused, with its code (SPEC §2)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core import errors
from handoffs.models import CommissionCredit
from opportunities import services
from opportunities.gate import Code
from opportunities.models import Approval, Decision, Opportunity, StageChange
from opportunities.stages import OPEN_STAGES, TRANSITIONS, Source, Stage
from tests.factories import OpportunityFactory, make_user, ready_opportunity

pytestmark = pytest.mark.django_db


def run(opportunity, name, actor, **params):
    return services.opportunity_transition(
        opportunity=opportunity, name=name, actor=actor, source=Source.API, **params
    )


def stage_of(opportunity):
    return Opportunity.objects.values_list("stage", flat=True).get(pk=opportunity.pk)


# --- given a deal in each source stage, every transition allowed ---------------------------


@pytest.mark.parametrize("source", OPEN_STAGES)
@pytest.mark.parametrize("target", OPEN_STAGES)
def test_moves_between_open_stages(rep, source, target):
    opportunity = ready_opportunity(rep, stage=source)
    if source == target:
        with pytest.raises(errors.TransitionNotAllowed):
            run(opportunity, f"move_to_{target}", rep)
        return
    result = run(opportunity, f"move_to_{target}", rep)
    assert result.stage == target
    change = StageChange.objects.get(opportunity=opportunity)
    assert (change.transition, change.from_stage, change.to_stage, change.actor, change.source) == (
        f"move_to_{target}",
        source,
        target,
        rep,
        Source.API,
    )
    assert change.gate_snapshot["passed"] is True
    assert result.version == 2


def test_revops_can_move_any_deal(rep, revops):
    opportunity = ready_opportunity(rep, stage=Stage.PROSPECTING)
    assert run(opportunity, "move_to_proposal", revops).stage == Stage.PROPOSAL


def test_a_move_is_refused_with_every_unmet_entry_requirement(rep):
    opportunity = OpportunityFactory(owner=rep, account=None)
    with pytest.raises(errors.GateFailed) as exc:
        run(opportunity, "move_to_negotiation", rep)
    assert sorted(e["code"] for e in exc.value.errors) == sorted(
        [
            Code.ACCOUNT_REQUIRED,
            Code.AMOUNT_REQUIRED,
            Code.CLOSE_DATE_REQUIRED,
            Code.PRIMARY_CONTACT_REQUIRED,
        ]
    )
    assert stage_of(opportunity) == Stage.PROSPECTING
    assert not StageChange.objects.exists()


def test_submit_then_approve(rep, revops):
    opportunity = ready_opportunity(rep)
    pending = run(opportunity, "submit_for_approval", rep)
    assert pending.stage == Stage.PENDING_APPROVAL
    approval = Approval.objects.get(opportunity=opportunity)
    assert approval.decision == Decision.PENDING and approval.submitted_by == rep
    assert approval.snapshot["contract_id"] == opportunity.contract_id
    assert approval.snapshot["line_items"][0]["seats"] == 10

    won = run(opportunity, "approve", revops)
    assert won.stage == Stage.CLOSED_WON and won.closed_at is not None
    approval.refresh_from_db()
    assert (approval.decision, approval.decided_by) == (Decision.APPROVED, revops)
    assert list(
        StageChange.objects.filter(opportunity=opportunity)
        .order_by("at", "id")
        .values_list("transition", flat=True)
    ) == [
        "submit_for_approval",
        "approve",
    ]
    assert won.version == 3


def test_submit_is_refused_with_every_unmet_requirement(rep):
    opportunity = ready_opportunity(rep, contract_id="", lines=0)
    with pytest.raises(errors.GateFailed) as exc:
        run(opportunity, "submit_for_approval", rep)
    assert sorted(e["code"] for e in exc.value.errors) == [
        Code.CONTRACT_OR_PO_REQUIRED,
        Code.SEATS_REQUIRED,
    ]
    assert stage_of(opportunity) == Stage.NEGOTIATION
    assert not Approval.objects.exists()


def test_approve_re_evaluates_the_gate(rep, revops, rep2):
    opportunity = ready_opportunity(rep, contract_id="DUP-1")
    run(opportunity, "submit_for_approval", rep)
    # Meanwhile the requirement changed: the deal's contact lost the account match.
    Opportunity.objects.filter(pk=opportunity.pk).update(close_date=None)
    with pytest.raises(errors.GateFailed) as exc:
        run(opportunity, "approve", revops)
    assert [e["code"] for e in exc.value.errors] == [Code.CLOSE_DATE_REQUIRED]
    assert stage_of(opportunity) == Stage.PENDING_APPROVAL


def test_only_the_owner_requests_closed_won(rep, rep2, revops):
    opportunity = ready_opportunity(rep)
    for actor in (rep2, revops):
        with pytest.raises(errors.PermissionDenied) as exc:
            run(opportunity, "submit_for_approval", actor)
        assert exc.value.code == "permission_denied"


def test_other_reps_cannot_move_a_deal(rep, rep2):
    opportunity = ready_opportunity(rep, stage=Stage.PROSPECTING)
    with pytest.raises(errors.PermissionDenied) as exc:
        run(opportunity, "move_to_qualification", rep2)
    assert exc.value.code == "permission_denied"
    assert stage_of(opportunity) == Stage.PROSPECTING


def test_withdraw_by_owner(rep):
    opportunity = ready_opportunity(rep)
    run(opportunity, "submit_for_approval", rep)
    assert run(opportunity, "withdraw", rep).stage == Stage.NEGOTIATION
    assert Approval.objects.get(opportunity=opportunity).decision == Decision.WITHDRAWN


def test_withdraw_by_submitter_who_no_longer_owns_the_deal(rep, rep2, revops):
    opportunity = ready_opportunity(rep)
    run(opportunity, "submit_for_approval", rep)
    Opportunity.objects.filter(pk=opportunity.pk).update(
        owner=rep2
    )  # reassigned by RevOps meanwhile
    assert run(opportunity, "withdraw", rep).stage == Stage.NEGOTIATION


@pytest.mark.parametrize("someone", ["rep2", "revops"])
def test_withdraw_refused_for_someone_else(rep, someone, request):
    # The refusal names who may withdraw, and never the role it refuses (RevOps was
    # told "only the deal's owner or RevOps").
    opportunity = ready_opportunity(rep)
    run(opportunity, "submit_for_approval", rep)
    with pytest.raises(errors.PermissionDenied) as exc:
        run(opportunity, "withdraw", request.getfixturevalue(someone))
    assert exc.value.detail == "Only the deal's owner or whoever submitted it can do this."


# --- segregation of duties --------------------------------------------------------------


def test_it_rejects_self_approval_by_the_owner_even_for_revops(revops, revops2):
    opportunity = ready_opportunity(revops)
    run(opportunity, "submit_for_approval", revops)
    with pytest.raises(errors.SelfApprovalForbidden) as exc:
        run(opportunity, "approve", revops)
    assert exc.value.code == "self_approval_forbidden" and exc.value.status == 403
    assert run(opportunity, "approve", revops2).stage == Stage.CLOSED_WON


def test_it_rejects_approval_by_the_submitter_after_a_reassignment(revops, revops2, admin_user):
    opportunity = ready_opportunity(revops)
    run(opportunity, "submit_for_approval", revops)
    Opportunity.objects.filter(pk=opportunity.pk).update(owner=revops2)
    for actor in (revops, revops2):  # submitter, then the new owner
        with pytest.raises(errors.SelfApprovalForbidden):
            run(opportunity, "approve", actor)
    assert run(opportunity, "approve", admin_user).stage == Stage.CLOSED_WON


def test_it_rejects_self_approval_by_a_superuser(admin_user, revops):
    opportunity = ready_opportunity(admin_user)
    run(opportunity, "submit_for_approval", admin_user)
    with pytest.raises(errors.SelfApprovalForbidden):
        run(opportunity, "approve", admin_user)


def test_reps_cannot_approve_or_reject(rep, rep2):
    opportunity = ready_opportunity(rep)
    run(opportunity, "submit_for_approval", rep)
    for name in ("approve", "reject"):
        with pytest.raises(errors.PermissionDenied) as exc:
            run(opportunity, name, rep2, reason="no")
        assert exc.value.code == "permission_denied"


# --- reasons ---------------------------------------------------------------------------------


def test_reject_needs_a_reason(rep, revops):
    opportunity = ready_opportunity(rep)
    run(opportunity, "submit_for_approval", rep)
    with pytest.raises(errors.ReasonRequired) as exc:
        run(opportunity, "reject", revops, reason="   ")
    assert exc.value.code == "reason_required" and exc.value.status == 422
    rejected = run(opportunity, "reject", revops, reason="PO is for a different entity")
    assert rejected.stage == Stage.NEGOTIATION
    approval = Approval.objects.get(opportunity=opportunity)
    assert (approval.decision, approval.reason) == (
        Decision.REJECTED,
        "PO is for a different entity",
    )
    assert (
        StageChange.objects.filter(opportunity=opportunity, transition="reject").get().reason
        == "PO is for a different entity"
    )


@pytest.mark.parametrize("source", [*OPEN_STAGES, Stage.PENDING_APPROVAL])
def test_mark_lost_from_any_open_stage_or_pending(rep, source):
    opportunity = ready_opportunity(rep, stage=source)
    if source == Stage.PENDING_APPROVAL:
        Approval.objects.create(opportunity=opportunity, submitted_by=rep)
    lost = run(opportunity, "mark_lost", rep, loss_reason="competitor")
    assert (lost.stage, lost.loss_reason) == (Stage.CLOSED_LOST, "competitor")
    assert lost.closed_at is not None
    if source == Stage.PENDING_APPROVAL:
        assert Approval.objects.get(opportunity=opportunity).decision == Decision.WITHDRAWN


def test_mark_lost_needs_a_known_reason_and_detail_for_other(rep):
    opportunity = ready_opportunity(rep)
    with pytest.raises(errors.ReasonRequired) as exc:
        run(opportunity, "mark_lost", rep)
    assert exc.value.errors[0]["field"] == "loss_reason"
    with pytest.raises(errors.InvalidInput) as exc2:
        run(opportunity, "mark_lost", rep, loss_reason="bad_luck")
    assert exc2.value.code == "invalid"
    with pytest.raises(errors.ReasonRequired) as exc3:
        run(opportunity, "mark_lost", rep, loss_reason="other")
    assert exc3.value.errors[0]["field"] == "loss_detail"
    lost = run(opportunity, "mark_lost", rep, loss_reason="other", loss_detail="Company acquired")
    assert lost.loss_detail == "Company acquired"


def test_reopen_a_lost_deal(rep):
    opportunity = ready_opportunity(rep, stage=Stage.CLOSED_LOST, loss_reason="price")
    reopened = run(opportunity, "reopen", rep)
    assert (reopened.stage, reopened.loss_reason, reopened.closed_at) == (
        Stage.QUALIFICATION,
        "",
        None,
    )


# --- refused from the wrong stage ---------------------------------------------------------------


@pytest.mark.parametrize("name", list(TRANSITIONS))
def test_every_transition_is_refused_from_closed_won(rep, revops, name):
    opportunity = ready_opportunity(rep, stage=Stage.CLOSED_WON)
    with pytest.raises(errors.TransitionNotAllowed) as exc:
        run(opportunity, name, revops, reason="x", loss_reason="price")
    assert exc.value.code == "transition_not_allowed" and exc.value.status == 409


@pytest.mark.parametrize("name", ["withdraw", "approve", "reject", "reopen"])
def test_pending_and_lost_only_transitions_refused_from_an_open_stage(rep, revops, name):
    opportunity = ready_opportunity(rep, stage=Stage.NEGOTIATION)
    with pytest.raises(errors.TransitionNotAllowed):
        run(opportunity, name, revops, reason="x")


def test_an_unknown_transition_is_not_found(rep):
    opportunity = ready_opportunity(rep)
    with pytest.raises(errors.NotFound) as exc:
        run(opportunity, "teleport", rep)
    assert exc.value.code == "not_found"


def test_a_stale_expected_version_is_refused(rep):
    opportunity = ready_opportunity(rep)
    with pytest.raises(errors.StaleVersion) as exc:
        services.opportunity_transition(
            opportunity=opportunity, name="submit_for_approval", actor=rep, expected_version=7
        )
    assert exc.value.status == 412
    assert stage_of(opportunity) == Stage.NEGOTIATION


def test_the_gate_snapshot_keeps_the_gated_values(rep):
    opportunity = ready_opportunity(rep, amount=Decimal("1000.00"))
    run(opportunity, "submit_for_approval", rep)
    snap = StageChange.objects.get(opportunity=opportunity).gate_snapshot
    assert snap["target"] == Stage.PENDING_APPROVAL
    assert snap["facts"]["amount"] == "1000.00"
    assert snap["facts"]["line_items"] == [{"seats": 10, "unit_price": "100.00"}]


# --- what a transition costs -----------------------------------------------------------------


def test_submit_and_approve_cost_a_fixed_number_of_queries(rep, revops, django_assert_num_queries):
    """The round trips a transition makes (bench/http_transitions.py measures what they
    cost). Inside the test's transaction the service's atomic block is a savepoint pair;
    the line items are read once for the gate, the snapshot and the payloads."""
    opportunity = ready_opportunity(rep, lines=3)
    # savepoint, lock, permissions, line items, claims, stage requirements, update,
    # history, StageChange, the evidence documents frozen into the Approval, the Approval,
    # the change-feed event, the endpoints subscribed to deal.submitted, release
    # + the policy in force and the exchange rate of the routing facts (a request with
    # only the RevOps step e-mails nobody)
    with django_assert_num_queries(16):
        run(opportunity, "submit_for_approval", rep)
    # + the pending Approval (locked, with its submitter), its update, the commission
    # plan and credit, the active webhook endpoints, the handoffs in one insert, the
    # change-feed event, the decision e-mail (idempotent in one INSERT … ON CONFLICT), the
    # rows for deal.approved and deal.won (the endpoints read once for them and the
    # handoffs)
    # + the step decision (in a savepoint; at a first step one approval completes,
    # nothing was approved before and nothing needs counting), the rep's in-app
    # notification, the booking of the ledger (the reporting currency itself needs no rate)
    with django_assert_num_queries(23):
        approved = run(opportunity, "approve", revops)
    assert approved.stage == Stage.CLOSED_WON
    assert approved.handoffs.count() == 4
    approval = Approval.objects.get(opportunity=opportunity)
    assert len(approval.snapshot["line_items"]) == 3


def test_approve_costs_the_same_statements_and_sql_text_with_40_line_items_as_with_1(rep, revops):
    """What approve writes per line item is values, not statements or SQL text: the
    payloads and the change-feed event travel as bound parameters (the SQL text was where
    every quote of every payload was escaped) and the frozen snapshot is not written
    again."""
    from tests.sql import statements_sent

    def approve(lines: int) -> list[str]:
        opportunity = ready_opportunity(rep, lines=lines, seats=1, unit_price=Decimal("10.00"))
        run(opportunity, "submit_for_approval", rep)
        with statements_sent() as sent:
            run(opportunity, "approve", revops)
        return sent

    approve(1)  # the first approval also writes the environment's webhook endpoints
    one, many = approve(1), approve(40)

    assert len(one) == len(many)
    sizes = {len(a) - len(b) for a, b in zip(many, one, strict=True)}
    # ids and timestamps differ by a few characters; no statement grows with the items
    assert max(sizes) < 200
    (decision,) = [q for q in many if q.startswith('UPDATE "opportunities_approval"')]
    assert '"snapshot"' not in decision and '"decision"' in decision


def test_approving_keeps_the_snapshot_as_submitted_and_records_the_decision(rep, revops):
    opportunity = ready_opportunity(rep, lines=3)
    run(opportunity, "submit_for_approval", rep)
    submitted = Approval.objects.get(opportunity=opportunity).snapshot

    run(opportunity, "approve", revops)

    approval = Approval.objects.get(opportunity=opportunity)
    assert approval.snapshot == submitted and len(submitted["line_items"]) == 3
    assert (approval.decision, approval.decided_by) == (Decision.APPROVED, revops)
    assert approval.decided_at is not None and approval.reporting_currency


def test_a_deal_whose_owner_was_deactivated_cannot_be_approved(rep, revops):
    opportunity = ready_opportunity(rep)
    run(opportunity, "submit_for_approval", rep)
    rep.is_active = False
    rep.save()
    with pytest.raises(errors.GateFailed) as refused:
        run(opportunity, "approve", revops)
    assert [(e.code, e.field) for e in refused.value.errors] == [("owner_inactive", "owner")]
    assert stage_of(opportunity) == Stage.PENDING_APPROVAL
    assert not CommissionCredit.objects.filter(opportunity=opportunity).exists()
    # RevOps reassign it; then it can be approved, credited to the active owner.
    services.opportunity_update(opportunity=opportunity, actor=revops, data={"owner": revops})
    other = make_user("revops", "revops_second")
    approved = run(opportunity, "approve", other)
    assert approved.stage == Stage.CLOSED_WON
