from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _environment_endpoints(sender: Any, using: str = "default", **kwargs: Any) -> None:
    """After every migrate (and a test's flush): the HANDOFF_<KIND>_URL endpoint rows."""
    from django.db import connections

    from .targets import environment_endpoints_ensure

    if "handoffs_webhookendpoint" not in connections[using].introspection.table_names():
        return
    environment_endpoints_ensure()


class HandoffsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "handoffs"
    verbose_name = "Handoffs"

    def ready(self) -> None:
        post_migrate.connect(_environment_endpoints, sender=self)
