"""Domain models: accounts, contacts, products, opportunities and their line items, the
stage changes and approvals.

The stage is an ``FSMField(protected=True)``: assigning it directly raises, so the only way
to change it is a transition method, and the only caller of those is
``services.transitions.opportunity_transition`` (which locks the row and writes the StageChange).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pycountry
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django_fsm import FSMField, FSMModelMixin, transition
from simple_history.models import HistoricalRecords

from core.fields import JSONDocumentField
from core.keys import (
    normalize_key,
    reject_control_characters,
    reject_control_characters_multiline,
)
from core.money import validate_amount_for_currency, validate_currency_code

from .stages import (
    CLAIMING_STAGES,
    CONFIGURABLE_FIELDS,
    FORECAST_CATEGORY,
    OPEN_STAGES,
    PROBABILITY,
    TRANSITIONS,
    LossReason,
    OpportunityType,
    Source,
    Stage,
)


def validate_currency(value: str) -> None:
    """An ISO 4217 code of money (XAU, XDR and the like are refused)."""
    validate_currency_code(value)


def validate_country(value: str) -> None:
    if value and (value != value.upper() or pycountry.countries.get(alpha_2=value) is None):
        raise ValidationError(
            "Enter an ISO 3166 two-letter country code such as US or DE.", code="invalid_country"
        )


def default_currency() -> str:
    return settings.DEFAULT_CURRENCY


class TimeStamped(models.Model):
    created_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        abstract = True


# Single-line text never holds control characters (tab, newline, NUL…).
TEXT = [reject_control_characters]
# Keys are longer than their source at most by case folding and NFKC expansions.
KEY_LENGTH = 400
# Money columns hold up to 4 decimals (ISO 4217's largest exponent, e.g. CLF); each
# currency's own exponent is checked in clean() (JPY 0, USD 2, KWD 3).


class Account(TimeStamped):
    name = models.CharField(max_length=200, validators=TEXT)
    domain = models.CharField(max_length=253, blank=True, validators=TEXT)
    billing_country = models.CharField(max_length=2, blank=True, validators=[validate_country])
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="accounts",
    )
    external_id = models.CharField(
        max_length=100, null=True, blank=True, unique=True, validators=TEXT
    )

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["name"])]
        permissions = [
            (
                "sync_records",
                "Can write external ids and reassign accounts (integration users)",
            )
        ]

    def __str__(self) -> str:
        return self.name


class Contact(TimeStamped):
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="contacts")
    first_name = models.CharField(max_length=100, blank=True, validators=TEXT)
    last_name = models.CharField(max_length=100, validators=TEXT)
    email = models.EmailField(blank=True, validators=TEXT)
    phone = models.CharField(max_length=50, blank=True, validators=TEXT)
    title = models.CharField(max_length=100, blank=True, validators=TEXT)

    class Meta:
        ordering = ["last_name", "first_name", "id"]

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class Product(TimeStamped):
    sku = models.CharField(max_length=64, unique=True, validators=TEXT)
    # The SKU as people read it (core.keys.normalize_key): "CW‐CORE" and "cw-core" are one.
    sku_key = models.CharField(max_length=KEY_LENGTH, unique=True, editable=False, default="")
    name = models.CharField(max_length=200, validators=TEXT)
    active = models.BooleanField(default=True)
    # Per seat per term, in the reporting currency: a line's discount is
    # 1 - unit_price / list_price (None: no list price, no discount shown).
    list_price = models.DecimalField(
        max_digits=18,
        decimal_places=4,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
    )

    class Meta:
        ordering = ["sku"]

    def __str__(self) -> str:
        return f"{self.sku} — {self.name}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.sku_key = normalize_key(self.sku)
        _with_keys(kwargs, {"sku": "sku_key"})
        super().save(*args, **kwargs)

    def clean(self) -> None:
        super().clean()
        key = normalize_key(self.sku)
        if self.sku and not key:
            raise ValidationError({"sku": ValidationError("Enter a SKU.", code="invalid")})
        if key and Product.objects.filter(sku_key=key).exclude(pk=self.pk).exists():
            raise ValidationError(
                {"sku": ValidationError("A product with this SKU already exists.", code="unique")}
            )


def _gate_checked(target: str) -> Any:
    """A django-fsm-2 condition: true only when the transition service evaluated the gate
    for ``target`` on this instance and found nothing unmet (``_gate_unmet``). A
    transition method called any other way is refused, so no path skips the gate."""

    def condition(instance: Any) -> bool:
        checked = getattr(instance, "_gate_unmet", None)
        return checked is not None and target in checked and not checked[target]

    condition.__name__ = f"gate_passes_for_{target}"
    return condition


def _cancellation_approved(instance: Any) -> bool:
    """A django-fsm-2 condition: true only when the amendments service approved a
    cancellation of this very instance (under its row lock)."""
    return bool(getattr(instance, "_cancellation_approved", False))


def _fsm(name: str, *, gated: bool = False) -> Any:
    """Declare a django-fsm-2 transition from its single spec in ``stages.TRANSITIONS``."""
    spec = TRANSITIONS[name]
    return transition(
        field="stage",
        source=list(spec.sources),
        target=spec.target,
        conditions=[_gate_checked(spec.target)] if gated else [],
        custom={"label": spec.label},
    )


def _with_keys(kwargs: dict[str, Any], keys: dict[str, str]) -> None:
    """A save limited to ``update_fields`` writes the key of every source field it writes."""
    fields = kwargs.get("update_fields")
    if fields is not None:
        kwargs["update_fields"] = {*fields, *(keys[f] for f in fields if f in keys)}


class Opportunity(FSMModelMixin, TimeStamped):
    name = models.CharField(max_length=200, validators=TEXT)
    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.PROTECT, related_name="opportunities"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="opportunities"
    )
    stage = FSMField(
        max_length=32,
        choices=Stage.choices,
        default=Stage.PROSPECTING,
        protected=True,
        db_index=True,
    )
    type = models.CharField(
        max_length=20, choices=OpportunityType.choices, default=OpportunityType.NEW_BUSINESS
    )
    amount = models.DecimalField(
        max_digits=18,
        decimal_places=4,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
        help_text="Total contract value, in the currency's minor units.",
    )
    currency = models.CharField(
        max_length=3, default=default_currency, validators=[validate_currency]
    )
    close_date = models.DateField(null=True, blank=True, db_index=True)
    contract_id = models.CharField(max_length=100, blank=True, validators=TEXT)
    po_number = models.CharField("PO number", max_length=100, blank=True, validators=TEXT)
    # Contract ID and PO number as people read them (core.keys.normalize_key): computed
    # in Python on every save so SQLite and PostgreSQL agree; the gate and the partial
    # unique indexes compare these.
    contract_key = models.CharField(max_length=KEY_LENGTH, blank=True, editable=False)
    po_key = models.CharField(max_length=KEY_LENGTH, blank=True, editable=False)
    primary_contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.PROTECT, related_name="primary_for"
    )
    contract_start_date = models.DateField(null=True, blank=True)
    term_months = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)]
    )
    loss_reason = models.CharField(max_length=20, choices=LossReason.choices, blank=True)
    loss_detail = models.TextField(blank=True, validators=[reject_control_characters_multiline])
    closed_at = models.DateTimeField(null=True, blank=True)
    # What the rep does next and when (shown and edited on the board card).
    next_step = models.CharField("next step", max_length=200, blank=True)
    next_step_date = models.DateField("next step date", null=True, blank=True)
    version = models.PositiveIntegerField(default=1)

    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        verbose_name_plural = "opportunities"
        ordering = ["-updated_at", "-id"]
        permissions = [
            ("approve_opportunity", "Can approve or reject Closed-Won"),
            ("change_any_opportunity", "Can change any rep's opportunities"),
        ]
        indexes = [
            models.Index(fields=["stage", "close_date"]),
            models.Index(fields=["owner", "stage"]),
            models.Index(fields=["contract_key"], name="opp_contract_key_idx"),
            models.Index(fields=["account", "po_key"], name="opp_po_key_idx"),
            # The API's cursor order (the sort key, then id): a page starts at its cursor
            # in the index, however deep, instead of sorting every row before it.
            models.Index(fields=["updated_at", "id"], name="opp_cursor_updated_idx"),
            models.Index(fields=["created_at", "id"], name="opp_cursor_created_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__isnull=True) | Q(amount__gte=0), name="opp_amount_not_negative"
            ),
            # The gate checks uniqueness first (with a friendly message); these partial
            # unique indexes make it hold even when two deals are submitted at the same
            # instant in two transactions.
            models.UniqueConstraint(
                "contract_key",
                condition=Q(stage__in=CLAIMING_STAGES) & ~Q(contract_key=""),
                name="opp_contract_id_claimed_once",
            ),
            models.UniqueConstraint(
                "account",
                "po_key",
                condition=Q(stage__in=CLAIMING_STAGES) & ~Q(po_key=""),
                name="opp_po_number_claimed_once_per_account",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.set_keys()
        _with_keys(kwargs, {"contract_id": "contract_key", "po_number": "po_key"})
        super().save(*args, **kwargs)

    def clean(self) -> None:
        super().clean()
        if self.amount is not None and self.currency:
            try:
                validate_amount_for_currency(self.amount, self.currency)
            except ValidationError as exc:
                raise ValidationError({"amount": exc}) from exc

    def set_keys(self) -> None:
        """Compute the stored keys; bulk inserts call it, save() does it itself."""
        self.contract_key = normalize_key(self.contract_id)
        self.po_key = normalize_key(self.po_number)

    def refresh_from_db(
        self, using: Any = None, fields: Any = None, from_queryset: Any = None
    ) -> None:
        """Reload without django-fsm-2's FSMModelMixin.refresh_from_db, which switches the
        *shared* field's ``protected`` flag off and on: two threads refreshing at once
        (threaded servers, the concurrency tests) then see "Direct stage modification is
        not allowed". The descriptor only refuses a stage already in ``__dict__``, so
        dropping this instance's cached value lets the reload set it, thread-safely."""
        reload_stage = fields is None or "stage" in fields
        previous = self.__dict__.pop("stage", None) if reload_stage else None
        try:
            models.Model.refresh_from_db(
                self, using=using, fields=fields, from_queryset=from_queryset
            )
        except Exception:
            if reload_stage and "stage" not in self.__dict__ and previous is not None:
                self.__dict__["stage"] = previous
            raise

    # --- derived values ---------------------------------------------------------------
    @property
    def stage_label(self) -> str:
        return str(Stage(self.stage).label)

    @property
    def probability(self) -> int:
        return PROBABILITY[self.stage]

    @property
    def forecast_category(self) -> str:
        return FORECAST_CATEGORY[self.stage]

    @property
    def is_open(self) -> bool:
        return self.stage in OPEN_STAGES

    # --- transitions (declared once; run only through services.opportunity_transition) --
    @_fsm("move_to_prospecting", gated=True)
    def move_to_prospecting(self) -> None:
        pass

    @_fsm("move_to_qualification", gated=True)
    def move_to_qualification(self) -> None:
        pass

    @_fsm("move_to_proposal", gated=True)
    def move_to_proposal(self) -> None:
        pass

    @_fsm("move_to_negotiation", gated=True)
    def move_to_negotiation(self) -> None:
        pass

    @_fsm("submit_for_approval", gated=True)
    def submit_for_approval(self) -> None:
        pass

    @_fsm("withdraw")
    def withdraw(self) -> None:
        pass

    @_fsm("approve", gated=True)
    def approve(self) -> None:
        self.closed_at = timezone.now()

    @_fsm("reject")
    def reject(self) -> None:
        pass

    @_fsm("mark_lost")
    def mark_lost(self, *, loss_reason: str, loss_detail: str = "") -> None:
        self.loss_reason = loss_reason
        self.loss_detail = loss_detail
        self.closed_at = timezone.now()

    @_fsm("reopen")
    def reopen(self) -> None:
        self.loss_reason = ""
        self.loss_detail = ""
        self.closed_at = None

    # Not in stages.TRANSITIONS (no deal-transition endpoint offers it): the amendments
    # service runs it when a second RevOps member approves a cancellation, after setting
    # ``_cancellation_approved`` on the locked row.
    @transition(
        field="stage",
        source=[Stage.CLOSED_WON],
        target=Stage.CANCELLED,
        conditions=[_cancellation_approved],
        custom={"label": "Cancel the won deal"},
    )
    def cancel(self) -> None:
        pass


