"""The pipeline stages, their transitions and the field lists that depend on them,
declared once.

Everything that shows a stage (UI, API, admin, dashboard) reads its label, probability
and forecast category from here.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models


class Stage(models.TextChoices):
    PROSPECTING = "prospecting", "Prospecting"
    QUALIFICATION = "qualification", "Qualification"
    PROPOSAL = "proposal", "Proposal"
    NEGOTIATION = "negotiation", "Negotiation"
    PENDING_APPROVAL = "pending_approval", "Closed-Won — pending approval"
    CLOSED_WON = "closed_won", "Closed Won"
    CLOSED_LOST = "closed_lost", "Closed Lost"
    # A won deal whose contract was cancelled afterwards: final, reached only through an
    # approved cancellation (amendments app), never through TRANSITIONS.
    CANCELLED = "cancelled", "Cancelled"


PROBABILITY: dict[str, int] = {
    Stage.PROSPECTING: 10,
    Stage.QUALIFICATION: 20,
    Stage.PROPOSAL: 50,
    Stage.NEGOTIATION: 75,
    Stage.PENDING_APPROVAL: 90,
    Stage.CLOSED_WON: 100,
    Stage.CLOSED_LOST: 0,
    Stage.CANCELLED: 0,
}

FORECAST_CATEGORY: dict[str, str] = {
    Stage.PROSPECTING: "pipeline",
    Stage.QUALIFICATION: "pipeline",
    Stage.PROPOSAL: "best_case",
    Stage.NEGOTIATION: "commit",
    Stage.PENDING_APPROVAL: "commit",
    Stage.CLOSED_WON: "closed",
    Stage.CLOSED_LOST: "omitted",
    Stage.CANCELLED: "omitted",
}

OPEN_STAGES: tuple[str, ...] = (
    Stage.PROSPECTING,
    Stage.QUALIFICATION,
    Stage.PROPOSAL,
    Stage.NEGOTIATION,
)
# Stages whose opportunity "claims" its contract ID / PO number: no two such
# opportunities share one.
CLAIMING_STAGES: tuple[str, ...] = (Stage.PENDING_APPROVAL, Stage.CLOSED_WON)
# Stages in which the gated fields may not change (record_locked).
LOCKED_STAGES: tuple[str, ...] = (Stage.PENDING_APPROVAL, Stage.CLOSED_WON, Stage.CANCELLED)
# Order used for "this stage and all later ones" (cumulative requirements).
STAGE_ORDER: tuple[str, ...] = (*OPEN_STAGES, Stage.PENDING_APPROVAL, Stage.CLOSED_WON)


class OpportunityType(models.TextChoices):
    NEW_BUSINESS = "new_business", "New business"
    RENEWAL = "renewal", "Renewal"
    UPSELL = "upsell", "Upsell"


class LossReason(models.TextChoices):
    PRICE = "price", "Price"
    COMPETITOR = "competitor", "Lost to a competitor"
    NO_BUDGET = "no_budget", "No budget"
    NO_DECISION = "no_decision", "No decision"
    TIMING = "timing", "Timing"
    PRODUCT_FIT = "product_fit", "Product fit"
    OTHER = "other", "Other"


class Source(models.TextChoices):
    UI = "ui", "Web UI"
    API = "api", "API"
    ADMIN = "admin", "Admin"
    SYSTEM = "system", "System"


class Who:
    """Who may run a transition."""

    OWNER = "owner"
    REVOPS = "revops"
    SUBMITTER = "submitter"


@dataclass(frozen=True)
class TransitionSpec:
    name: str
    label: str
    sources: tuple[str, ...]
    target: str
    who: frozenset[str]
    # Extra input the transition takes; "reason" for reject, "loss_reason" for mark_lost.
    needs: tuple[str, ...] = ()


def _move(stage: str) -> TransitionSpec:
    return TransitionSpec(
        name=f"move_to_{stage}",
        label=f"Move to {Stage(stage).label}",
        sources=tuple(s for s in OPEN_STAGES if s != stage),
        target=stage,
        who=frozenset({Who.OWNER, Who.REVOPS}),
    )


TRANSITIONS: dict[str, TransitionSpec] = {
    spec.name: spec
    for spec in (
        *(_move(stage) for stage in OPEN_STAGES),
        TransitionSpec(
            name="submit_for_approval",
            label="Request Closed-Won",
            sources=OPEN_STAGES,
            target=Stage.PENDING_APPROVAL,
            who=frozenset({Who.OWNER}),
        ),
        TransitionSpec(
            name="withdraw",
            label="Withdraw request",
            sources=(Stage.PENDING_APPROVAL,),
            target=Stage.NEGOTIATION,
            who=frozenset({Who.OWNER, Who.SUBMITTER}),
        ),
        TransitionSpec(
            name="approve",
            label="Approve Closed-Won",
            sources=(Stage.PENDING_APPROVAL,),
            target=Stage.CLOSED_WON,
            who=frozenset({Who.REVOPS}),
        ),
        TransitionSpec(
            name="reject",
            label="Reject",
            sources=(Stage.PENDING_APPROVAL,),
            target=Stage.NEGOTIATION,
            who=frozenset({Who.REVOPS}),
            needs=("reason",),
        ),
        TransitionSpec(
            name="mark_lost",
            label="Mark lost",
            sources=(*OPEN_STAGES, Stage.PENDING_APPROVAL),
            target=Stage.CLOSED_LOST,
            who=frozenset({Who.OWNER, Who.REVOPS}),
            needs=("loss_reason",),
        ),
        TransitionSpec(
            name="reopen",
            label="Reopen",
            sources=(Stage.CLOSED_LOST,),
            target=Stage.QUALIFICATION,
            who=frozenset({Who.OWNER, Who.REVOPS}),
        ),
    )
}


# Fields RevOps may make required per stage (StageRequirement.field choices).
CONFIGURABLE_FIELDS: list[tuple[str, str]] = [
    ("account", "Account"),
    ("amount", "Amount"),
    ("close_date", "Close date"),
    ("contract_id", "Contract ID"),
    ("po_number", "PO number"),
    ("primary_contact", "Primary contact"),
    ("contract_start_date", "Contract start date"),
    ("term_months", "Term (months)"),
    ("line_items", "Line items"),
]
FIELD_LABELS = dict(CONFIGURABLE_FIELDS)

# What a write may set on an account, a contact, a product.
ACCOUNT_FIELDS = ("name", "domain", "billing_country", "owner", "external_id")
CONTACT_FIELDS = ("account", "first_name", "last_name", "email", "phone", "title")
PRODUCT_FIELDS = ("sku", "name", "active")

# What a write may set on an opportunity (the stage never: only transitions move it).
EDITABLE_FIELDS = (
    "name",
    "account",
    "owner",
    "type",
    "amount",
    "currency",
    "close_date",
    "contract_id",
    "po_number",
    "primary_contact",
    "contract_start_date",
    "term_months",
    "next_step",
    "next_step_date",
)
# Locked while pending approval and after Closed-Won, line items included: what RevOps
# approve and billing receives. The account is locked too: moving a pending deal to
# another account would silently break "primary contact on this account" and the
# per-account PO rule. The billing terms (type, contract start, term) are what billing
# invoices by.
GATED_FIELDS = (
    "account",
    "type",
    "amount",
    "currency",
    "close_date",
    "contract_id",
    "po_number",
    "primary_contact",
    "contract_start_date",
    "term_months",
)


def stage_label(stage: str) -> str:
    return str(Stage(stage).label)
