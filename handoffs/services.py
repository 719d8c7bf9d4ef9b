"""Handoff services. The outbox rows are created inside the approval transaction."""

from __future__ import annotations

from typing import Any


def handoffs_create_for_approval(*, approval: Any) -> list[Any]:
    """Create the four handoffs and the commission credit for an approved deal.

    Called by ``opportunities.services.opportunity_transition`` inside the approval's
    transaction (so a rolled-back approval leaves no handoff). Filled in by the
    handoffs issue.
    """
    return []
