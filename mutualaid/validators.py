"""Hand-written checks of Chinese identifiers (ARCHITECTURE.md: python-stdnum rejects real ones)."""
import re

from django.core.exceptions import ValidationError

MOBILE_PATTERN = re.compile(r"^1[3-9]\d{9}$")
POSTCODE_PATTERN = re.compile(r"^\d{6}$")

# GB 32100-2015: 统一社会信用代码 — 18 characters from this set (no I, O, S, V, Z), the last a check.
USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def uscc_check_character(first17: str) -> str:
    total = sum(USCC_CHARSET.index(char) * weight for char, weight in zip(first17, USCC_WEIGHTS))
    return USCC_CHARSET[(31 - total % 31) % 31]


def normalise_uscc(value: str) -> str:
    """Upper-case and drop spaces; full-width letters and digits become half-width."""
    folded = "".join(chr(ord(c) - 0xFEE0) if "！" <= c <= "～" else c for c in value or "")
    return re.sub(r"\s+", "", folded).upper()


def validate_uscc(value: str) -> None:
    code = normalise_uscc(value)
    if len(code) != 18:
        raise ValidationError("统一社会信用代码应为18位。")
    bad = [char for char in code if char not in USCC_CHARSET]
    if bad:
        raise ValidationError(f"统一社会信用代码含有无效字符“{bad[0]}”（不使用 I、O、S、V、Z）。")
    expected = uscc_check_character(code[:17])
    if code[17] != expected:
        raise ValidationError(f"统一社会信用代码校验位错误（应为 {expected}），请核对。")


def validate_mobile(value: str) -> None:
    if not MOBILE_PATTERN.match(value or ""):
        raise ValidationError("请输入11位手机号码。")


def validate_postcode(value: str) -> None:
    if not POSTCODE_PATTERN.match(value or ""):
        raise ValidationError("请输入6位邮政编码。")
