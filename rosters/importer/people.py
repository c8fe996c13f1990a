"""One person on the way from a row (or a reference table) to the roster, and what a source yields."""
from __future__ import annotations

from dataclasses import dataclass, field


# --- one person on their way to the roster ---------------------------------------------------------------


class _Person:
    """A good row: normalised values, then what the look-ups and rules add. Plain slots: a 50,000-row
    file makes 50,000 of them."""

    __slots__ = (
        "row", "id_type", "number", "name", "birth_date", "sex", "mobile", "says_insured", "id_hash",
        "id_cipher", "mobile_cipher", "entry",
    )

    def __init__(self, row, id_type, number, name, birth_date, sex, mobile, says_insured, id_hash="", id_cipher=""):
        self.row = row
        self.id_type = id_type
        self.number = number
        self.name = name
        self.birth_date = birth_date
        self.sex = sex
        self.mobile = mobile
        self.says_insured = says_insured  # 是否有社保 = 是 (SPEC ROS-8)
        self.id_hash = id_hash
        self.id_cipher = id_cipher
        self.mobile_cipher = ""  # SPEC SEC-4: the mobile is written encrypted (_protect)
        self.entry = None  # the RosterEntry column values, once the rules have run


@dataclass
class _Collected:
    """What a source yields: the good people, the bad rows and the number of rows read."""

    people: list[_Person]
    problems: list[dict]
    rows_read: int
    failed_rows: set[int] = field(default_factory=set)
    # SPEC ROS-11: holding batch id → the rows whose message named it (audited at the write).
    named: dict[int, list[int]] = field(default_factory=dict)

    def fail(self, row: int, column: str, value: str, reason: str) -> None:
        self.failed_rows.add(row)
        self.problems.append({"row": row, "column": column, "value": value, "reason": reason})
