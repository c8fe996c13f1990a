"""Reference files built at test time (SPEC REF-1…REF-4): the headers of the 建议清册, SS units, members and
previous-enrolment files, a CSV writer, and 建议清册 rows and uploads."""
import csv
import io
from pathlib import Path

# The headers of the reference files (SPEC REF-1…REF-4).
SUGGESTED_HEADER = ["证件号码", "社保姓名", "单位社保编码", "个人社保登记号", "职退状态", "医保享受在职待遇"]
SS_UNITS_HEADER = ["单位社保编码", "单位名称", "社保在职人数"]
MEMBERS_HEADER = ["参保编码", "统一社会信用代码", "姓名", "证件号码"]
PREVIOUS_HEADER = ["参保编码", "姓名", "证件号码", "证件类型"]


def write_csv(path: Path, header, rows, *, encoding="utf-8") -> Path:
    """A CSV file at `path` with `header` and `rows`, in `encoding`."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows([header, *rows])
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def suggested_rows(*numbers):
    """建议清册 rows of in-service people of one SS unit code, one per ID number."""
    return [[number, f"职工{index}", "00108537", f"SB{index:04d}", "在职", "是"] for index, number in enumerate(numbers)]


def suggested_csv(rows: list[list[str]]) -> bytes:
    """A 建议清册 CSV upload with the header and `rows`."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(SUGGESTED_HEADER)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")
