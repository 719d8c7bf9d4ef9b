"""Who may do what (SPEC §2): reps read every deal and change their own; RevOps all.

Roles are Django groups created by a data migration; checks go through permissions so
Django's per-user permission cache keeps them at zero or one query per request.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .models import Opportunity

REP_GROUP = "Sales reps"
REVOPS_GROUP = "RevOps"
ROLES = ("rep", "revops", "admin")

APPROVE_PERM = "opportunities.approve_opportunity"
CHANGE_ANY_PERM = "opportunities.change_any_opportunity"
CHANGE_PERM = "opportunities.change_opportunity"


# Codenames in the opportunities app; the data migration 0002 grants the same.
REP_PERMS = (
    "view_account",
    "add_account",
    "change_account",
    "view_contact",
    "add_contact",
    "change_contact",
    "view_product",
    "view_opportunity",
    "add_opportunity",
    "change_opportunity",
    "view_lineitem",
    "add_lineitem",
    "change_lineitem",
    "delete_lineitem",
    "view_stagechange",
    "view_approval",
    "view_stagerequirement",
)
REVOPS_EXTRA = (
    "add_product",
    "change_product",
    "approve_opportunity",
    "change_any_opportunity",
    "add_stagerequirement",
    "change_stagerequirement",
    "delete_stagerequirement",
    "view_historicalopportunity",
    "view_historicallineitem",
)
# Other apps add theirs: {"app_label": {"rep": (...), "revops": (...)}}.
EXTRA_APP_PERMS: dict[str, dict[str, tuple[str, ...]]] = {
    # handoffs/migrations/0002_roles grants the same.
    "handoffs": {
        "rep": ("view_handoff", "view_handoffattempt"),
        "revops": (
            "retry_handoff",
            "complete_handoff",
            "view_commissioncredit",
            "view_commissionplan",
            "add_commissionplan",
            "change_commissionplan",
            "delete_commissionplan",
            "view_demoreceipt",
            "view_webhookendpoint",
            "add_webhookendpoint",
            "change_webhookendpoint",
            "delete_webhookendpoint",
            "rotate_webhookendpoint",
            "replay_webhookendpoint",
            "view_webhookdelivery",
            "view_outgoingmessage",
            "view_openhandoff",
        ),
    },
}


def ensure_groups() -> None:
    """Create the role groups with their permissions if missing (idempotent).

    The data migration creates them; this re-creates them where a test flushed the
    database or an operator deleted a group by mistake."""
    from django.contrib.auth.models import Group, Permission

    wanted: dict[str, dict[str, tuple[str, ...]]] = {
        REP_GROUP: {"opportunities": REP_PERMS},
        REVOPS_GROUP: {"opportunities": REP_PERMS + REVOPS_EXTRA},
    }
    for app_label, by_role in EXTRA_APP_PERMS.items():
        wanted[REP_GROUP][app_label] = by_role.get("rep", ())
        wanted[REVOPS_GROUP][app_label] = by_role.get("rep", ()) + by_role.get("revops", ())
    for group_name, apps in wanted.items():
        group, created = Group.objects.get_or_create(name=group_name)
        if not created and group.permissions.exists():
            continue
        for app_label, codenames in apps.items():
            group.permissions.add(
                *Permission.objects.filter(
                    content_type__app_label=app_label, codename__in=codenames
                )
            )


def is_revops(user: Any) -> bool:
    return bool(user and user.is_authenticated and user.is_active and user.has_perm(APPROVE_PERM))


def can_change(user: Any, opportunity: Opportunity) -> bool:
    """Owner with the change permission, or anyone who may change every deal."""
    if not (user and user.is_authenticated and user.is_active):
        return False
    if user.has_perm(CHANGE_ANY_PERM):
        return True
    return opportunity.owner_id == user.pk and user.has_perm(CHANGE_PERM)


def can_create(user: Any) -> bool:
    return bool(
        user
        and user.is_authenticated
        and user.is_active
        and user.has_perm("opportunities.add_opportunity")
    )
