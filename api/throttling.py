"""Per-user (and, for the few open views, per-address) rate limits.

DRF's throttles copy their rates at import time; these read ``API_THROTTLE_USER`` and
``API_THROTTLE_ANON`` from the settings on each request, so an operator (or a test)
changes them in one place. ``None`` or an empty value turns a limit off.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework import throttling


class UserThrottle(throttling.UserRateThrottle):
    scope = "user"

    def get_rate(self) -> str | None:
        return getattr(settings, "API_THROTTLE_USER", None) or None


class AnonThrottle(throttling.AnonRateThrottle):
    scope = "anon"

    def get_rate(self) -> str | None:
        return getattr(settings, "API_THROTTLE_ANON", None) or None


class FailedAuthThrottle(AnonThrottle):
    """The anonymous bucket of the caller's address, charged for a failed authentication.

    Shares the cache key of :class:`AnonThrottle` (scope ``anon``), so failed attempts
    and anonymous requests use up one rate together."""

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
