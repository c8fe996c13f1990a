"""Hand-written checks of Chinese identifiers (ARCHITECTURE.md): GB 32100 USCC, mobiles, postcodes."""
import pytest
from django.core.exceptions import ValidationError

from mutualaid.identifiers import canonical_uscc
from mutualaid.validators import (
    USCC_CHARSET,
    uscc_check_character,
    validate_mobile,
    validate_postcode,
    validate_uscc,
)

# Published codes of real organisations, including ones whose check character is a letter and one
# whose organisation code holds letters (CODE-2: letters allowed).
REAL_USCC = ["91310000132206289R", "11100000000013127D", "91350100M000100Y43"]


@pytest.mark.parametrize("code", REAL_USCC)
def test_real_codes_pass(code):
    validate_uscc(code)


def test_the_check_character_is_computed_by_gb_32100():
    # Weights 3^i mod 31; the check makes the weighted sum ≡ 0 mod 31.
    first17 = "91310000132206289"
    total = sum(USCC_CHARSET.index(c) * pow(3, i, 31) for i, c in enumerate(first17))
    expected = USCC_CHARSET[(31 - total % 31) % 31]
    assert uscc_check_character(first17) == expected == "R"


def test_a_wrong_check_character_names_the_right_one():
    with pytest.raises(ValidationError, match="校验位错误（应为 R）"):
        validate_uscc("91310000132206289A")


@pytest.mark.parametrize("code,reason", [("9131000013220628", "18位"), ("91310000132206289I", "无效字符")])
def test_length_and_characters(code, reason):
    with pytest.raises(ValidationError, match=reason):
        validate_uscc(code)


def test_lower_case_full_width_and_spaces_are_normalised():
    assert canonical_uscc(" ９１３１0000 132206289r ").value == "91310000132206289R"
    assert validate_uscc(" ９１３１0000 132206289r ") == "91310000132206289R"


@pytest.mark.parametrize("mobile", ["13912345678", "19800000000"])
def test_mobiles(mobile):
    validate_mobile(mobile)


@pytest.mark.parametrize("mobile", ["1391234567", "23912345678", "12912345678", "1391234567a", ""])
def test_bad_mobiles(mobile):
    with pytest.raises(ValidationError, match="11位手机号码"):
        validate_mobile(mobile)


def test_postcodes():
    validate_postcode("200001")
    with pytest.raises(ValidationError, match="6位邮政编码"):
        validate_postcode("20001")
