"""Hand-written checks of Chinese identifiers (ARCHITECTURE.md: python-stdnum rejects real ones)."""
import datetime as dt
import re

from django.core.exceptions import ValidationError

from .identifiers import Canonical, canonical_id_number, canonical_mobile, canonical_uscc

# ASCII digits only (SPEC SEC-1): `\d` would also match "٠" and other scripts' digits.
MOBILE_PATTERN = re.compile(r"1[3-9][0-9]{9}")
POSTCODE_PATTERN = re.compile(r"[0-9]{6}")

# GB 32100-2015: 统一社会信用代码 — 18 characters from this set (no I, O, S, V, Z), the last a check.
USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def uscc_check_character(first17: str) -> str:
    total = sum(USCC_CHARSET.index(char) * weight for char, weight in zip(first17, USCC_WEIGHTS))
    return USCC_CHARSET[(31 - total % 31) % 31]


def validate_uscc(value: str) -> str:
    """A form validator that also returns the canonical code (SPEC SEC-1), for the caller to keep."""
    code, problem = canonical_uscc(value)
    if problem:
        raise ValidationError(problem)
    if len(code) != 18:
        raise ValidationError("统一社会信用代码应为18位。")
    bad = [char for char in code if char not in USCC_CHARSET]
    if bad:
        raise ValidationError(f"统一社会信用代码含有无效字符“{bad[0]}”（不使用 I、O、S、V、Z）。")
    expected = uscc_check_character(code[:17])
    if code[17] != expected:
        raise ValidationError(f"统一社会信用代码校验位错误（应为 {expected}），请核对。")
    return code


def validate_mobile(value: str) -> None:
    """`value` must already be canonical (identifiers.canonical_mobile): 11 ASCII digits from 1[3-9]."""
    if not MOBILE_PATTERN.fullmatch(value or ""):
        raise ValidationError("请输入11位手机号码。")


def validate_postcode(value: str) -> None:
    if not POSTCODE_PATTERN.fullmatch(value or ""):
        raise ValidationError("请输入6位邮政编码。")


# GB 11643-1999: 18-character resident ID — 6-digit area, 8-digit birth date, 3-digit sequence (odd:
# male), check character from these weights, mod 11 → "10X98765432" (SPEC ROS-3).
RESIDENT_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
RESIDENT_ID_CHECK = "10X98765432"
_FLOAT_LIKE = re.compile(r"[0-9](\.[0-9]+)?[eE][+-]?[0-9]+")


def _ascii_digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def resident_id_check_character(first17: str) -> str:
    return RESIDENT_ID_CHECK[sum(int(digit) * weight for digit, weight in zip(first17, RESIDENT_ID_WEIGHTS)) % 11]


def resident_id_problem(number: str) -> str | None:
    """Why `number` (canonical, see resident_id_check) is not a valid resident ID, in Chinese, or None
    if it is. Never raises: only ASCII digits count as digits (SPEC SEC-1)."""
    if _FLOAT_LIKE.fullmatch(number) or number.endswith(".0"):
        return "证件号码被Excel转成了数字（如3.10101E+17），请将该列设为文本格式后重新填写"
    if len(number) == 15 and _ascii_digits(number):
        return "15位旧身份证号码，请填写18位身份证号码"
    if len(number) != 18:
        return f"身份证号码应为18位（当前{len(number)}位）"
    if not _ascii_digits(number[:17]) or not (_ascii_digits(number[17]) or number[17] == "X"):
        return "身份证号码含有无效字符"
    try:
        dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return f"身份证号码中的出生日期{number[6:14]}不存在"
    expected = resident_id_check_character(number[:17])
    if number[17] != expected:
        return f"身份证号码校验位错误（应为{expected}）"
    return None


def resident_id_check(value, column: str = "证件号码") -> Canonical:
    """SPEC SEC-1 and ROS-3 for one typed or imported value: its canonical form, and why it is not a
    valid resident ID (None when it is). Never raises, whatever `value` is."""
    number, problem = canonical_id_number(value, column)
    if problem:
        return Canonical(number, problem)
    if not number:
        return Canonical(number, f"{column}为空")
    return Canonical(number, resident_id_problem(number))


def resident_id_birth_and_sex(number: str) -> tuple[dt.date, str]:
    """Birth date and sex (男/女: the 17th digit is odd for men) of a valid resident ID."""
    return dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14])), ("男" if int(number[16]) % 2 else "女")
