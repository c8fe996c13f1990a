"""SPEC SEC-1: one canonical form per identifier (mutualaid/identifiers.py), and the GB 11643 check
that runs on it (mutualaid.validators.resident_id_check), including property tests against an
independent GB 11643 implementation written here."""
import calendar
import datetime as dt
import unicodedata

import pytest
from hypothesis import given, settings as hypothesis_settings, strategies as st

from mutualaid.identifiers import (
    MAX_LENGTH,
    Canonical,
    canonical,
    canonical_enrollment_code,
    canonical_id_number,
    canonical_mobile,
    canonical_uscc,
)
from mutualaid.validators import resident_id_check, resident_id_problem

VALID_ID = "110101199003074274"  # GB 11643: check character 4
VALID_ID_WITH_X = "11010119900307109X"


# --- an independent GB 11643 (written from the standard, not from the code under test) ---------------


def gb11643_valid(text: str) -> bool:
    """GB 11643-1999: 17 ASCII digits (6 area, 8 birth date, 3 sequence) and a check character: with
    weights W_i = 2^(18-i) mod 11 (i = 1..17; 7, 9, 10, 5, …), the check value is (12 - Σ a_i·W_i mod 11) mod 11, 10
    written as X."""
    if len(text) != 18:
        return False
    if any(char not in "0123456789" for char in text[:17]) or text[17] not in "0123456789X":
        return False
    year, month, day = int(text[6:10]), int(text[10:12]), int(text[12:14])
    if not (1 <= year and 1 <= month <= 12 and 1 <= day <= calendar.monthrange(year, month)[1]):
        return False
    total = sum(int(text[i - 1]) * (2 ** (18 - i) % 11) for i in range(1, 18))
    value = (12 - total % 11) % 11
    return text[17] == ("X" if value == 10 else str(value))


def with_check(first17: str) -> str:
    for check in "0123456789X":
        if gb11643_valid(first17 + check):
            return first17 + check
    raise AssertionError(first17)


def test_the_oracle_agrees_with_known_numbers():
    assert gb11643_valid(VALID_ID) and gb11643_valid(VALID_ID_WITH_X)
    assert not gb11643_valid(VALID_ID[:17] + "3")


valid_ids = st.builds(
    lambda area, birth, sequence: with_check(f"{area:06d}{birth:%Y%m%d}{sequence:03d}"),
    st.integers(min_value=110000, max_value=820000),
    st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2099, 12, 31)),
    st.integers(min_value=0, max_value=999),
)
# Any character, lone surrogates included (Hypothesis leaves category Cs out by default).
any_text = st.text(alphabet=st.characters(blacklist_categories=()), max_size=40)
any_value = st.one_of(st.none(), st.integers(), st.floats(), st.booleans(), any_text)
# Decimal digits of scripts other than ASCII, that NFKC does not fold (full-width ones it does).
foreign_digits = st.characters(whitelist_categories=("Nd",)).filter(
    lambda char: not char.isascii() and not unicodedata.decomposition(char).startswith("<wide>")
)
FULL_WIDTH = str.maketrans({char: chr(ord(char) + 0xFEE0) for char in "0123456789X"})


# --- examples --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value,expected",
    [
        (VALID_ID, VALID_ID),
        ("11010119900307109x", VALID_ID_WITH_X),  # a lower-case x, as typed every day
        (VALID_ID_WITH_X.translate(FULL_WIDTH).lower(), VALID_ID_WITH_X),  # full-width, as from a Chinese IME
        (" 1101 0119 9003 0710 9X\u3000", VALID_ID_WITH_X),  # spaces, an ideographic space too
        ("\ufeff11010119900307109X\u200b", VALID_ID_WITH_X),  # a BOM and a zero-width space
        ("e1234567", "E1234567"),
        ("", ""),
        (None, ""),
        (1234567, "1234567"),
    ],
)
def test_the_canonical_form(value, expected):
    assert canonical_id_number(value) == Canonical(expected, None)


@pytest.mark.parametrize(
    "value,shown",
    [
        ("11010119900307427\u0660", "\u0660"),  # ARABIC-INDIC DIGIT ZERO, the issue's example
        ("1101011990030742²9", "²"),  # a superscript: NFKC would make it 2, SPEC SEC-1 refuses it
        ("①10101199003074272", "①"),
        ("११0101199003074272", "१"),  # Devanagari
        ("110101199003074272\u0301", "\u0301"),  # a combining accent
        ("11010119900307427\x00", "U+0000"),  # control characters are shown by code point
        ("1101\x7f", "U+007F"),
        ("1101\ud800", "U+D800"),  # a lone surrogate cannot be written into a page
        ("张三", "张"),
    ],
)
def test_anything_else_is_refused_with_a_message_naming_the_column(value, shown):
    result = canonical_id_number(value)
    assert result == Canonical("", f"证件号码含有非标准字符“{shown}”，请使用半角数字和字母")


