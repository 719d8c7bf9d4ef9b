"""Who may do what: reps read every opportunity and change their own; RevOps all.

Every permission rule lives here: roles and their permissions, who may change an
opportunity, and who may run each transition (segregation of duties included).

Roles are Django groups created by a data migration; checks go through permissions so
Django's per-user permission cache keeps them at zero or one query per request.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from core import errors

from .stages import TRANSITIONS, Who

if TYPE_CHECKING:
    from .models import Approval, Opportunity

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
    # documents/migrations/0002_roles grants the same.
    "documents": {
        "rep": ("view_document", "view_evidencerequirement"),
        "revops": (
            "add_evidencerequirement",
            "delete_evidencerequirement",
            "view_inboundevent",
        ),
    },
    # approvals/migrations/0002_roles grants the same.
    "approvals": {
        "rep": (
            "view_approvalpolicy",
            "view_approvalrule",
            "view_approvalstep",
            "view_approvaldecision",
        ),
        "revops": (
            "add_approvalpolicy",
            "change_approvalpolicy",
            "delete_approvalpolicy",
            "add_approvalrule",
            "change_approvalrule",
            "delete_approvalrule",
            "add_approvalstep",
            "change_approvalstep",
            "delete_approvalstep",
            "view_approvergroup",
            "add_approvergroup",
            "change_approvergroup",
        ),
    },
    # amendments/migrations/0003_roles grants the same. Deciding is RevOps's
    # approve_opportunity (amendments.services); these are the reads of the admin.
    "amendments": {
        "rep": ("view_amendment", "add_amendment"),
        "revops": ("view_amendmentdecision", "view_booking"),
    },
    # currencies/migrations/0002_roles grants the same.
    "currencies": {
        "rep": ("view_exchangerate",),
        "revops": ("add_exchangerate", "change_exchangerate", "delete_exchangerate"),
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


def is_approver(user: Any) -> bool:
    """RevOps, or a member of an approver group (any group but the two roles): they see
    the approval queue as an inbox of the steps that are theirs."""
    if not (user and user.is_authenticated and user.is_active):
        return False
    if is_revops(user):
        return True
    return bool(user.is_staff) and user.groups.exclude(name__in=(REP_GROUP, REVOPS_GROUP)).exists()


def can_change(user: Any, opportunity: Opportunity) -> bool:
    """Owner with the change permission, or anyone who may change every deal."""
    if not (user and user.is_authenticated and user.is_active):
        return False
    if user.has_perm(CHANGE_ANY_PERM):
        return True
    return opportunity.owner_id == user.pk and user.has_perm(CHANGE_PERM)


SYNC_PERM = "opportunities.sync_records"


def can_sync(user: Any) -> bool:
    """RevOps, or an integration user with ``opportunities.sync_records``: they may write
    ``external_id`` and reassign the owner of accounts."""
    return is_revops(user) or bool(
        user and user.is_authenticated and user.is_active and user.has_perm(SYNC_PERM)
    )


def account_change_error(user: Any, owner_id: int | None) -> errors.DomainError | None:
    """Why ``user`` may not change an account owned by ``owner_id`` (None: they may).
    Reps change the accounts they own, and the contacts of those accounts; RevOps and
    integration users change all."""
    if not (user and user.is_authenticated and user.is_active):
        return errors.PermissionDenied("Sign in first.")
    if can_sync(user):
        return None
    if owner_id is not None and owner_id == user.pk:
        return None
    return errors.PermissionDenied(
        "Only the account's owner or RevOps can change this account and its contacts."
    )


def can_create(user: Any) -> bool:
    return bool(
        user
        and user.is_authenticated
        and user.is_active
        and user.has_perm("opportunities.add_opportunity")
    )


def transition_permission_error(
    name: str, opportunity: Opportunity, actor: Any, approval: Approval | None
) -> errors.DomainError | None:
    """Why ``actor`` may not run ``name`` on ``opportunity`` (None: they may).

    Segregation of duties: nobody approves a deal they own or submitted, not even RevOps
    or a superuser.
    """
    spec = TRANSITIONS[name]
    if not (actor and actor.is_authenticated and actor.is_active):
        return errors.PermissionDenied("Sign in first.")
    is_owner = opportunity.owner_id == actor.pk
    is_submitter = approval is not None and approval.submitted_by_id == actor.pk
    if name == "approve" and (is_owner or is_submitter):
        return errors.SelfApprovalForbidden(
            "You own or submitted this deal: another RevOps member must approve it."
        )
    if name in ("approve", "reject") and approval is not None and approval.route:
        return step_permission_error(name, actor, approval)
    if Who.REVOPS in spec.who and is_revops(actor):
        return None
    if Who.OWNER in spec.who and is_owner and actor.has_perm(CHANGE_PERM):
        return None
    if Who.SUBMITTER in spec.who and is_submitter:
        return None
    # Named from the transition's own list, so the message never names someone it refuses.
    names = [label for who, label in _WHO_LABELS if who in spec.who]
    listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"
    return errors.PermissionDenied(f"Only {listed} can do this.")


_WHO_LABELS = (
    (Who.OWNER, "the deal's owner"),
    (Who.SUBMITTER, "whoever submitted it"),
    (Who.REVOPS, "RevOps"),
)


# --- approver groups ------------------------------------------------------------------------
#
# One rule says who is a member of an approver group, in two forms that agree: a predicate
# (may this user decide a step of that group?) and a query (who is told of that step?).
# RevOps' membership is the approve permission (a superuser, the RevOps role, or the
# permission granted to the user directly), not the group row: so everyone who may decide
# RevOps' step is also told of it. Any other group: its active members.

POLICY_PERM = "approvals.change_approvalpolicy"


def approver_groups_of(user: Any) -> frozenset[str]:
    """The approver groups ``user`` is a member of (names; RevOps when they hold the
    approve permission). Empty for an anonymous or inactive user. One query (the groups),
    plus the permission cache's on its first use in a request."""
    if not (user and user.is_authenticated and user.is_active):
        return frozenset()
    names = set(user.groups.values_list("name", flat=True))
    names.discard(REVOPS_GROUP)
    if user.has_perm(APPROVE_PERM):
        names.add(REVOPS_GROUP)
    return frozenset(names)


