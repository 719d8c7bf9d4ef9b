"""Writes to people: deactivating a user.

Nobody is credited or handed off as a deactivated user (the gate refuses Closed-Won with
``owner_inactive``), so deactivating someone says which of their deals RevOps must now
reassign.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from core import errors

from .. import policies
from ..models import Opportunity
from ..stages import OPEN_STAGES, Stage


def user_deactivate(*, user: Any, actor: Any) -> list[Opportunity]:
    """Deactivate ``user`` (RevOps only; never yourself) and return their open and pending
    deals, oldest close date first, for RevOps to reassign. Raises ``permission_denied``."""
    if not policies.is_revops(actor):
        raise errors.PermissionDenied("Only RevOps deactivate users.")
    if user.pk == actor.pk:
        raise errors.PermissionDenied("You cannot deactivate yourself.")
    with transaction.atomic():
        type(user).objects.filter(pk=user.pk).update(is_active=False)
        user.is_active = False
    return list(
        Opportunity.objects.filter(owner=user, stage__in=(*OPEN_STAGES, Stage.PENDING_APPROVAL))
        .select_related("account")
        .order_by("close_date", "id")
    )
