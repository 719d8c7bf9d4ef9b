"""Template helpers for the rep UI: money, people, messages and the server-side SVG charts.

The charts are computed here (geometry only, no query) and drawn by small templates, so
the dashboard needs no JavaScript chart library and works without JavaScript.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django import template
from django.utils import timezone

from core import formatting
from opportunities import policies
from opportunities.stages import PROBABILITY, Stage

register = template.Library()


@register.filter
def money(value: Any, currency: str | None = None) -> str:
    """``$120,000`` (cents only when there are some); ``—`` when there is no amount."""
    return formatting.money_short(value, currency)


@register.filter
def money_compact(value: Any, currency: str | None = None) -> str:
    """``$1.2M``, ``$860K``, ``$950`` — for totals in narrow places."""
    return formatting.money_compact(value, currency)


@register.filter
def discount(value: Any) -> str:
    """A line discount: ``25 %``, ``−10 % (premium)``, ``—`` without a list price."""
    return formatting.discount_text(value)


@register.filter
def person(user: Any) -> str:
    return formatting.person(user, empty="System")


@register.filter
def initials(user: Any) -> str:
    if user is None:
        return "·"
    first, last = (getattr(user, "first_name", "") or ""), (getattr(user, "last_name", "") or "")
    if first or last:
        return (first[:1] + last[:1]).upper()
    return user.get_username()[:2].upper()


@register.filter
def role_label(user: Any) -> str:
    if user is None or not user.is_authenticated:
        return ""
    if user.is_superuser:
        return "Admin"
    return "RevOps" if policies.is_revops(user) else "Sales rep"


@register.filter
def message_lines(message: Any) -> tuple[str, list[str]]:
    """A flash message's headline and its detail lines (views put one per line)."""
    lines = [line for line in str(message).split("\n") if line.strip()]
    return (lines[0] if lines else ""), lines[1:]


@register.filter
def stage_label(stage: str) -> str:
    try:
        return str(Stage(stage).label)
    except ValueError:
        return stage


@register.filter
def probability(stage: str) -> int:
    return PROBABILITY.get(stage, 0)


@register.filter
def is_overdue(opportunity: Any) -> bool:
    """An open deal whose close date has passed (a rep should update it or close it)."""
    return bool(
        opportunity.close_date
        and opportunity.is_open
        and opportunity.close_date < timezone.localdate()
    )


@register.filter
def checklist_done(checklist: dict[str, Any]) -> int:
    return sum(1 for item in checklist.get("items", []) if item["met"])


# --- charts ---------------------------------------------------------------------------------


def nice_ceiling(value: float) -> float:
    """The smallest 1/2/4/6/8 × 10ⁿ at or above ``value``: an axis maximum whose quarters
    (the grid lines) are round numbers too."""
    if value <= 0:
        return 1.0
    exponent = math.floor(math.log10(value))
    for step in (1, 2, 4, 6, 8, 10):
        candidate = step * 10**exponent
        if candidate >= value:
            return float(candidate)
    return float(10 ** (exponent + 1))  # pragma: no cover


@register.inclusion_tag("opportunities/charts/_bookings.html")
def bookings_chart(rows: Sequence[Any], currency: str | None = None) -> dict[str, Any]:
    """Columns of Closed-Won amount per month (SVG, 720 × 260 view box)."""
    width, height = 720, 260
    left, right, top, bottom = 64, 12, 16, 30
    plot_w, plot_h = width - left - right, height - top - bottom
    top_value = nice_ceiling(float(max((r.amount for r in rows), default=0) or 0))
    slot = plot_w / max(len(rows), 1)
    bars = []
    for index, row in enumerate(rows):
        value = float(row.amount)
        bar_h = plot_h * value / top_value if top_value else 0
        x = left + index * slot + slot * 0.18
        bars.append(
            {
                "x": round(x, 1),
                "y": round(top + plot_h - bar_h, 1),
                "w": round(slot * 0.64, 1),
                "h": round(bar_h, 1),
                "cx": round(x + slot * 0.32, 1),
                "label": row.month.strftime("%b"),
                "year": row.month.strftime("%Y"),
                "first_of_year": row.month.month == 1 or index == 0,
                "title": f"{row.month:%B %Y}: {money(row.amount, currency)}"
                + "".join(
                    f" + {money(a, c)} (no exchange rate)"
                    for c, a in getattr(row, "unconverted", {}).items()
                )
                + f" ({row.count} deal{'s' if row.count != 1 else ''})",
                "value": money_compact(row.amount, currency) if row.amount else "",
                "value_y": round(top + plot_h - bar_h - 6, 1),
            }
        )
    grid: list[dict[str, Any]] = []
    # Without a booking the axis is the zero line alone (its quarters of an arbitrary 1
    # read "$0 $0 $1 $1"); a quarter that would repeat the label below it is left out.
    for i in range(5 if any(r.amount for r in rows) else 1):
        value = top_value * i / 4
        y = top + plot_h - plot_h * i / 4
        label = money_compact(Decimal(str(value)), currency)
        if grid and grid[-1]["label"] == label:
            continue
        grid.append({"y": round(y, 1), "label": label})
    return {
        "width": width,
        "height": height,
        "left": left,
        "right_x": width - right,
        "bars": bars,
        "grid": grid,
        "axis_y": top + plot_h,
        "label_y": height - 10,
        "rows": rows,
        "currency": currency,
    }


@register.inclusion_tag("opportunities/charts/_pipeline.html")
def pipeline_chart(rows: Sequence[Any], currency: str | None = None) -> dict[str, Any]:
    """Horizontal bars per stage: amount (light) with its weighted part (solid)."""
    top_value = nice_ceiling(float(max((r.amount for r in rows), default=0) or 0))
    out = []
    for row in rows:
        out.append(
            {
                "stage": row.stage,
                "label": "Pending approval"
                if row.stage == Stage.PENDING_APPROVAL
                else Stage(row.stage).label,
                "count": row.count,
                "amount": row.amount,
                "weighted": row.weighted,
                "probability": row.probability,
                "amount_pct": round(100 * float(row.amount) / top_value, 2),
                "weighted_pct": round(100 * float(row.weighted) / top_value, 2),
            }
        )
    return {"rows": out, "currency": currency}


@register.inclusion_tag("opportunities/charts/_donut.html")
def win_donut(rate: int | None) -> dict[str, Any]:
    """A ring showing the win rate (circumference 100 so the dash is the percentage)."""
    return {"rate": rate, "dash": rate or 0, "gap": 100 - (rate or 0)}


@register.simple_tag
def age(since: dt.datetime | None) -> str:
    """How long something has waited: ``3 h``, ``2 d``, ``12 min``."""
    if since is None:
        return ""
    seconds = max(0, int((timezone.now() - since).total_seconds()))
    if seconds < 3600:
        return f"{max(1, seconds // 60)} min"
    if seconds < 86400:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} d"


@register.filter
def line_total(line_item: Any) -> Decimal | None:
    if line_item.unit_price is None:
        return None
    return Decimal(line_item.seats) * line_item.unit_price
