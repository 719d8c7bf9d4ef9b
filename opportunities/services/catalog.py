"""Writes to accounts, contacts and products."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import transaction

from core import errors

from .. import policies
from ..models import Account, Contact, Opportunity, Product
from ..stages import ACCOUNT_FIELDS, CONTACT_FIELDS, LOCKED_STAGES, PRODUCT_FIELDS
from .common import _assign, _full_clean, _require_authenticated


def account_create(*, actor: Any, data: Mapping[str, Any]) -> Account:
    _require_authenticated(actor)
    if not actor.has_perm("opportunities.add_account"):
        raise errors.PermissionDenied("You may not create accounts.")
    account = Account()
    _assign(account, {"owner": actor, **data}, ACCOUNT_FIELDS)
    if account.external_id == "":
        account.external_id = None
    _full_clean(account)
    account.save()
    return account


def account_update(*, account: Account, actor: Any, data: Mapping[str, Any]) -> Account:
    _require_authenticated(actor)
    if not actor.has_perm("opportunities.change_account"):
        raise errors.PermissionDenied("You may not change accounts.")
    with transaction.atomic():
        account = Account.objects.select_for_update().get(pk=account.pk)
        _assign(account, data, ACCOUNT_FIELDS)
        if account.external_id == "":
            account.external_id = None
        _full_clean(account)
        account.save()
    return account


def contact_create(*, actor: Any, data: Mapping[str, Any]) -> Contact:
    _require_authenticated(actor)
    if not actor.has_perm("opportunities.add_contact"):
        raise errors.PermissionDenied("You may not create contacts.")
    contact = Contact()
    _assign(contact, data, CONTACT_FIELDS)
    _full_clean(contact)
    contact.save()
    return contact


def contact_update(*, contact: Contact, actor: Any, data: Mapping[str, Any]) -> Contact:
    """Refuses to move a contact to another account, or to clear its email, while it is the
    primary contact of a pending or won deal: that would undo a gate after the fact."""
    _require_authenticated(actor)
    if not actor.has_perm("opportunities.change_contact"):
        raise errors.PermissionDenied("You may not change contacts.")
    with transaction.atomic():
        contact = Contact.objects.select_for_update().get(pk=contact.pk)
        before_account, before_email = contact.account_id, contact.email
        _assign(contact, data, CONTACT_FIELDS)
        breaks_gate = contact.account_id != before_account or (before_email and not contact.email)
        if (
            breaks_gate
            and Opportunity.objects.filter(
                primary_contact=contact, stage__in=LOCKED_STAGES
            ).exists()
        ):
            raise errors.RecordLocked(
                "This contact is the primary contact of a deal pending approval or won.",
                errors=[
                    {
                        "code": "record_locked",
                        "field": "account",
                        "message": "Locked by a pending or won deal.",
                    }
                ],
            )
        _full_clean(contact)
        contact.save()
    return contact


def product_create(*, actor: Any, data: Mapping[str, Any]) -> Product:
    if not policies.is_revops(actor):
        raise errors.PermissionDenied("Only RevOps manage the product catalog.")
    product = Product()
    _assign(product, data, PRODUCT_FIELDS)
    _full_clean(product)
    product.save()
    return product


def product_update(*, product: Product, actor: Any, data: Mapping[str, Any]) -> Product:
    if not policies.is_revops(actor):
        raise errors.PermissionDenied("Only RevOps manage the product catalog.")
    with transaction.atomic():
        product = Product.objects.select_for_update().get(pk=product.pk)
        _assign(product, data, PRODUCT_FIELDS)
        _full_clean(product)
        product.save()
    return product
