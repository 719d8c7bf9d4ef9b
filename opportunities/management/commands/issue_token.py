"""``issue_token <username> [--ttl-hours N | --no-expiry]``: a new API token; the token is
the last line printed.

Tokens are stored hashed by django-rest-knox: the plain token is shown once, here. They
expire after ``API_TOKEN_TTL_HOURS`` unless ``--ttl-hours`` or ``--no-expiry`` says
otherwise (a long-lived integration token is a deliberate choice)."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from knox.models import AuthToken


class Command(BaseCommand):
    help = "Issue an API token for a user (printed as the last line; stored hashed)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        lifetime = parser.add_mutually_exclusive_group()
        lifetime.add_argument(
            "--ttl-hours",
            type=int,
            help="Hours until the token expires (default: the API_TOKEN_TTL_HOURS setting).",
        )
        lifetime.add_argument(
            "--no-expiry", action="store_true", help="A token that never expires."
        )

    def handle(self, *args, **options) -> None:
        User = get_user_model()
        try:
            user = User.objects.get(username=options["username"])
        except User.DoesNotExist:
            raise CommandError(f"No user called {options['username']!r}.") from None
        if not user.is_active:
            raise CommandError(f"User {user.username!r} is inactive.")
        if options.get("no_expiry"):
            instance, token = AuthToken.objects.create(user=user, expiry=None)
        elif options.get("ttl_hours") is not None:
            if options["ttl_hours"] < 1:
                raise CommandError("--ttl-hours must be at least 1.")
            instance, token = AuthToken.objects.create(
                user=user, expiry=dt.timedelta(hours=options["ttl_hours"])
            )
        else:
            instance, token = AuthToken.objects.create(user=user)
        expires = instance.expiry.isoformat() if instance.expiry else "never"
        self.stderr.write(
            f"Token for {user.username}, expires {expires} (use: Authorization: Token <token>):"
        )
        self.stdout.write(token)
