"""``seed_demo_amendments``: the demo's applied amendment and cancelled deal (run by
``seed_demo`` after its deals; idempotent)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from amendments.demo import demo_amendments_ensure


class Command(BaseCommand):
    help = "Amend one won demo deal and cancel another, through the services (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        rita = get_user_model().objects.filter(username="rita").first()
        if rita is None:
            self.stderr.write("No demo RevOps user (rita): run seed_demo first.")
            return
        made = demo_amendments_ensure(revops=rita)
        if any(made.values()):
            self.stdout.write(
                f"Amended {made['amended']} won deal(s), cancelled {made['cancelled']}."
            )
