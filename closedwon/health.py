"""Liveness and readiness probes, open to anonymous callers (load balancers, compose)."""

from __future__ import annotations

import logging

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """The process is up. Touches nothing else, so a slow database never kills a pod."""
    return JsonResponse({"status": "ok"})


def _check_database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:  # noqa: BLE001 - any failure means "not ready"
        logger.exception("readyz: database unreachable")
        return "database unreachable"
    return None


def _check_broker() -> str | None:
    from kombu import Connection

    from closedwon.celery import app

    try:
        # A fresh connection each time (not the app's pool) so the probe sees the broker
        # as it is now.
        with Connection(
            app.conf.broker_url,
            transport_options=app.conf.broker_transport_options,
            connect_timeout=2,
        ) as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception:  # noqa: BLE001
        # The connection error (host, port, credentials in the URL) goes to the log only.
        logger.exception("readyz: broker unreachable")
        return "broker unreachable"
    return None


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """Database and broker reachable: the process can take traffic. Failures say only
    which dependency is unreachable; the details are logged."""
    checks = {"database": _check_database(), "broker": _check_broker()}
    ready = all(error is None for error in checks.values())
    body = {
        "status": "ok" if ready else "unavailable",
        "checks": {name: ("ok" if error is None else error) for name, error in checks.items()},
    }
    return JsonResponse(body, status=200 if ready else 503)
