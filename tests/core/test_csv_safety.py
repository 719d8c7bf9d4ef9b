"""Cells a spreadsheet would run as formulas are escaped; imports undo the escape."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import tablib
from hypothesis import given
from hypothesis import strategies as st

from core.csv_safety import FORMULA_PREFIXES, escape_cell, escape_row, unescape_cell
from core.export_formats import SafeCSV, SafeTSV


@pytest.mark.parametrize(
    ("value", "escaped"),
    [
        ('=HYPERLINK("http://x.example","y")', '\'=HYPERLINK("http://x.example","y")'),
        ("+1+1", "'+1+1"),
        ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
        ("@SUM(1+1)*cmd|' /C calc'!A0", "'@SUM(1+1)*cmd|' /C calc'!A0"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("==1+1", "'==1+1"),
        ("+1 555 0100", "'+1 555 0100"),
    ],
)
def test_every_formula_prefix_is_escaped(value, escaped):
    assert escape_cell(value) == escaped
    assert unescape_cell(escaped) == value


@pytest.mark.parametrize(
    "value",
    ["Acme", "", "a=b", " =1", "'quoted", None, 42, Decimal("-5"), dt.date(2030, 1, 1), True],
)
def test_other_values_are_left_as_they_are(value):
    assert escape_cell(value) is value
    assert unescape_cell(value) is value


def test_escape_row():
    assert escape_row(["=1", "ok", Decimal("-1")]) == ["'=1", "ok", Decimal("-1")]


@given(st.text())
def test_unescape_inverts_escape(value):
    assert unescape_cell(escape_cell(value)) == value
    assert not str(escape_cell(value)).startswith(FORMULA_PREFIXES)


@pytest.mark.parametrize("fmt", [SafeCSV, SafeTSV])
def test_the_export_formats_escape_and_their_imports_unescape(fmt):
    dataset = tablib.Dataset(headers=["name", "amount"])
    dataset.append(['=HYPERLINK("http://x.example","y")', Decimal("-5")])
    dataset.append(["+1+1", None])

    exported = fmt().export_data(dataset)

    assert "'=HYPERLINK" in exported and "'+1+1" in exported
    back = fmt().create_dataset(exported)
    assert back.headers == ["name", "amount"]
    assert [row[0] for row in back] == ['=HYPERLINK("http://x.example","y")', "+1+1"]
