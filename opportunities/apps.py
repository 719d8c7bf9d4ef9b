from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _stage_totals(sender: Any, using: str = "default", **kwargs: Any) -> None:
    """After every migrate: the stage totals' triggers are in place (a later migration that
    rebuilds the deals table on SQLite drops them; the totals are then recomputed). After
    a flush (the only sender without a ``plan``) the totals are recomputed too: SQLite
    empties table by table in no set order, and emptying the deals after their totals
    leaves the delete triggers' rows behind."""
    from django.db import connections

    from . import stage_totals

    connection = connections[using]
    if stage_totals.TABLE in connection.introspection.table_names():
        stage_totals.install(connection, rebuild=True if "plan" not in kwargs else None)


class OpportunitiesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "opportunities"
    verbose_name = "Opportunities"

    def ready(self) -> None:
        # The change feed serialises each object as the API does; the API registers its
        # serialisers here so the domain never imports the API.
        from .api import feed

        feed.register_all()
        post_migrate.connect(_stage_totals, sender=self)
