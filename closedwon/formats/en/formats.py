"""One set of date formats for the rep UI and the admin (Django's ``date`` syntax).

``Mar 5, 2026`` for a day, ``Mar 5, 2026, 14:05`` for a moment; the admin's change lists
and forms pick these up through ``FORMAT_MODULE_PATH``, the rep UI through the
``day`` / ``moment`` filters of ``closedwon_web``.
"""

DATE_FORMAT = "M j, Y"
DATETIME_FORMAT = "M j, Y, H:i"
SHORT_DATE_FORMAT = "M j, Y"
SHORT_DATETIME_FORMAT = "M j, Y, H:i"
TIME_FORMAT = "H:i"
MONTH_DAY_FORMAT = "M j"
YEAR_MONTH_FORMAT = "M Y"
