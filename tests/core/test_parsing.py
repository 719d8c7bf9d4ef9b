"""Whole numbers from typed text: ASCII digits only."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.parsing import ascii_id, ascii_int


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("0", 0), ("7", 7), (" 42 ", 42), ("000123", 123), ("9" * 18, int("9" * 18))]
    + [("", None), (" ", None), ("-1", None), ("+1", None), ("1.0", None), ("1e3", None)]
    + [("\u00b2", None), ("1\u00b3", None), ("\u0663", None), ("\uff11", None)]
    + [("9" * 19, None), (None, None), (12, None)],
)
def test_only_ascii_digits_are_a_number(raw, expected):
    assert ascii_int(raw) == expected


def test_an_id_is_positive():
    assert ascii_id("0") is None
    assert ascii_id("15") == 15
    assert ascii_id("abc") is None


@given(st.text(max_size=30))
def test_it_never_raises_and_agrees_with_int_on_what_it_accepts(raw):
    value = ascii_int(raw)
    if value is not None:
        assert value == int(raw.strip())
        assert raw.strip().isascii()
