"""``issue_token <username>``: a new API token; the token is the last line printed.

Tokens are stored hashed by django-rest-knox: the plain token is shown once, here."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from knox.models import AuthToken


class Command(BaseCommand):
    help = "Issue an API token for a user (printed as the last line; stored hashed)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")

    def handle(self, *args, **options) -> None:
        User = get_user_model()
        try:
            user = User.objects.get(username=options["username"])
        except User.DoesNotExist:
            raise CommandError(f"No user called {options['username']!r}.") from None
        if not user.is_active:
            raise CommandError(f"User {user.username!r} is inactive.")
        _instance, token = AuthToken.objects.create(user=user)
        self.stderr.write(f"Token for {user.username} (use: Authorization: Token <token>):")
        self.stdout.write(token)
