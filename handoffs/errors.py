"""Domain errors of webhook endpoints (same shape as the other domain errors)."""

from __future__ import annotations

from core.errors import DomainError


class UrlNotAllowed(DomainError):
    """An endpoint URL that is not HTTPS, or resolves to a private, loopback, link-local
    or otherwise non-public address outside ``WEBHOOK_ALLOWED_NETWORKS``."""

    code = "url_not_allowed"
    status = 400
    title = "This URL is not allowed for a webhook endpoint"