def is_member(user: Any, group: str) -> bool:
    """May ``user`` decide a step of ``group``? (See :func:`approver_groups_of`.)"""
    if group == REVOPS_GROUP:
        return is_revops(user)
    return group in approver_groups_of(user)


def members_of(group: str) -> Any:
    """The active users who may decide a step of ``group``, by id: the query form of
    :func:`is_member` (a QuerySet of users, one query when evaluated)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission
    from django.db.models import Q

    users = get_user_model().objects.filter(is_active=True)
    if group == REVOPS_GROUP:
        app_label, codename = APPROVE_PERM.split(".")
        approve = Permission.objects.filter(content_type__app_label=app_label, codename=codename)
        users = users.filter(
            Q(is_superuser=True)
            | Q(user_permissions__in=approve)
            | Q(groups__permissions__in=approve)
        )
    else:
        users = users.filter(groups__name=group)
    return users.distinct().order_by("id")


def approval_policy_permission_error(user: Any) -> errors.DomainError | None:
    """Why ``user`` may not change the approval policy or its approver-group settings
    (None: they may): only RevOps, or someone granted ``approvals.change_approvalpolicy``.
    Members of other approver groups decide steps; they never write the rules."""
    if not (user and user.is_authenticated and user.is_active):
        return errors.PermissionDenied("Sign in first.")
    if is_revops(user) or user.has_perm(POLICY_PERM):
        return None
    return errors.PermissionDenied("Only RevOps change the approval policy.")


def approvals_needed(step: Mapping[str, Any]) -> int:
    """How many distinct members' approvals complete route step ``step`` (a route entry
    as stored on the request: ``mode`` "all" with ``count``, else one)."""
    return int(step.get("count") or 1) if step.get("mode") == "all" else 1


def step_permission_error(name: str, actor: Any, approval: Any) -> errors.DomainError | None:
    """Why ``actor`` may not decide the current step of ``approval`` — a Closed-Won
    Approval or an Amendment, both routed the same way (None: they may).

    Each step is decided by a member of its group (RevOps' step: RevOps). One person never
    approves two steps of one request, nor one step twice (``already_decided``); a step
    that is not the current one, or of a group the actor is not in, is
    ``permission_denied``. RevOps may also reject at any step. The owner/submitter rule
    is checked before this, at every step."""
    route = list(approval.route or [])
    if approval.step_index >= len(route):
        return errors.AlreadyDecided("Every step of this request is decided.")
    group = str(route[approval.step_index].get("group") or REVOPS_GROUP)
    if name == "approve":
        # The request's own step decisions, through its reverse relation: an Amendment's
        # are ``step_decisions`` (its ``decisions`` are the amendment's own audit rows), an
        # Approval's ``decisions``. (The approvals app sits above this module.)
        decisions = getattr(approval, "step_decisions", None) or approval.decisions
        # Nothing of the request can be approved yet at a first step that one approval
        # completes (the common one-step route): no query then.
        first_of_one = approval.step_index == 0 and approvals_needed(route[0]) == 1
        if not first_of_one and decisions.filter(decided_by=actor.pk, decision="approved").exists():
            return errors.AlreadyDecided(
                "You already approved a step of this request: another member must decide."
            )
        if not is_member(actor, group):
            return errors.PermissionDenied(f"This step is for {group}: you are not a member.")
        return None
    if is_member(actor, group) or is_revops(actor):
        return None
    return errors.PermissionDenied(f"This step is for {group}: you are not a member.")
