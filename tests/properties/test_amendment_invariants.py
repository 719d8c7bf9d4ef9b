"""Revenue invariants under amendments and cancellations of won deals (a Hypothesis state machine).

Hypothesis drives random users (reps, RevOps, an admin) through random transitions,
edits, line-item replacements and reassignments — every one through the services, as
the UI, API, admin and imports do — and after every step checks:

* no deal is won without its evidence (the Closed-Won gate passes on its values);
* no deal was approved by its owner (at approval time) or by its submitter;
* no two pending/won deals share a contract ID (trimmed, case-insensitive);
* every won deal has exactly one approved approval, four handoffs and one commission credit;
* no gated field changed after submission (the values equal the approval snapshot, or
  the ``after`` of the last applied amendment);
* amendments and cancellations: Σ booking deltas of a deal = its current amount (0 when
  cancelled); Σ commission credits = current amount × rate (0 once cancelled inside the
  clawback window); every applied amendment has exactly one ``.amended`` /
  ``.cancelled`` delivery per subscribed endpoint and handoff kind.

Each example runs inside a savepoint that is rolled back, so examples do not leak.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import Decimal

import pytest
from django.apps import apps
from django.conf import settings as django_settings
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from amendments import services as amendment_services
from amendments.ledger import deal_state, saved_line_items
from amendments.models import Amendment, Booking
from core import errors
from handoffs.events import HANDOFF_CHANGE_EVENT_TYPES
from handoffs.models import CommissionCredit, Handoff, HandoffKind, WebhookEndpoint
from opportunities import gate, services
from opportunities.models import Approval, Decision, Opportunity
from opportunities.snapshot import values_snapshot
from opportunities.stages import (
    CLAIMING_STAGES,
    LOCKED_STAGES,
    TRANSITIONS,
    LossReason,
    Source,
    Stage,
)
from tests.factories import AccountFactory, ContactFactory, ProductFactory, make_user

CONTRACT_IDS = ["C-1", "c-1 ", "C-2", "C-3", ""]
PO_NUMBERS = ["PO-1", "po-1", "PO-2", ""]
TRANSITION_NAMES = sorted(TRANSITIONS)
STATS: Counter[str] = Counter()


def _handoff_models():
    try:
        return apps.get_model("handoffs", "Handoff"), apps.get_model("handoffs", "CommissionCredit")
    except LookupError:  # pragma: no cover - the handoffs app always ships these models
        return None, None


class AmendmentMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.savepoint = transaction.savepoint()
        self.users = [
            make_user("rep", "prop_rep1"),
            make_user("rep", "prop_rep2"),
            make_user("revops", "prop_ops1"),
            make_user("revops", "prop_ops2"),
            make_user("admin", "prop_admin"),
        ]
        self.accounts = [AccountFactory(), AccountFactory()]
        self.contacts = [
            ContactFactory(account=self.accounts[0]),
            ContactFactory(account=self.accounts[1]),
        ]
        self.contacts.append(ContactFactory(account=self.accounts[0], email=""))
        self.products = [ProductFactory(), ProductFactory()]
        # Two endpoints receive every event: each applied amendment must reach each once.
        self.endpoints = [
            WebhookEndpoint.objects.create(
                url=f"https://hooks{i}.example.test/",
                event_types=[*HANDOFF_CHANGE_EVENT_TYPES, "deal.amended", "deal.cancelled"],
            )
            for i in range(2)
        ]
        self.deals: list[int] = []
        self.refusals: Counter[str] = Counter()

    def teardown(self) -> None:
        transaction.savepoint_rollback(self.savepoint)

    # --- rules ------------------------------------------------------------------------------
    @rule(owner=st.integers(0, 4), account=st.integers(0, 1), complete=st.booleans())
    def create_deal(self, owner, account, complete):
        actor = self.users[owner]
        data = {"name": f"Deal {len(self.deals)}", "account": self.accounts[account].pk}
        items = None
        if complete:
            data.update(
                amount=Decimal("1000.00"),
                close_date=timezone.localdate() - dt.timedelta(days=1),
                contract_id=f"C-{len(self.deals)}",
                primary_contact=self.contacts[account].pk,
            )
            items = [{"product": self.products[0].pk, "seats": 10, "unit_price": "100.00"}]
        deal = services.opportunity_create(
            actor=actor, data=data, line_items=items, source=Source.API
        )
        self.deals.append(deal.pk)

    @precondition(lambda self: self.deals)
    @rule(
        deal=st.integers(0, 1000),
        actor=st.integers(0, 4),
        name=st.sampled_from(TRANSITION_NAMES),
        reason=st.sampled_from(["", "not ready"]),
        loss_reason=st.sampled_from(["", *LossReason.values]),
    )
    def transition(self, deal, actor, name, reason, loss_reason):
        pk = self.deals[deal % len(self.deals)]
        try:
            services.opportunity_transition(
                opportunity=pk,
                name=name,
                actor=self.users[actor],
                source=Source.API,
                reason=reason,
                loss_reason=loss_reason,
                loss_detail="detail" if loss_reason == "other" else "",
            )
        except errors.DomainError as exc:
            self.refusals[exc.code] += 1

    @precondition(lambda self: self.deals)
    @rule(deal=st.integers(0, 1000))
    def owner_requests_closed_won(self, deal):
        # Biased rule: random transitions alone rarely line up owner + complete deal.
        pk = self.deals[deal % len(self.deals)]
        owner = Opportunity.objects.get(pk=pk).owner
        try:
            services.opportunity_transition(opportunity=pk, name="submit_for_approval", actor=owner)
        except errors.DomainError as exc:
            self.refusals[exc.code] += 1

    @precondition(lambda self: self.deals)
    @rule(deal=st.integers(0, 1000), as_owner=st.booleans())
    def owner_or_submitter_tries_to_approve(self, deal, as_owner):
        # Biased rule: segregation of duties must hold for RevOps owners and submitters too.
        pk = self.deals[deal % len(self.deals)]
        opp = Opportunity.objects.get(pk=pk)
        pending = opp.approvals.filter(decision=Decision.PENDING).first()
        actor = opp.owner if as_owner or pending is None else pending.submitted_by
        try:
            services.opportunity_transition(opportunity=pk, name="approve", actor=actor)
            STATS["approved"] += 1
        except errors.DomainError as exc:
            self.refusals[exc.code] += 1
            STATS[f"refused:{exc.code}"] += 1

    @initialize()
    def a_deal_waits_for_approval(self):
        # Every example starts with one complete deal pending approval, so approvals (and
        # refusals of self-approval) happen in every run, not only in lucky ones.
        self.create_deal(owner=0, account=0, complete=True)
        services.opportunity_transition(
            opportunity=self.deals[-1], name="submit_for_approval", actor=self.users[0]
        )

    @initialize()
    def a_won_deal_has_a_change_requested(self):
        # Every example also starts with a won deal whose owner asked for more seats, so
        # amendments are decided in every run.
        self.create_deal(owner=0, account=1, complete=True)
        pk = self.deals[-1]
        services.opportunity_transition(
            opportunity=pk, name="submit_for_approval", actor=self.users[0]
        )
        services.opportunity_transition(opportunity=pk, name="approve", actor=self.users[2])
        amendment_services.amendment_request(
            opportunity=pk,
            actor=self.users[0],
            kind="change",
            reason="seat count",
            changes={"amount": "1500.00"},
            line_items=[{"product": self.products[0].pk, "seats": 15, "unit_price": "100.00"}],
        )

    @precondition(lambda self: self.deals)
    @rule(deal=st.integers(0, 1000), actor=st.integers(0, 4))
    def approve(self, deal, actor):
        # Prefer a pending deal: approving anything else is only ever refused.
        pending = list(
            Opportunity.objects.filter(pk__in=self.deals, stage=Stage.PENDING_APPROVAL).values_list(
                "pk", flat=True
            )
        )
        pool = pending or self.deals
        pk = pool[deal % len(pool)]
        try:
            services.opportunity_transition(opportunity=pk, name="approve", actor=self.users[actor])
            STATS["approved"] += 1
        except errors.DomainError as exc:
            self.refusals[exc.code] += 1
            STATS[f"refused:{exc.code}"] += 1

    @precondition(lambda self: self.deals)
    @rule(
        deal=st.integers(0, 1000),
        actor=st.integers(0, 4),
        field=st.sampled_from(
            [
                "amount",
                "close_date",
                "contract_id",
                "po_number",
                "primary_contact",
                "currency",
                "name",
                "account",
                "owner",
            ]
        ),
        choice=st.integers(0, 4),
    )
    def edit(self, deal, actor, field, choice):
        pk = self.deals[deal % len(self.deals)]
        today = timezone.localdate()
        values = {
            "amount": [
                Decimal("1000.00"),
                Decimal("0"),
                Decimal("999.99"),
                None,
                Decimal("2000.00"),
            ],
            "close_date": [
                today,
                today + dt.timedelta(days=3),
                None,
                today - dt.timedelta(days=30),
                today,
            ],
            "contract_id": CONTRACT_IDS,
            "po_number": [*PO_NUMBERS, "PO-3"],
            "primary_contact": [c.pk for c in self.contacts] + [None, self.contacts[0].pk],
            "currency": ["USD", "EUR", "USD", "GBP", "USD"],
            "name": ["A", "B", "C", "D", "E"],
            "account": [a.pk for a in self.accounts] * 2 + [self.accounts[0].pk],
            "owner": [u.pk for u in self.users],
        }[field]
        try:
            services.opportunity_update(
                opportunity=pk,
                actor=self.users[actor],
                data={field: values[choice]},
                source=Source.API,
            )
        except errors.DomainError as exc:
            self.refusals[exc.code] += 1

    @precondition(lambda self: self.deals)
    @rule(
        deal=st.integers(0, 1000),
        actor=st.integers(0, 4),
        seats=st.integers(0, 20),
        priced=st.booleans(),
    )
    def replace_line_items(self, deal, actor, seats, priced):
        pk = self.deals[deal % len(self.deals)]
        items = (
            []
            if seats == 0
            else [
                {
                    "product": self.products[1].pk,
                    "seats": seats,
                    "unit_price": "100.00" if priced else None,
                }
            ]
        )
        try:
            services.opportunity_update(
                opportunity=pk, actor=self.users[actor], data={}, line_items=items
            )
        except errors.DomainError as exc:
            self.refusals[exc.code] += 1

    def _won(self, deal):
        won = list(
            Opportunity.objects.filter(pk__in=self.deals, stage=Stage.CLOSED_WON).values_list(
                "pk", flat=True
            )
        )
        return won[deal % len(won)] if won else None

    @precondition(lambda self: self.deals)
    @rule(
        deal=st.integers(0, 1000),
        actor=st.integers(0, 4),
        seats=st.integers(1, 40),
        consistent=st.booleans(),
        term=st.sampled_from([None, 12, 24]),
    )
    def request_change(self, deal, actor, seats, consistent, term):
        pk = self._won(deal)
        if pk is None:
            return
        changes = {"amount": f"{seats * 100}.00" if consistent else "1.00"}
        if term is not None:
            changes["term_months"] = term
        try:
            amendment_services.amendment_request(
                opportunity=pk,
                actor=self.users[actor],
                kind="change",
                reason="seat count",
                changes=changes,
                line_items=[
                    {"product": self.products[0].pk, "seats": seats, "unit_price": "100.00"}
                ],
            )
            STATS["amendment_requested"] += 1
        except errors.DomainError as exc:
            self.refusals[exc.code] += 1

    @precondition(lambda self: self.deals)
    @rule(deal=st.integers(0, 1000), actor=st.integers(0, 4))
    def request_cancellation(self, deal, actor):
        pk = self._won(deal)
        if pk is None:
            return
        try:
            amendment_services.amendment_request(
                opportunity=pk, actor=self.users[actor], kind="cancellation", reason="churn"
            )
            STATS["cancellation_requested"] += 1
        except errors.DomainError as exc:
            self.refusals[exc.code] += 1

    @rule(
        pick=st.integers(0, 1000),
        actor=st.integers(0, 4),
        decision=st.sampled_from(["approve", "approve", "reject", "withdraw"]),
    )
    def decide_amendment(self, pick, actor, decision):
        # Prefer a pending amendment: deciding a decided one is only ever refused.
        amendments = Amendment.objects.filter(opportunity_id__in=self.deals).order_by("pk")
        pending = list(amendments.filter(status="pending").values_list("pk", flat=True)) or list(
            amendments.values_list("pk", flat=True)
        )
        if not pending:
            return
        try:
            amendment_services.amendment_decide(
                amendment=pending[pick % len(pending)],
                actor=self.users[actor],
                decision=decision,
                reason="no",
            )
            STATS[f"amendment:{decision}"] += 1
        except errors.DomainError as exc:
            self.refusals[exc.code] += 1

    # --- invariants ---------------------------------------------------------------------------
    @invariant()
    def won_deals_carry_their_evidence(self):
        for deal in Opportunity.objects.filter(stage=Stage.CLOSED_WON).select_related(
            "primary_contact"
        ):
            unmet = gate.evaluate(gate.gather_one(deal, target=Stage.CLOSED_WON), Stage.CLOSED_WON)
            assert unmet == [], (deal.pk, unmet)

    @invariant()
    def nobody_approved_their_own_deal(self):
        for approval in Approval.objects.filter(decision=Decision.APPROVED).select_related(
            "opportunity"
        ):
            assert approval.decided_by_id != approval.submitted_by_id
            owner_then = approval.opportunity.history.as_of(approval.decided_at).owner_id
            assert approval.decided_by_id != owner_then

    @invariant()
    def contract_ids_are_claimed_once(self):
        keys = [
            gate.normalize_key(c)
            for c in Opportunity.objects.filter(stage__in=CLAIMING_STAGES).values_list(
                "contract_id", flat=True
            )
        ]
        keys = [k for k in keys if k]
        assert len(keys) == len(set(keys)), keys

    @invariant()
    def won_deals_have_one_approval_four_handoffs_and_one_credit(self):
        handoff_model, credit_model = _handoff_models()
        for deal in Opportunity.objects.filter(stage=Stage.CLOSED_WON):
            assert deal.approvals.filter(decision=Decision.APPROVED).count() == 1
            if handoff_model is not None:
                kinds = sorted(
                    handoff_model.objects.filter(opportunity=deal).values_list("kind", flat=True)
                )
                assert kinds == ["billing", "commission", "customer_success", "provisioning"], (
                    deal.pk,
                    kinds,
                )
                assert credit_model.objects.filter(opportunity=deal, kind="booking").count() == 1

    @invariant()
    def gated_fields_never_change_after_submission(self):
        for deal in Opportunity.objects.filter(stage__in=LOCKED_STAGES):
            amended = (
                Amendment.objects.filter(opportunity=deal, status="approved", kind="change")
                .order_by("-decided_at", "-pk")
                .first()
            )
            if amended is not None:
                # Changed only by an approved amendment: exactly its proposed values.
                assert deal_state(deal, saved_line_items(deal)) == amended.after, deal.pk
                continue
            wanted = Decision.PENDING if deal.stage == Stage.PENDING_APPROVAL else Decision.APPROVED
            approval = deal.approvals.get(decision=wanted)
            current = values_snapshot(deal)
            for key in (
                "amount",
                "currency",
                "close_date",
                "contract_id",
                "po_number",
                "primary_contact",
                "line_items",
            ):
                assert current[key] == approval.snapshot[key], (
                    deal.pk,
                    key,
                    current[key],
                    approval.snapshot[key],
                )

    @invariant()
    def the_ledger_and_the_credits_follow_the_amount(self):
        for deal in Opportunity.objects.filter(
            pk__in=self.deals, stage__in=(Stage.CLOSED_WON, Stage.CANCELLED)
        ):
            booked = sum(
                Booking.objects.filter(opportunity=deal).values_list("amount_delta", flat=True),
                Decimal(0),
            )
            credited = sum(
                CommissionCredit.objects.filter(opportunity=deal).values_list(
                    "credit_amount", flat=True
                ),
                Decimal(0),
            )
            if deal.stage == Stage.CANCELLED:
                # No contract start in this machine: the close counts, so inside the window.
                assert booked == 0 and credited == 0, (deal.pk, booked, credited)
            else:
                assert booked == deal.amount, (deal.pk, booked, deal.amount)
                rate = Decimal(str(django_settings.COMMISSION_DEFAULT_RATE))
                assert credited == (deal.amount * rate).quantize(Decimal("0.01")), deal.pk

    @invariant()
    def every_applied_amendment_is_delivered_once_per_endpoint_and_kind(self):
        for amendment in Amendment.objects.filter(opportunity_id__in=self.deals, status="approved"):
            change = "amended" if amendment.kind == "change" else "cancelled"
            for kind in HandoffKind.values:
                rows = list(
                    Handoff.outbox.filter(
                        event_type=f"handoff.{kind}.{change}",
                        payload__data__amendment__id=amendment.pk,
                    ).values_list("endpoint_id", flat=True)
                )
                assert sorted(rows) == sorted(e.pk for e in self.endpoints), (amendment.pk, kind)


@pytest.mark.django_db
@pytest.mark.slow
@pytest.mark.timeout(900)  # shrinking a failure can take minutes; passing runs take ~45 s
def test_amendment_invariants_hold_under_random_operations():
    run_state_machine_as_test(
        AmendmentMachine,
        settings=settings(
            max_examples=25,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            database=None,
        ),
    )
    # The run must have exercised the interesting paths, or it proved nothing.
    assert STATS["approved"] > 0, STATS
    assert STATS["refused:self_approval_forbidden"] > 0, STATS
    assert STATS["amendment:approve"] > 0, STATS
