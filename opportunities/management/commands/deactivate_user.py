"""``manage.py deactivate_user NAME``: deactivate a user and list the deals RevOps must
reassign (their open and pending deals)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from core import errors
from opportunities.policies import REVOPS_GROUP
from opportunities.services.people import user_deactivate


class Command(BaseCommand):
    help = "Deactivate a user and list their open and pending deals to reassign."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")

    def handle(self, *args: Any, **options: Any) -> None:
        User = get_user_model()
        try:
            user = User.objects.get(username=options["username"])
        except User.DoesNotExist:
            raise CommandError(f"No user called {options['username']!r}.") from None
        # An operator at the console acts as RevOps would.
        actor = (
            User.objects.filter(groups__name=REVOPS_GROUP, is_active=True)
            .exclude(pk=user.pk)
            .first()
        )
        if actor is None:
            raise CommandError("There is no other active RevOps user to act as.")
        try:
            opportunities = user_deactivate(user=user, actor=actor)
        except errors.DomainError as exc:
            raise CommandError(exc.detail) from None
        self.stdout.write(f"Deactivated {user.get_username()}.")
        if not opportunities:
            self.stdout.write("They own no open or pending deals.")
            return
        self.stdout.write(
            f"Reassign these {len(opportunities)} deal(s); until then none can be won:"
        )
        for opportunity in opportunities:
            account = opportunity.account.name if opportunity.account else "no account"
            self.stdout.write(
                f"  #{opportunity.pk}  {opportunity.name}  ({account}, {opportunity.stage_label})"
            )
