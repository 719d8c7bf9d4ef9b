import functools
from collections.abc import Callable
from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate, post_save


def _stage_totals(sender: Any, using: str = "default", **kwargs: Any) -> None:
    """After every migrate: the stage totals' triggers are in place (a later migration that
    rebuilds the deals table on SQLite drops them; the totals are then recomputed). When
    sent without a ``plan`` — after a flush — the totals are recomputed too: SQLite
    empties table by table in no set order, and emptying the deals after their totals
    leaves the delete triggers' rows behind."""
    from django.db import connections

    from . import stage_totals

    connection = connections[using]
    if stage_totals.TABLE in connection.introspection.table_names():
        stage_totals.install(connection, rebuild=True if "plan" not in kwargs else None)


@functools.cache
def _rebuild_on(using: str) -> Callable[[], None]:
    def rebuild() -> None:
        from django.db import connections

        from . import stage_totals

        stage_totals.install(connections[using], rebuild=True)

    return rebuild


def _rebuild_after_load(
    sender: Any, raw: bool = False, using: str = "default", **kwargs: Any
) -> None:
    """``loaddata`` (a raw save) of a kept total: the totals are recomputed from the deals
    and approvals once the load commits. A dump's totals rows would otherwise count the
    loaded deals a second time (they counted themselves through the triggers), or
    overwrite live rows that share their ids."""
    if not raw:
        return
    from django.db import connections, transaction

    callback = _rebuild_on(using)
    if not any(entry[1] is callback for entry in connections[using].run_on_commit):
        transaction.on_commit(callback, using=using)


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
        from .models import StageTotal, WaitingTotal

        for model in (StageTotal, WaitingTotal):
            post_save.connect(_rebuild_after_load, sender=model)
