"""The roster benchmark's rows, shared by bench/roster_import.py (as a template .xlsx) and the roster API
benchmark (as JSON rows, SPEC API-2), so that both import the very same people. Needs Django set up
(_common.setup_django) before `roster_rows` is called.

    rows, bad = roster_rows(50_000, known=known, seed=2)   # lists in TEMPLATE_HEADER's order
    body = rows_document(rows)                              # {"rows": [{"姓名": …, …}, …]} as UTF-8 bytes
"""
import json
import random

BAD_SHARE = 0.05
UNKNOWN_SHARE = 0.05
OTHER_ID_SHARE = 0.01


def roster_rows(count: int, *, known: list[tuple[str, str]], seed: int) -> tuple[list[list], int]:
    """`count` template rows (values in TEMPLATE_HEADER's order, None for an empty cell): people drawn
    from `known` ((ID, name) of the suggested roster, 90 %), people it does not know (5 %) and 非身份证
    rows, with about 5 % bad rows (wrong check characters, IDs that Excel turned into numbers, bad
    mobiles, missing 是否有社保, duplicates). Returns the rows and how many were made bad on purpose."""
    from rosters.synthetic import resident_ids

    rng = random.Random(seed)
    unknown_count = int(count * UNKNOWN_SHARE)
    strangers = resident_ids(unknown_count, seed=seed + 7, year=1990)
    rows = []
    bad = 0
    used = 0
    for index in range(count):
        draw = rng.random()
        if draw < OTHER_ID_SHARE:
            values = [f"SMITH {index}", "非身份证", f"E{seed:02d}{index:08d}", "1988-05-06", "男", "", "是"]
        elif draw < OTHER_ID_SHARE + UNKNOWN_SHARE and strangers:
            values = [f"新员工{index}", "身份证", strangers.pop(), None, None, f"139{index:08d}", "是"]
        else:
            number, name = known[used % len(known)]
            used += 1
            values = [name, "身份证", number, None, None, f"138{index:08d}" if index % 3 else "", "是" if index % 4 else "否"]
        if rng.random() < BAD_SHARE:
            bad += 1
            kind = rng.randrange(5)
            if kind == 0:  # wrong check character
                number = values[2]
                values[2] = number[:-1] + ("0" if number[-1] != "0" else "1")
            elif kind == 1:  # Excel made it a number
                values[2] = float(values[2][:17] + "0") if values[2][:17].isdigit() else values[2]
            elif kind == 2:
                values[5] = "1381234"
            elif kind == 3:
                values[6] = ""
            else:  # the same person again further down: the repeat is the error (ROS-4)
                if index:
                    values = list(last)
                else:
                    values[6] = "不知道"
        last = values
        rows.append(values)
    return rows, bad


# The template's columns by their leading names, in TEMPLATE_HEADER's order (SPEC ROS-2): the keys an
# HR system would send. TEMPLATE_HEADER's full texts work too (and make the document about twice as large).
COLUMN_NAMES = ("姓名", "证件类型", "证件号码", "出生日期", "性别", "手机号", "是否有社保")


def rows_document(rows: list[list], header=COLUMN_NAMES) -> bytes:
    """SPEC API-2: `rows` (as roster_rows makes them) as the roster API's JSON document, `{"rows": [{…}]}`,
    UTF-8. Keys are `header` (the columns' leading names unless told) and every cell is kept, None as
    null, so the document holds what the .xlsx holds (a float ID stays a JSON number)."""
    return json.dumps(
        {"rows": [dict(zip(header, values)) for values in rows]}, ensure_ascii=False, separators=(",", ":")
    ).encode("utf-8")
