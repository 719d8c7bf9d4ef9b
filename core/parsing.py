"""Whole numbers from text that people and clients type (query strings, headers, form
fields, CSV cells, admin URLs).

``str.isdigit()`` is not the test: it accepts superscripts such as ``"²"`` that ``int()``
refuses (a 500 waiting to happen), and ``int()`` itself accepts non-ASCII decimal digits
such as ``"٣"``. Here only ASCII digits count.
"""

from __future__ import annotations

# 2**63 - 1 has 19 digits: 18 always fits a PostgreSQL bigint.
MAX_DIGITS = 18


def ascii_int(raw: object, *, max_digits: int = MAX_DIGITS) -> int | None:
    """The non-negative integer ``raw`` spells in ASCII digits (surrounding spaces
    allowed), or None: for anything else (signs, decimals, ``"²"``, ``"٣"``, more than
    ``max_digits`` digits, a non-string)."""
    if not isinstance(raw, str):
        return None
    text = raw.strip()
    if not text or len(text) > max_digits or not (text.isascii() and text.isdigit()):
        return None
    return int(text)


def ascii_id(raw: object) -> int | None:
    """A database id (1 to 2**63 - 1) from text, or None; see :func:`ascii_int`."""
    value = ascii_int(raw)
    return value if value else None
