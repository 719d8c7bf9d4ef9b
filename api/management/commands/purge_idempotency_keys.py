"""``purge_idempotency_keys``: delete Idempotency-Key rows past their 24 h lifetime.

Expired keys are already ignored (a reuse after 24 h runs again); this only keeps the
table small. Run it daily (cron, or a Celery beat entry calling ``api.idempotency.purge``).
"""

from __future__ import annotations

from django.core.management.base import BaseCommand

from api.idempotency import purge


class Command(BaseCommand):
    help = "Delete Idempotency-Key rows older than their 24 h lifetime."

    def handle(self, *args, **options) -> None:
        self.stdout.write(f"Deleted {purge()} expired idempotency key(s).")
