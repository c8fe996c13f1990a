"""One canonical form per identifier (SPEC SEC-1).

Every ID number (身份证 and 非身份证), USCC, mobile and enrollment code passes `canonical` wherever it
enters the portal (import, form, search, reference load, legacy import), and only its `value` is ever
validated, hashed or encrypted:

- full-width and half-width forms become ASCII (Unicode NFKC), so "３１０１…ｘ" keeps working;
- white space and invisible format characters (zero-width space, BOM, direction marks) are removed;
- letters are upper-cased (a lower-case x is common);
- then the value must be ASCII: anything else (digits of other scripts such as "٠", superscripts,
  circled digits, control characters, lone surrogates) is refused with a Chinese message naming the
  column. `int()` and `str.isdigit()` accept "٠" and "²": without this step one person could have two
  hashes, and so two enrolments in one year.

NFKC also turns "²" and "①" into "2" and "1"; SPEC SEC-1 refuses superscripts, so only the width
mappings (<wide>, <narrow>) are folded and the other compatibility mappings are refused.

`canonical` never raises, whatever it is given (None, numbers from Excel cells, any string).
"""
import unicodedata
from typing import NamedTuple

MAX_LENGTH = 1000  # longer than any identifier; a longer value is refused before any per-character work
_WIDTH_FOLDS = ("<wide>", "<narrow>")


class Canonical(NamedTuple):
    """The canonical form of a value, and why it is not acceptable (None when it is)."""

    value: str
    problem: str | None = None


def _shown(char: str) -> str:
    """A character as a message may show it: itself when printable, else its code point (a lone
    surrogate or a control character cannot be written into a page)."""
    return char if char.isprintable() and not 0xD800 <= ord(char) <= 0xDFFF else f"U+{ord(char):04X}"


def _refused(column: str, char: str) -> Canonical:
    return Canonical("", f"{column}含有非标准字符“{_shown(char)}”，请使用半角数字和字母")


def canonical(value, *, column: str) -> Canonical:
    """SPEC SEC-1: the canonical form of `value` (ASCII, no spaces, upper case), or a problem that
    names `column`. Empty input gives an empty value without a problem: whether a value is required
    is the caller's rule. Never raises."""
    if value is None:
        return Canonical("")
    text = value if isinstance(value, str) else str(value)
    if len(text) > MAX_LENGTH:
        return Canonical("", f"{column}过长（{len(text)}个字符），请核对")
    if text.isascii():  # the usual case: no Unicode work
        text = "".join(text.split())
        if not text.isprintable():
            return _refused(column, next(char for char in text if not char.isprintable()))
        return Canonical(text.upper())
    kept = []
    for char in text:
        if char.isascii():
            if not char.isspace():
                if not char.isprintable():
                    return _refused(column, char)
                kept.append(char)
        elif char.isspace() or unicodedata.category(char) == "Cf":
            continue
        elif unicodedata.decomposition(char).startswith(_WIDTH_FOLDS):
            folded = unicodedata.normalize("NFKC", char)
            if not (folded.isascii() and folded.isprintable()):
                return _refused(column, char)
            kept.append(folded)
        else:
            return _refused(column, char)
    return Canonical("".join(kept).upper())


def canonical_id_number(value, column: str = "证件号码") -> Canonical:
    """An ID number (身份证 or 非身份证) in canonical form; its format is checked by the caller's rule."""
    return canonical(value, column=column)


def canonical_uscc(value, column: str = "统一社会信用代码") -> Canonical:
    return canonical(value, column=column)


def canonical_mobile(value, column: str = "手机号") -> Canonical:
    """A mobile in canonical form; the hyphens people type between digits are dropped too."""
    result = canonical(value, column=column)
    return result._replace(value=result.value.replace("-", "")) if result.problem is None else result


def canonical_enrollment_code(value, column: str = "参保编码") -> Canonical:
    return canonical(value, column=column)
