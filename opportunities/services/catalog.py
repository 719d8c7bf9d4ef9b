"""Writes to accounts, contacts and products."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import transaction

from core import errors
from events.services import event_record

from .. import policies
from ..models import Account, Contact, Opportunity, Product
from ..stages import ACCOUNT_FIELDS, CONTACT_FIELDS, LOCKED_STAGES, PRODUCT_FIELDS
from .common import _assign, _full_clean, _require_authenticated


def _refuse_sync_fields(actor: Any, account: Account, changed: list[str], created: bool) -> None:
    """Only RevOps and integration users reassign an account or write its external id."""
    if policies.can_sync(actor):
        return
    blocked = [f for f in changed if f == "external_id" or (f == "owner" and not created)]
    if created and account.owner_id not in (None, actor.pk):
        blocked.append("owner")
    if blocked:
        raise errors.PermissionDenied(
            "Only RevOps (or an integration user) can reassign an account or set its external id.",
            errors=[
                errors.FieldError("permission_denied", name, "Only RevOps can set this.")
                for name in dict.fromkeys(blocked)
            ],
        )


def account_create(*, actor: Any, data: Mapping[str, Any]) -> Account:
    """Create an account owned by ``actor`` (RevOps and integration users may name another
    owner and set ``external_id``)."""
    _require_authenticated(actor)
    if not actor.has_perm("opportunities.add_account"):
        raise errors.PermissionDenied("You may not create accounts.")
    account = Account()
    _assign(account, {"owner": actor, **data}, ACCOUNT_FIELDS)
    if account.external_id == "":
        account.external_id = None
    _refuse_sync_fields(
        actor, account, ["external_id"] if account.external_id else [], created=True
    )
    _full_clean(account)
    with transaction.atomic():
        account.save()
        event_record(instance=account, change="created", actor=actor)
    return account


def account_update(*, account: Account, actor: Any, data: Mapping[str, Any]) -> Account:
    """Change an account: its owner, RevOps or an integration user (``permission_denied``
    otherwise); only the latter two reassign it or write ``external_id``."""
    _require_authenticated(actor)
    if not actor.has_perm("opportunities.change_account"):
        raise errors.PermissionDenied("You may not change accounts.")
    with transaction.atomic():
        account = Account.objects.select_for_update().get(pk=account.pk)
        denied = policies.account_change_error(actor, account.owner_id)
        if denied is not None:
            raise denied
        before_external = account.external_id
        changed = _assign(account, data, ACCOUNT_FIELDS)
        if account.external_id == "":
            account.external_id = None
        if account.external_id == before_external and "external_id" in changed:
            changed.remove("external_id")
        _refuse_sync_fields(actor, account, changed, created=False)
        _full_clean(account)
        account.save()
        event_record(instance=account, change="updated", actor=actor)
    return account


def _contact_account_owner(account_id: int | None) -> int | None:
    if account_id is None:
        return None
    return Account.objects.filter(pk=account_id).values_list("owner_id", flat=True).first()


def contact_create(*, actor: Any, data: Mapping[str, Any]) -> Contact:
    """Add a contact to an account the actor may change (its owner, RevOps)."""
    _require_authenticated(actor)
    if not actor.has_perm("opportunities.add_contact"):
        raise errors.PermissionDenied("You may not create contacts.")
    contact = Contact()
    _assign(contact, data, CONTACT_FIELDS)
    if contact.account_id is not None:
        denied = policies.account_change_error(actor, _contact_account_owner(contact.account_id))
        if denied is not None:
            raise denied
    _full_clean(contact)
    with transaction.atomic():
        contact.save()
        event_record(instance=contact, change="created", actor=actor)
    return contact


def contact_update(*, contact: Contact, actor: Any, data: Mapping[str, Any]) -> Contact:
    """Change a contact: the owner of its account (and of the account it moves to) or
    RevOps. Refuses to move a contact to another account, or to clear its email, while it is the
    primary contact of a pending or won deal: that would undo a gate after the fact."""
    _require_authenticated(actor)
    if not actor.has_perm("opportunities.change_contact"):
        raise errors.PermissionDenied("You may not change contacts.")
    with transaction.atomic():
        contact = Contact.objects.select_for_update().get(pk=contact.pk)
        denied = policies.account_change_error(actor, _contact_account_owner(contact.account_id))
        before_account, before_email = contact.account_id, contact.email
        _assign(contact, data, CONTACT_FIELDS)
        if denied is None and contact.account_id != before_account:
            denied = policies.account_change_error(
                actor, _contact_account_owner(contact.account_id)
            )
        if denied is not None:
            raise denied
        locked_fields = [
            name
            for name, broken in (
                ("account", contact.account_id != before_account),
                ("email", bool(before_email) and not contact.email),
            )
            if broken
        ]
        if (
            locked_fields
            and Opportunity.objects.filter(
                primary_contact=contact, stage__in=LOCKED_STAGES
            ).exists()
        ):
            raise errors.RecordLocked(
                "This contact is the primary contact of a deal pending approval or won.",
                errors=[
                    errors.FieldError("record_locked", name, "Locked by a pending or won deal.")
                    for name in locked_fields
                ],
            )
        _full_clean(contact)
        contact.save()
        event_record(instance=contact, change="updated", actor=actor)
    return contact


def product_create(*, actor: Any, data: Mapping[str, Any]) -> Product:
    if not policies.is_revops(actor):
        raise errors.PermissionDenied("Only RevOps manage the product catalog.")
    product = Product()
    _assign(product, data, PRODUCT_FIELDS)
    _full_clean(product)
    with transaction.atomic():
        product.save()
        event_record(instance=product, change="created", actor=actor)
    return product


def product_update(*, product: Product, actor: Any, data: Mapping[str, Any]) -> Product:
    if not policies.is_revops(actor):
        raise errors.PermissionDenied("Only RevOps manage the product catalog.")
    with transaction.atomic():
        product = Product.objects.select_for_update().get(pk=product.pk)
        _assign(product, data, PRODUCT_FIELDS)
        _full_clean(product)
        product.save()
        event_record(instance=product, change="updated", actor=actor)
    return product
