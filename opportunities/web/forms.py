"""Rep UI forms. They only parse and present: every write goes through ``services``.

Choice fields take their options from ``ui_selectors`` (one query each) instead of model
choice fields, so a formset of line items does not query the product list once per row.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any, cast

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.forms import BaseFormSet, formset_factory
from django.urls import reverse

from core.errors import FieldError
from core.money import money_amount

from ..models import Contact, Opportunity, validate_country, validate_currency
from ..selectors import pipeline as ui_selectors
from ..services import line_items
from ..stages import GATED_FIELDS, LOCKED_STAGES, LossReason, OpportunityType

# Fields of the deal form, in the order the service accepts them (stages.EDITABLE_FIELDS).
OPPORTUNITY_FIELDS = (
    "name",
    "account",
    "primary_contact",
    "type",
    "amount",
    "currency",
    "close_date",
    "contract_id",
    "po_number",
    "contract_start_date",
    "term_months",
)


def _choice(form: forms.BaseForm, name: str) -> forms.ChoiceField:
    return cast(forms.ChoiceField, form.fields[name])


class UpperCaseField(forms.CharField):
    """Upper-cases before the validators run (currency and country codes: ``usd`` → ``USD``)."""

    def to_python(self, value: Any) -> str:
        return str(super().to_python(value)).upper()


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs, format="%Y-%m-%d")


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class OpportunityForm(forms.Form):
    name = forms.CharField(label="Deal name", max_length=200)
    account = forms.TypedChoiceField(label="Account", coerce=int, required=False, empty_value=None)
    primary_contact = forms.TypedChoiceField(
        label="Primary contact", coerce=int, required=False, empty_value=None
    )
    type = forms.ChoiceField(label="Type", choices=OpportunityType.choices)
    amount = forms.DecimalField(
        label="Amount",
        help_text="Total contract value.",
        max_digits=14,
        decimal_places=4,
        min_value=Decimal(0),
        required=False,
        widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}),
    )
    currency = UpperCaseField(
        label="Currency", max_length=3, validators=[validate_currency], initial=""
    )
    close_date = forms.DateField(label="Close date", required=False, widget=DateInput())
    contract_id = forms.CharField(label="Contract ID", max_length=100, required=False)
    po_number = forms.CharField(label="PO number", max_length=100, required=False)
    contract_start_date = forms.DateField(
        label="Contract start date", required=False, widget=DateInput()
    )
    term_months = forms.IntegerField(
        label="Term (months)", min_value=1, max_value=32767, required=False
    )
    # Optimistic locking: the edit is refused (stale_version) if the deal changed meanwhile.
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args: Any, opportunity: Opportunity | None = None, **kwargs: Any) -> None:
        self.opportunity = opportunity
        if opportunity is not None and "initial" not in kwargs:
            kwargs["initial"] = initial_for(opportunity)
        kwargs.setdefault("initial", {})
        kwargs["initial"].setdefault("currency", settings.DEFAULT_CURRENCY)
        super().__init__(*args, **kwargs)
        _choice(self, "account").choices = [("", "— Choose an account —"), *_accounts()]
        # Choosing an account reloads the contact choices (htmx); without JS they follow
        # on the next render of the form.
        self.fields["account"].widget.attrs.update(
            {
                "hx-get": reverse("opportunity-contact-field"),
                "hx-trigger": "change",
                "hx-target": "#contact-field",
                "hx-swap": "outerHTML",
                "hx-include": "#id_primary_contact",
            }
        )
        self.fields["currency"].widget.attrs.update(
            {"size": 3, "autocapitalize": "characters", "pattern": "[A-Za-z]{3}"}
        )
        self.locked = opportunity is not None and opportunity.stage in LOCKED_STAGES
        if self.locked:
            for name in GATED_FIELDS:
                # Shown disabled (browsers then do not post them). A form that still posts
                # one — opened before the deal was submitted — goes to the service, which
                # refuses a change with record_locked, shown on the field.
                if not self.is_bound or self.add_prefix(name) not in self.data:
                    self.fields[name].disabled = True
        current_contact = opportunity.primary_contact_id if opportunity else None
        self.contacts = ui_selectors.contact_options(self.account_id(), include=current_contact)
        _choice(self, "primary_contact").choices = contact_choices(self.contacts, self.account_id())

    def account_id(self) -> int | None:
        """The account the form currently points at (posted value first)."""
        if self.is_bound and not self.fields["account"].disabled:
            return _int_or_none(self.data.get(self.add_prefix("account")))
        return _int_or_none(self.initial.get("account"))

    def service_data(self) -> dict[str, Any]:
        data = {name: self.cleaned_data.get(name) for name in OPPORTUNITY_FIELDS}
        for name in ("contract_id", "po_number"):
            data[name] = data[name] or ""
        return data


def _accounts() -> list[tuple[int, str]]:
    return ui_selectors.account_options()


def contact_choices(contacts: list[Contact], account_id: int | None) -> list[tuple[Any, str]]:
    empty = "— Choose a contact —" if account_id else "— Choose the account first —"
    return [
        ("", empty),
        *[(c.pk, f"{c} · {c.email}" if c.email else f"{c} · no email") for c in contacts],
    ]


def initial_for(opportunity: Opportunity) -> dict[str, Any]:
    return {
        "name": opportunity.name,
        "account": opportunity.account_id,
        "primary_contact": opportunity.primary_contact_id,
        "type": opportunity.type,
        "amount": money_amount(opportunity.amount, opportunity.currency),
        "currency": opportunity.currency,
        "close_date": opportunity.close_date,
        "contract_id": opportunity.contract_id,
        "po_number": opportunity.po_number,
        "contract_start_date": opportunity.contract_start_date,
        "term_months": opportunity.term_months,
        "version": opportunity.version,
    }


class LineItemForm(forms.Form):
    id = forms.IntegerField(widget=forms.HiddenInput, required=False)
    product = forms.TypedChoiceField(label="Product", coerce=int, required=False, empty_value=None)
    seats = forms.IntegerField(
        label="Seats", min_value=1, required=False, widget=forms.NumberInput(attrs={"min": 1})
    )
    unit_price = forms.DecimalField(
        label="Unit price",
        help_text="Per seat, for the whole term.",
        max_digits=14,
        decimal_places=4,
        min_value=Decimal(0),
        required=False,
        widget=forms.NumberInput(attrs={"step": "any", "min": 0, "inputmode": "decimal"}),
    )

    def is_blank(self) -> bool:
        data = getattr(self, "cleaned_data", {})
        return not any(data.get(k) not in (None, "") for k in ("product", "seats", "unit_price"))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.is_blank() or data.get("DELETE"):
            return data
        if data.get("product") is None and "product" not in self.errors:
            self.add_error("product", "Choose a product.")
        if data.get("seats") is None and "seats" not in self.errors:
            self.add_error("seats", "Enter the number of seats.")
        return data


class BaseLineItemFormSet(BaseFormSet):
    def __init__(self, *args: Any, products: list[tuple[int, str]], **kwargs: Any) -> None:
        self.products = products
        super().__init__(*args, **kwargs)

    def _construct_form(self, i: int, **kwargs: Any) -> forms.Form:
        form = super()._construct_form(i, **kwargs)  # type: ignore[misc]
        _choice(form, "product").choices = [("", "— Choose a product —"), *self.products]
        return form

    @property
    def empty_form(self) -> forms.Form:
        form = super().empty_form
        _choice(form, "product").choices = [("", "— Choose a product —"), *self.products]
        return form

    def rows(self) -> list[tuple[int, dict[str, Any]]]:
        """(form index, service row) for every kept, non-blank row."""
        out = []
        for index, form in enumerate(self.forms):
            data = form.cleaned_data
            if not data or data.get("DELETE") or form.is_blank():
                continue
            out.append(
                (
                    index,
                    {
                        "id": data.get("id"),
                        "product": data.get("product"),
                        "seats": data.get("seats"),
                        "unit_price": data.get("unit_price"),
                    },
                )
            )
        return out


LineItemFormSet = cast(
    type[BaseLineItemFormSet],
    formset_factory(
        LineItemForm, formset=BaseLineItemFormSet, extra=0, can_delete=True, max_num=200
    ),
)


def line_item_formset(
    data: Any = None, *, opportunity: Opportunity | None = None, add_row: bool = False
) -> BaseLineItemFormSet:
    existing = list(opportunity.line_items.all()) if opportunity and opportunity.pk else []
    products = ui_selectors.product_options(include=[li.product_id for li in existing])
    initial = [
        {
            "id": li.pk,
            "product": li.product_id,
            "seats": li.seats,
            "unit_price": money_amount(li.unit_price, opportunity.currency if opportunity else ""),
        }
        for li in existing
    ]
    if data is not None:
        formset = LineItemFormSet(data, prefix="lines", products=products, initial=initial)
        if add_row:
            # No-JS "Add a product": re-render the bound formset with one more blank row.
            mutable = data.copy()
            mutable["lines-TOTAL_FORMS"] = str(formset.total_form_count() + 1)
            formset = LineItemFormSet(mutable, prefix="lines", products=products, initial=initial)
        return formset
    if not initial:
        initial = [{}]
    return LineItemFormSet(prefix="lines", products=products, initial=initial)


def lenient_line_items(data: Any) -> list[tuple[int | None, Decimal | None]]:
    """(seats, unit_price) of the rows a half-typed form holds, for the live checklist."""
    try:
        total = int(data.get("lines-TOTAL_FORMS", 0))
    except (TypeError, ValueError):
        total = 0
    rows = []
    for i in range(min(total, 200)):
        prefix = f"lines-{i}-"
        if data.get(prefix + "DELETE"):
            continue
        row = {
            name: (data.get(prefix + name) or "").strip()
            for name in ("product", "seats", "unit_price")
        }
        if any(row.values()):
            rows.append(row)
    return line_items.lenient_line_items(rows)


def _decimal_or_none(value: Any) -> Decimal | None:
    try:
        result = Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        return None
    return result if result.is_finite() else None


def _date_or_none(value: Any) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(value))
    except (TypeError, ValueError):
        return None


def apply_lenient(opportunity: Opportunity, data: Any) -> Opportunity:
    """Copy what the rep typed onto ``opportunity`` (unsaved) for the live checklist."""
    locked = opportunity.stage in LOCKED_STAGES

    def value(name: str) -> str:
        # NUL never belongs in these values and PostgreSQL refuses it in a query.
        return str(data.get(name, "")).replace("\x00", "").strip()

    if not locked:
        opportunity.amount = _decimal_or_none(value("amount")) if value("amount") else None
        opportunity.close_date = _date_or_none(value("close_date"))
        opportunity.contract_id = value("contract_id")
        opportunity.po_number = value("po_number")
        contact_id = _int_or_none(value("primary_contact"))
        # Assign an instance (or None): gather_facts reads the cached contact.
        opportunity.primary_contact = (
            Contact.objects.filter(pk=contact_id).first() if contact_id else None
        )
    opportunity.account_id = _int_or_none(value("account"))
    opportunity.contract_start_date = _date_or_none(value("contract_start_date"))
    opportunity.term_months = _int_or_none(value("term_months"))
    return opportunity


class TransitionForm(forms.Form):
    """The inputs a transition may need (mark_lost: loss reason; reject: a reason)."""

    loss_reason = forms.ChoiceField(
        label="Why was the deal lost?",
        choices=[("", "— Choose a reason —"), *LossReason.choices],
        required=False,
    )
    loss_detail = forms.CharField(
        label="Details",
        help_text="Required when the reason is “Other”.",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    reason = forms.CharField(
        label="Reason", required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args: Any, transition: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if transition == "mark_lost":
            # Required in the browser too; the service checks it again (reason_required).
            self.fields["loss_reason"].required = True
            del self.fields["reason"]
        elif transition == "reject":
            self.fields["reason"].required = True
            del self.fields["loss_reason"], self.fields["loss_detail"]
        else:
            del self.fields["reason"], self.fields["loss_reason"], self.fields["loss_detail"]


class AccountForm(forms.Form):
    name = forms.CharField(label="Account name", max_length=200)
    domain = forms.CharField(label="Website domain", max_length=253, required=False)
    billing_country = UpperCaseField(
        label="Billing country",
        help_text="Two-letter code, e.g. US or DE.",
        max_length=2,
        required=False,
        validators=[validate_country],
    )


class ContactForm(forms.Form):
    account = forms.TypedChoiceField(label="Account", coerce=int, empty_value=None)
    first_name = forms.CharField(label="First name", max_length=100, required=False)
    last_name = forms.CharField(label="Last name", max_length=100)
    email = forms.EmailField(label="Email", required=False)
    title = forms.CharField(label="Job title", max_length=100, required=False)
    phone = forms.CharField(label="Phone", max_length=50, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _choice(self, "account").choices = [("", "— Choose an account —"), *_accounts()]


def add_service_errors(
    form: forms.Form, errors_: list[FieldError], *, formset: Any = None, rows: Any = ()
) -> None:
    """Show a service's ``errors[]`` on the form fields they name (the rest on top)."""
    row_index = dict(enumerate(i for i, _ in rows))
    for err in errors_:
        field_name = err.field
        message = err.message or "Invalid value."
        if field_name.startswith("line_items[") and formset is not None:
            try:
                position = int(field_name[len("line_items[") : field_name.index("]")])
                sub = field_name.split(".", 1)[1] if "." in field_name else None
                target = formset.forms[row_index[position]]
                target.add_error(sub if sub in target.fields else None, message)
                continue
            except (ValueError, KeyError, IndexError):
                pass
        if field_name in form.fields and not form.fields[field_name].disabled:
            try:
                form.add_error(field_name, ValidationError(message, code=err.code))
                continue
            except ValueError:
                pass
        label = form.fields[field_name].label if field_name in form.fields else None
        form.add_error(None, f"{label}: {message}" if label else message)
