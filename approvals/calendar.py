"""Business hours: SLAs of approval steps are counted in working hours of the business
calendar ``settings.APPROVAL_CALENDAR`` (working days, 0 = Monday; hours [start, end);
an IANA time zone). Pure apart from reading that setting."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings


def _calendar() -> tuple[set[int], int, int, ZoneInfo]:
    cal: dict[str, Any] = settings.APPROVAL_CALENDAR
    days = {int(d) for d in cal.get("days", (0, 1, 2, 3, 4))} or {0, 1, 2, 3, 4}
    start, end = int(cal.get("start_hour", 9)), int(cal.get("end_hour", 17))
    if not 0 <= start < end <= 24:
        start, end = 9, 17
    return days, start, end, ZoneInfo(cal.get("time_zone") or "UTC")


def add_business_hours(start: dt.datetime, hours: float) -> dt.datetime:
    """The instant ``hours`` working hours after ``start`` (aware datetimes, UTC out)."""
    days, day_start, day_end, tz = _calendar()
    t = start.astimezone(tz)
    left = dt.timedelta(hours=hours)
    for _ in range(3700):  # at most ten years of days
        open_at = t.replace(hour=day_start, minute=0, second=0, microsecond=0)
        close_at = t.replace(hour=0, minute=0, second=0, microsecond=0) + dt.timedelta(
            hours=day_end
        )
        if t.weekday() in days and t < close_at:
            t = max(t, open_at)
            room = close_at - t
            if left <= room:
                return (t + left).astimezone(dt.UTC)
            left -= room
        t = (t + dt.timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return (t + left).astimezone(dt.UTC)  # pragma: no cover - a calendar with no time
