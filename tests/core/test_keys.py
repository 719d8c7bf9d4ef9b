"""Keys compare as people read them: lookalike and invisible characters do not make a
new key, and a key made only of invisible characters is missing."""

from __future__ import annotations

import unicodedata

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from core.keys import (
    DASH_LOOKALIKES,
    contains_control_characters,
    is_missing_key,
    normalize_key,
    reject_control_characters,
    reject_control_characters_multiline,
)

ALL_PD = [chr(c) for c in range(0x110000) if unicodedata.category(chr(c)) == "Pd"]
ALL_ZS = [chr(c) for c in range(0x110000) if unicodedata.category(chr(c)) == "Zs"]
INVISIBLE = [
    "\u200b",  # zero width space
    "\u200c",  # zero width non-joiner
    "\u200d",  # zero width joiner
    "\u2060",  # word joiner
    "\ufeff",  # BOM / zero width no-break space
    "\u00ad",  # soft hyphen
    "\u200e",  # left-to-right mark
    "\u200f",  # right-to-left mark
    "\u202a",  # left-to-right embedding
    "\u202c",  # pop directional formatting
    "\u202e",  # right-to-left override
    "\u2066",  # left-to-right isolate
    "\u2069",  # pop directional isolate
    "\u061c",  # arabic letter mark
    "\u180e",  # mongolian vowel separator
    "\u2061",  # function application
    "\u2063",  # invisible separator
    "\u034f",  # combining grapheme joiner
    "\u3164",  # hangul filler
    "\uffa0",  # halfwidth hangul filler
    "\ufe0f",  # variation selector 16
    "\U000e0001",  # language tag
]


def test_the_examples_of_the_bug_report_are_one_key():
    assert normalize_key("K-100") == "k-100"
    assert normalize_key("K\u2010100") == "k-100"  # hyphen
    assert normalize_key("K-100\u200b") == "k-100"
    assert normalize_key("É-1") == normalize_key("é-1") == "é-1"


def test_a_key_made_only_of_invisible_characters_is_missing():
    assert normalize_key("\u200b") == ""
    assert normalize_key("\u200b\u2060\ufeff\u00ad \u3000\t") == ""
    assert is_missing_key("\u200b\u200b")
    assert is_missing_key(None) and is_missing_key("")
    assert not is_missing_key("0")


@pytest.mark.parametrize("dash", ALL_PD + sorted(DASH_LOOKALIKES) + ["\u207b", "\u208b"])
def test_every_dash_folds_to_the_ascii_hyphen(dash):
    assert normalize_key(f"K{dash}100") == "k-100", hex(ord(dash))


@pytest.mark.parametrize("space", ALL_ZS + ["\t", "\n", "\r\n", "\u2028", "\u2029", "\x85"])
def test_every_space_folds_to_one_ascii_space(space):
    assert normalize_key(f"PO{space}{space}77") == "po 77", hex(ord(space[0]))


@pytest.mark.parametrize("char", INVISIBLE)
def test_invisible_characters_are_removed_wherever_they_are(char):
    assert normalize_key(f"{char}K-{char}100{char}") == "k-100", hex(ord(char))


@pytest.mark.parametrize(
    ("value", "key"),
    [
        ("  K-100  ", "k-100"),
        ("ＫＩ－１００", "ki-100"),  # full-width letters, digits and hyphen-minus
        ("Straße-1", "strasse-1"),
        ("STRASSE-1", "strasse-1"),
        ("ﬁle-1", "file-1"),  # ligature
        ("Ⅻ-1", "xii-1"),  # roman numeral
        ("K-①", "k-1"),  # circled digit
        ("ΣΊΣΥΦΟΣ", "σίσυφοσ"),  # final sigma folds with the other sigma
        ("e\u0301-1", "é-1"),  # decomposed é composes
        ("K--100", "k--100"),  # two dashes stay two
        ("K\x00-100", "k-100"),  # control characters are not part of a key
    ],
)
def test_variants_people_type_and_paste(value, key):
    assert normalize_key(value) == key


def test_distinct_keys_stay_distinct():
    assert normalize_key("K-100") != normalize_key("K-1000")
    assert normalize_key("K-100") != normalize_key("K100")
    assert normalize_key("K 100") != normalize_key("K-100")


# --- properties ----------------------------------------------------------------------------

KEY_CHARS = st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
DASHES = st.sampled_from(["-", *ALL_PD, *sorted(DASH_LOOKALIKES)])
SPACES = st.sampled_from([" ", *ALL_ZS, "\t"])
INVISIBLES = st.lists(st.sampled_from(INVISIBLE), max_size=2).map("".join)


@st.composite
def key_and_lookalike(draw):
    """A plain key (letters, digits, single '-' and ' ' separators) and a variant of it with
    other dashes, other spaces, invisible characters, other case and full-width forms."""
    parts = draw(st.lists(st.text(KEY_CHARS, min_size=1, max_size=5), min_size=1, max_size=4))
    seps = draw(st.lists(st.sampled_from(["-", " "]), min_size=len(parts), max_size=len(parts)))
    plain = parts[0] + "".join(sep + part for sep, part in zip(seps[1:], parts[1:], strict=True))
    variant = draw(INVISIBLES) + draw(st.sampled_from(["", " ", "\u3000"]))
    for index, part in enumerate(parts):
        if index:
            sep = seps[index]
            variant += draw(DASHES) if sep == "-" else draw(SPACES) + draw(st.just("") | SPACES)
            variant += draw(INVISIBLES)
        for char in part:
            style = draw(st.sampled_from(["same", "swap", "wide"]))
            if style == "swap":
                char = char.swapcase()
            elif style == "wide":
                char = chr(ord(char) + 0xFEE0)  # full-width form, NFKC folds it back
            variant += char + draw(INVISIBLES)
    return plain, variant


@given(key_and_lookalike())
def test_lookalike_variants_of_a_key_map_to_one_key(pair):
    plain, variant = pair
    assert normalize_key(variant) == normalize_key(plain) == plain.lower()


@given(st.text())
def test_normalising_is_idempotent(value):
    key = normalize_key(value)
    assert normalize_key(key) == key


@given(st.text())
def test_a_key_has_no_invisible_dash_or_space_variants_left(value):
    key = normalize_key(value)
    assert key == key.strip() and "  " not in key
    for char in key:
        category = unicodedata.category(char)
        assert category not in ("Cf", "Cc", "Pd") or char == "-"
        assert category != "Zs" or char == " "


# --- control characters --------------------------------------------------------------------


@pytest.mark.parametrize("char", ["\x00", "\x07", "\x1b", "\x7f", "\x85", "\x9f", "\t", "\n", "\r"])
def test_control_characters_are_refused_in_single_line_fields(char):
    assert contains_control_characters(f"Acme{char}Corp")
    with pytest.raises(ValidationError) as caught:
        reject_control_characters(f"Acme{char}Corp")
    assert caught.value.code == "invalid"


def test_multi_line_fields_allow_tabs_and_line_breaks_but_not_other_controls():
    reject_control_characters_multiline("Lost on price.\r\n\tSee notes.")
    with pytest.raises(ValidationError) as caught:
        reject_control_characters_multiline("Lost\x00 on price")
    assert caught.value.code == "invalid"


@pytest.mark.parametrize("value", ["Acme Corp", "Zoë — 東京 \u200b", "", None, 42])
def test_text_without_control_characters_passes(value):
    assert not contains_control_characters(value)
    reject_control_characters(value)