def test_each_kind_names_its_column():
    assert canonical_uscc("9131٠").problem.startswith("统一社会信用代码含有非标准字符")
    assert canonical_mobile("139١2345678").problem.startswith("手机号含有非标准字符")
    assert canonical_mobile("139١2345678", "联系人手机").problem.startswith("联系人手机含有非标准字符")
    assert canonical_enrollment_code("００７２ｊ３") == Canonical("0072J3")
    assert canonical_enrollment_code("0072J٣").problem.startswith("参保编码含有非标准字符")
    assert canonical("ab", column="单位社保编码") == Canonical("AB")


def test_a_mobile_loses_its_hyphens():
    assert canonical_mobile("139-1234 5678") == Canonical("13912345678")
    assert canonical_mobile("１３９－１２３４－５６７８") == Canonical("13912345678")


def test_a_very_long_value_is_refused_before_any_work():
    assert canonical_id_number("٠" * (MAX_LENGTH + 1)).problem == f"证件号码过长（{MAX_LENGTH + 1}个字符），请核对"
    assert canonical_id_number("1" * MAX_LENGTH).problem is None


def test_the_issue_s_examples_get_a_message_not_an_error():
    # int("²") raises ValueError and "٠" passes str.isdigit() and int(): neither may reach them.
    for number in ("11010119900307427²", VALID_ID[:17].replace("0", "\u0660", 1) + VALID_ID[17]):
        assert resident_id_problem(number) == "身份证号码含有无效字符"
        assert resident_id_check(number).problem.startswith("证件号码含有非标准字符")


# --- properties ---------------------------------------------------------------------------------------------


@hypothesis_settings(max_examples=500, deadline=None)
@given(value=any_value)
def test_nothing_raises_whatever_it_is_given(value):
    for result in (canonical_id_number(value), canonical_uscc(value), canonical_mobile(value), resident_id_check(value)):
        assert isinstance(result, Canonical)
        assert result.value.isascii()
        assert (result.value == "") or result.problem is None or result.problem == resident_id_problem(result.value)
    if isinstance(value, str):
        assert resident_id_problem(value) is None or isinstance(resident_id_problem(value), str)


@hypothesis_settings(max_examples=500, deadline=None)
@given(value=any_text)
def test_what_is_accepted_is_a_valid_canonical_number(value):
    number, problem = resident_id_check(value)
    if problem is None:
        assert gb11643_valid(number)
        assert canonical_id_number(number) == Canonical(number)  # canonical is idempotent


@hypothesis_settings(max_examples=500, deadline=None)
@given(value=st.text(alphabet="0123456789X", min_size=16, max_size=19))
def test_exactly_the_valid_canonical_numbers_are_accepted(value):
    assert (resident_id_check(value).problem is None) == gb11643_valid(value)


@hypothesis_settings(max_examples=300, deadline=None)
@given(number=valid_ids, position=st.integers(min_value=0, max_value=17), replacement=st.sampled_from("0123456789X"))
def test_one_changed_character_is_accepted_exactly_when_gb_11643_says_so(number, position, replacement):
    changed = number[:position] + replacement + number[position + 1 :]
    assert resident_id_check(number) == Canonical(number, None)
    assert (resident_id_check(changed).problem is None) == gb11643_valid(changed)


@hypothesis_settings(max_examples=300, deadline=None)
@given(number=valid_ids)
def test_full_width_and_lower_case_forms_are_the_same_number(number):
    for typed in (number.translate(FULL_WIDTH), number.lower(), number.translate(FULL_WIDTH).lower(), f" {number} "):
        assert resident_id_check(typed) == Canonical(number, None)


@hypothesis_settings(max_examples=300, deadline=None)
@given(number=valid_ids, position=st.integers(min_value=0, max_value=16), digit=foreign_digits)
def test_a_digit_of_another_script_is_refused_even_where_its_value_is_right(number, position, digit):
    # The issue: "٠" in place of "0" gave the same person a second hash. Put a foreign digit of the
    # same value in place of an ASCII one: refused, never the same or another valid number.
    typed = number[:position] + digit + number[position + 1 :]
    assert resident_id_check(typed) == Canonical("", f"证件号码含有非标准字符“{digit}”，请使用半角数字和字母")
