"""Keys that compare the way people read them, and the refusal of control characters.

Contract IDs, PO numbers and SKUs are typed, pasted from PDFs and e-mails, and exported
from other systems. Two values a person reads as the same key must compare equal, and a
value that shows nothing must count as missing. :func:`normalize_key` computes that key in
Python (so SQLite and PostgreSQL agree: SQLite's ``LOWER`` folds ASCII only) for a column
of its own that uniqueness and lookups use.

The steps, in order (repeated until the result no longer changes, so the function is
idempotent even where case folding produces characters NFKC composes again):

1. Unicode NFKC (UAX #15): full-width, compatibility and ligature forms become their
   plain forms (``Ｋ－１００`` → ``K-100``, ``ﬁ`` → ``fi``, no-break space → space).
2. Invisible characters are removed: every format character (general category Cf: zero
   width space U+200B, zero width (non-)joiner U+200C/U+200D, word joiner U+2060, BOM
   U+FEFF, soft hyphen U+00AD, the bidirectional marks and embeddings, Mongolian vowel
   separator…), the control characters that are not whitespace (Cc), and the few
   invisible characters Unicode files under other categories: combining grapheme joiner
   U+034F, the Hangul fillers U+115F, U+1160, U+3164, U+FFA0, Khmer inherent vowels
   U+17B4, U+17B5 and the variation selectors U+FE00–U+FE0F, U+E0100–U+E01EF.
3. Every dash-like character becomes ASCII ``-``: the whole dash punctuation category
   (Pd: hyphen U+2010, non-breaking hyphen, figure/en/em dashes, horizontal bar, small
   and full-width hyphen-minus, wave dashes…) and the minus-like characters NFKC leaves
   alone: minus sign U+2212 (also what superscript/subscript minus become), modifier
   letter minus U+02D7, hyphen bullet U+2043 and heavy minus U+2796. Runs of dashes are
   kept (``K--1`` stays distinct from ``K-1``: people read two dashes as two).
4. Every space separator (Zs, including the Ogham space mark NFKC keeps) and every other
   whitespace (tab, line and paragraph separators, new lines) becomes one ASCII space;
   runs collapse to one and the ends are trimmed.
5. Case folding (Unicode full case folding, ``str.casefold``): ``É-1`` and ``é-1`` agree,
   ``ß`` becomes ``ss``.

An empty result means the value is missing.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from django.core.exceptions import ValidationError

# Invisible characters outside category Cf (Cf and Cc are removed by category).
_INVISIBLE_OTHER = frozenset(
    "\u034f\u115f\u1160\u17b4\u17b5\u3164\uffa0"
    + "".join(chr(c) for c in range(0xFE00, 0xFE10))
    + "".join(chr(c) for c in range(0xE0100, 0xE01F0))
)
# Minus-like characters outside category Pd that NFKC does not turn into "-".
DASH_LOOKALIKES = frozenset("\u2212\u02d7\u2043\u2796")
# Characters a single-line field may never contain but a multi-line field may.
_MULTILINE_WHITESPACE = frozenset("\t\n\r")
_MAX_PASSES = 4


def _fold_char(char: str) -> str:
    """The replacement of one character: "" (removed), "-", " " or itself."""
    if char.isascii():
        if char.isspace():
            return " "
        return "" if unicodedata.category(char) == "Cc" else char
    if char in DASH_LOOKALIKES:
        return "-"
    if char in _INVISIBLE_OTHER:
        return ""
    category = unicodedata.category(char)
    if category == "Pd":
        return "-"
    if category == "Zs" or char.isspace():
        return " "
    if category in ("Cf", "Cc"):
        return ""
    return char


def _one_pass(value: str) -> str:
    text = unicodedata.normalize("NFKC", value)
    text = "".join(_fold_char(char) for char in text)
    text = " ".join(text.split())
    return text.casefold()


def normalize_key(value: str | None) -> str:
    """The comparison key of a contract ID, PO number or SKU (see the module docstring).

    ``None`` and values that are empty after normalising give ``""`` (missing).
    ``normalize_key("K‐100\\u200b") == normalize_key(" k-100 ") == "k-100"``.
    The result may be longer than the input (NFKC and case folding expand some
    characters: ``ß`` → ``ss``), so its column needs room for that.
    """
    if not value:
        return ""
    text = str(value)
    for _ in range(_MAX_PASSES):
        folded = _one_pass(text)
        if folded == text:
            break
        text = folded
    return text


def is_missing_key(value: str | None) -> bool:
    """True when ``value`` shows nothing a person could read as a key."""
    return normalize_key(value) == ""


def contains_control_characters(value: Any, *, multiline: bool = False) -> bool:
    """True when ``value`` (a str; anything else is False) holds a control character.

    Control characters are Unicode category Cc (C0 U+0000–U+001F, DEL U+007F, C1
    U+0080–U+009F). In a single-line field tab, new line and carriage return count too;
    with ``multiline=True`` those three are allowed (notes, reasons)."""
    if not isinstance(value, str):
        return False
    for char in value:
        if unicodedata.category(char) == "Cc" and not (multiline and char in _MULTILINE_WHITESPACE):
            return True
    return False


def reject_control_characters(value: Any) -> None:
    """Django validator for single-line text fields: raises ``ValidationError`` (code
    ``invalid``) when the value holds a control character, tab or new line included."""
    if contains_control_characters(value):
        raise ValidationError(
            "Remove the control characters (tabs, line breaks or invisible codes) from this value.",
            code="invalid",
        )


def reject_control_characters_multiline(value: Any) -> None:
    """Django validator for multi-line text fields: like
    :func:`reject_control_characters` but tab, new line and carriage return are allowed."""
    if contains_control_characters(value, multiline=True):
        raise ValidationError(
            "Remove the control characters (invisible codes) from this text.",
            code="invalid",
        )
