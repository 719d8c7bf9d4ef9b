"""Beat tasks of opportunities: thin, each calls one service."""

from __future__ import annotations

from celery import shared_task

from . import stage_totals


@shared_task(name="opportunities.compact_stage_totals")
def compact_stage_totals() -> int:
    """Fold the stage totals' rows into one per key (``stage_totals.compact``); returns the
    number of rows removed."""
    return stage_totals.compact()
