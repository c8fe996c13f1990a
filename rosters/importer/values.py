"""Normalising and checking one cell: ID numbers (an ID typed as a number, SPEC ROS-3), dates, sexes,
mobiles, names."""
from __future__ import annotations

import datetime as dt
import re
import unicodedata

from django.utils import timezone

from mutualaid.identifiers import Canonical, canonical_id_number, canonical_mobile
from mutualaid.validators import MOBILE_PATTERN, resident_id_birth_and_sex, resident_id_problem

from ..models import IdType
from .messages import EXCEL_NUMBER


# --- normalising one value ---------------------------------------------------------------------------------

_EXACT_FLOAT_LIMIT = 2**53
_FLOAT_LIKE = re.compile(r"^\d(\.\d+)?E[+-]?\d+$")
_OTHER_ID = re.compile(r"[0-9A-Z-]{4,30}")
_DATE_TEXT = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?")
_DATE_DIGITS = re.compile(r"(\d{4})(\d{2})(\d{2})")
_EXCEL_EPOCH = dt.date(1899, 12, 30)
# Ethnic-minority and foreign names are written with a middle dot; keyboards give several look-alikes.
_MIDDLE_DOTS = str.maketrans({"•": "·", "・": "·", "･": "·", "‧": "·", "∙": "·", "●": "·"})
_YES_NO = {"是": True, "否": False}
_SEXES = {"男": "男", "女": "女", "男性": "男", "女性": "女"}
_ID_TYPES = {"身份证": IdType.RESIDENT.value, "居民身份证": IdType.RESIDENT.value, "非身份证": IdType.OTHER.value}


def _plain(value) -> str:
    """A cell as the text a person sees, trimmed; whole numbers without ".0"."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < _EXACT_FLOAT_LIMIT else repr(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).strip()


def _folded(text: str) -> str:
    """Full-width → half-width (NFKC), without any white space or invisible format character, and a
    leading apostrophe (Excel's "this is text" mark) dropped."""
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
        text = "".join(char for char in text if unicodedata.category(char) != "Cf")
    text = "".join(text.split())
    return text.lstrip("'")


def _id_text(value) -> Canonical | None:
    """The ID cell in its canonical form (SPEC SEC-1: folded, X upper-case, ASCII only, else a
    problem naming the column); None when Excel turned it into a number that has lost digits (see
    the module docstring)."""
    if isinstance(value, float):
        if value.is_integer() and abs(value) < _EXACT_FLOAT_LIMIT:
            return Canonical(str(int(value)))
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return Canonical(str(value))
    text = value if isinstance(value, str) else _plain(value)
    if len(text) == 18 and text.isascii() and text.isalnum():  # the usual case
        return Canonical(text.upper())
    return canonical_id_number(text.strip().lstrip("'"))


def _resident_check(number: str) -> tuple[dt.date, str] | str:
    """SPEC ROS-3: birth date and sex (男/女) of a valid 18-character resident ID, or the row's reason
    (a str) why `number` is none."""
    if len(number) == 18 and number.isascii() and number[:17].isdigit():
        # The usual case, checked without resident_id_problem's string work: GB 11643 weights are
        # 2^(17-i) mod 11, and 13 ≡ 2 (mod 11), so the weighted sum is 2·int(first 17, base 13) mod 11.
        expected = "10X98765432"[(2 * int(number[:17], 13)) % 11]
        if number[17] == expected:
            try:
                birth_date = dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
            except ValueError:
                pass
            else:
                return birth_date, "男" if number[16] in "13579" else "女"
    if _FLOAT_LIKE.match(number) or number.endswith(".0"):
        return EXCEL_NUMBER
    problem = resident_id_problem(number)
    if problem is None:  # never reached for a number the fast path refused; kept for safety
        return resident_id_birth_and_sex(number)
    if "校验位" in problem:
        expected = "10X98765432"[(2 * int(number[:17], 13)) % 11]
        return f"证件号码校验位错误（应为 {expected}），请核对后重新导入"
    return f"{problem}，请核对后重新导入"


def _birth_date(value) -> dt.date | str:
    """A birth date from an Excel date, a serial number or a string (1990-01-01, 1990/1/1, 19900101,
    1990.01.01, 1990年1月1日); a str is the reason it is none."""
    if isinstance(value, dt.datetime):
        day = value.date()
    elif isinstance(value, dt.date):
        day = value
    else:
        if isinstance(value, (int, float)) and not isinstance(value, bool) and float(value).is_integer():
            number = int(value)
            if 19000101 <= number <= 21001231:
                value = str(number)
            elif 1 <= number < 80_000:  # a date cell without its date format: Excel's serial day
                return _reasonable_date(_EXCEL_EPOCH + dt.timedelta(days=number))
        text = _folded(_plain(value)) if not isinstance(value, str) or not value.isascii() else value.strip()
        text = re.split(r"[T\s]|(?<=日)", text, maxsplit=1)[0] if text else text
        match = _DATE_TEXT.fullmatch(text) or _DATE_DIGITS.fullmatch(text)
        if match is None:
            return "出生日期格式不正确（应为1990-01-01），请核对后重新导入"
        try:
            day = dt.date(int(match[1]), int(match[2]), int(match[3]))
        except ValueError:
            return f"出生日期{text}不存在，请核对后重新导入"
    return _reasonable_date(day)


def _reasonable_date(day: dt.date) -> dt.date | str:
    if day.year < 1900 or day > timezone.localdate():
        return f"出生日期{day.isoformat()}不合理，请核对后重新导入"
    return day


_MOBILE_FORMAT = "手机号应为11位数字（以1开头），请核对后重新导入"


def _mobile(value) -> Canonical:
    """SPEC ROS-3 (mobile optional): 11 digits starting with 1, spaces and "-" ignored, in canonical
    form (SPEC SEC-1); the problem says why not."""
    text = _plain(value)
    if not (len(text) == 11 and text.isascii() and text.isdigit()):
        text, problem = canonical_mobile(text)
        if problem:
            return Canonical("", f"{problem}，请核对后重新导入")
        if text.startswith("+86"):
            text = text[3:]
    return Canonical(text) if MOBILE_PATTERN.fullmatch(text) else Canonical("", _MOBILE_FORMAT)


def _name(value) -> str:
    text = value.strip() if value.__class__ is str else _plain(value)
    if not text.isprintable() or "  " in text:
        text = " ".join("".join(char if char.isprintable() else " " for char in text).split())
    return text.translate(_MIDDLE_DOTS)


def _same_name(first: str, second: str) -> bool:
    return "".join(first.split()) == "".join(second.split())
