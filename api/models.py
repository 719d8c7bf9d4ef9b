"""Rows the REST API itself needs (the domain lives in ``opportunities`` and ``handoffs``)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class IdempotencyKey(models.Model):
    """One ``Idempotency-Key`` of one user: first a reservation, then the stored response.

    The unique constraint on (user, key) is what makes two concurrent requests with the
    same key unable to both run: only one INSERT can win (see ``api.idempotency``).
    While ``response_status`` is null the request is in progress; ``locked_at`` says since
    when, so a reservation left behind by a crashed process can be taken over.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    # sha256 of method, path and the canonical JSON body: "the same request".
    fingerprint = models.CharField(max_length=64)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=2048)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    locked_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_headers = models.JSONField(default=dict, blank=True)
    response_body = models.BinaryField(default=b"", blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_once_per_user")
        ]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.key} ({self.response_status or 'in progress'})"

    @property
    def in_progress(self) -> bool:
        return self.response_status is None