class LineItem(TimeStamped):
    opportunity = models.ForeignKey(
        Opportunity, on_delete=models.CASCADE, related_name="line_items"
    )
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="line_items")
    seats = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    unit_price = models.DecimalField(
        max_digits=18,
        decimal_places=4,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
        help_text="Price per seat for the whole term.",
    )

    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(seats__gte=1), name="line_item_seats_at_least_one"),
            models.CheckConstraint(
                condition=Q(unit_price__isnull=True) | Q(unit_price__gte=0),
                name="line_item_unit_price_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.seats} × {self.product_id}"


def line_items_prefetch() -> models.Prefetch:
    """A deal's line items with their products, in order: the one prefetch every list,
    export and transition uses."""
    return models.Prefetch(
        "line_items",
        queryset=LineItem.objects.select_related("product")
        .defer(*LINE_ITEMS_UNREAD, *(f"product__{name}" for name in LINE_ITEMS_UNREAD))
        .order_by("id"),
    )


# The timestamps of the line items and their products, shown by none of the readers of
# line_items_prefetch(): turning four of them a row into aware datetimes was a third of
# what an approval of 100 line items spent on reading them.
LINE_ITEMS_UNREAD = ("created_at", "updated_at")


class StageTotal(models.Model):
    """A change to the count and value of the deals of one stage, currency and owner,
    appended by database triggers on every write to a deal (``opportunities.stage_totals``
    explains how, and reads them). The sum of a key's rows is that key's count,
    amount (in the currency's major units) and number of deals with an amount; rows are
    folded into one per key every minute. Written only by the database and that module
    (and by ``loaddata``, whose rows are then recomputed from the deals)."""

    stage = models.CharField(max_length=32, choices=Stage.choices)
    currency = models.CharField(max_length=3)
    # The deal's owner, for reading names in the same query; no database constraint, so
    # a total never makes deleting anything wait on it.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    count = models.BigIntegerField()
    amount = models.DecimalField(max_digits=30, decimal_places=4)
    priced = models.BigIntegerField(help_text="Deals of the key that have an amount.")

    def __str__(self) -> str:
        return f"{self.stage} {self.currency} owner {self.owner_id}: {self.count:+d}"


class WaitingTotal(models.Model):
    """A change to the number of Closed-Won requests waiting on a group's step, appended
    by database triggers on every write to an approval (``opportunities.stage_totals``).
    The sum of a group's rows is how many requests wait for that group now."""

    step_group = models.CharField(max_length=150)
    count = models.BigIntegerField()

    def __str__(self) -> str:
        return f"{self.step_group}: {self.count:+d}"


class StageChange(models.Model):
    opportunity = models.ForeignKey(
        Opportunity, on_delete=models.CASCADE, related_name="stage_changes"
    )
    transition = models.CharField(max_length=40)
    from_stage = models.CharField(max_length=32, choices=Stage.choices)
    to_stage = models.CharField(max_length=32, choices=Stage.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source = models.CharField(max_length=10, choices=Source.choices)
    reason = models.TextField(blank=True, validators=[reject_control_characters_multiline])
    gate_snapshot = JSONDocumentField(default=dict, blank=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["opportunity", "-at"])]

    def __str__(self) -> str:
        return f"{self.opportunity_id}: {self.from_stage} → {self.to_stage}"


class Decision(models.TextChoices):
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    WITHDRAWN = "withdrawn", "Withdrawn"


class Approval(models.Model):
    opportunity = models.ForeignKey(Opportunity, on_delete=models.CASCADE, related_name="approvals")
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    submitted_at = models.DateTimeField(default=timezone.now, db_index=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision = models.CharField(max_length=10, choices=Decision.choices, default=Decision.PENDING)
    reason = models.TextField(blank=True, validators=[reject_control_characters_multiline])
    snapshot = JSONDocumentField(default=dict, blank=True)
    # Frozen at approval: the amount in the reporting currency and the rate used (None
    # when no rate was known then: the booking stays in its own currency).
    reporting_currency = models.CharField(max_length=3, blank=True)
    reporting_amount = models.DecimalField(max_digits=18, decimal_places=4, null=True, blank=True)
    reporting_rate = models.DecimalField(max_digits=24, decimal_places=12, null=True, blank=True)
    # The route frozen at submission (approvals.routing: a list of step dicts, RevOps
    # first), the policy version it came from, the step now waiting and since when.
    route = models.JSONField(default=list, blank=True)
    policy_version = models.PositiveIntegerField(null=True, blank=True)
    step_index = models.PositiveSmallIntegerField(default=0)
    step_started_at = models.DateTimeField(null=True, blank=True)
    # When the waiting step's SLA runs out (business hours from step_started_at, frozen
    # when the step becomes current; None once decided): the business calendar cannot be
    # computed in SQL, and the queue orders overdue requests first across all its pages.
    step_due_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["submitted_at", "id"]
        indexes = [
            models.Index(fields=["decision", "submitted_at"]),
            models.Index(fields=["decision", "step_due_at"]),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["opportunity"],
                condition=Q(decision="pending"),
                name="one_pending_approval_per_deal",
            ),
            models.UniqueConstraint(
                fields=["opportunity"],
                condition=Q(decision="approved"),
                name="one_approved_approval_per_deal",
            ),
        ]

    def __str__(self) -> str:
        return f"Approval #{self.pk} ({self.decision})"

    # The step engine (approvals.services) reads these of an Approval and an Amendment.
    @property
    def is_pending(self) -> bool:
        return self.decision == Decision.PENDING

    @property
    def requester_id(self) -> int:
        return self.submitted_by_id


class StageRequirement(TimeStamped):
    """A RevOps-configured required field for a stage and every later stage.

    It only adds to the built-in rules (gate/rules.py); it can never remove one.
    """

    STAGES = [
        (Stage.QUALIFICATION, Stage.QUALIFICATION.label),
        (Stage.PROPOSAL, Stage.PROPOSAL.label),
        (Stage.NEGOTIATION, Stage.NEGOTIATION.label),
        (Stage.PENDING_APPROVAL, "Closed-Won request"),
    ]

    stage = models.CharField(max_length=32, choices=STAGES)
    field = models.CharField(max_length=40, choices=CONFIGURABLE_FIELDS)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["stage", "field"]
        constraints = [
            models.UniqueConstraint(fields=["stage", "field"], name="stage_requirement_once")
        ]

    def __str__(self) -> str:
        return f"{self.get_stage_display()}: {self.get_field_display()}"


# --- The RevOps approval queue -----------------------------------------------------------


class ClosedWonApproval(Approval):
    """The Closed-Won approval queue in the admin.

    A proxy of Approval, so the queue gets an admin page, URL and sidebar entry of its own
    without a second table: each row is one request for Closed-Won, and its page is the
    deal as it was submitted.
    """

    class Meta:
        proxy = True
        verbose_name = "Closed-Won approval"
        verbose_name_plural = "Closed-Won approvals"
        ordering = ["submitted_at", "id"]
