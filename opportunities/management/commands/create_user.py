"""``create_user <username> --role rep|revops|admin [--group G]… [--password P] [--email E]``.

``--group G`` adds the user to approver group G (e.g. Finance), creating it if needed.

Idempotent: an existing user gets the role (and the password, when one is given)."""

from __future__ import annotations

import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from opportunities.policies import REP_GROUP, REVOPS_GROUP, ROLES, ensure_groups


def ensure_user(
    username: str,
    role: str,
    password: str | None = None,
    email: str = "",
    groups: tuple[str, ...] | list[str] = (),
    **extra: str,
):
    """Create or update ``username`` with ``role``; returns (user, created)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    User = get_user_model()
    with transaction.atomic():
        ensure_groups()
        user, created = User.objects.get_or_create(
            username=username, defaults={"email": email, **extra}
        )
        # Approver-group members (Finance, Deal desk…) use the admin inbox too.
        user.is_staff = role in ("revops", "admin") or any(g.strip() for g in groups)
        user.is_superuser = role == "admin"
        if email:
            user.email = email
        for key, value in extra.items():
            setattr(user, key, value)
        if password:
            user.set_password(password)
        elif created:
            user.set_unusable_password()
        user.save()
        role_groups = {"rep": [REP_GROUP], "revops": [REVOPS_GROUP], "admin": [REVOPS_GROUP]}[role]
        approver = [Group.objects.get_or_create(name=g.strip())[0] for g in groups if g.strip()]
        user.groups.set([*Group.objects.filter(name__in=role_groups), *approver])
    return user, created


class Command(BaseCommand):
    help = "Create (or update) a user with a role: rep, revops or admin."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=ROLES)
        parser.add_argument(
            "--password", help="Password; a random one is generated and printed when omitted."
        )
        parser.add_argument("--email", default="")
        parser.add_argument(
            "--group",
            action="append",
            default=[],
            help="Approver group to add the user to (repeatable; created if missing).",
        )

    def handle(self, *args, **options) -> None:
        username = options["username"].strip()
        if not username:
            raise CommandError("username must not be blank")
        password = options["password"]
        generated = False
        if password is None:
            User = get_user_model()
            if not User.objects.filter(username=username).exists():
                password, generated = secrets.token_urlsafe(12), True
        user, created = ensure_user(
            username, options["role"], password, options["email"], groups=options["group"]
        )
        verb = "Created" if created else "Updated"
        self.stdout.write(f"{verb} {options['role']} {user.username}")
        if generated:
            self.stdout.write(f"password: {password}")
