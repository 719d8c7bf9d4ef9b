"""Request helpers shared by the rep UI's views."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme


def is_htmx(request: HttpRequest) -> bool:
    """Set by django_htmx's middleware: the request came from htmx (swap a fragment)."""
    return bool(getattr(request, "htmx", False))


def safe_next(request: HttpRequest, fallback: str) -> str:
    """Where to go back to: the ``next`` parameter (form field, else query string) when it
    stays on this site (same host; https when the request is), else ``fallback`` — so a
    crafted link never sends a rep to another site after a save."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback
