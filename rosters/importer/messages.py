"""The importer's limits and the messages a unit reads (SPEC ROS-2, ROS-3, SEC-5)."""
from __future__ import annotations

from django.conf import settings

from enrollment.models import Batch

PROGRESS_SECONDS = 1.0  # rows_done is written at most this often
PROGRESS_EVERY_ROWS = 2_000  # how often validation looks at the clock
HEADER_SEARCH_ROWS = 20  # the header may sit under a title row or two
PROBLEMS_KEPT = 100_000  # bad rows kept on the RosterImport (every one is counted)
# Zip checks, from the directory only (SPEC ROS-10): a real roster of 1,000,000 rows unpacks to about
# 300 MB; sheets compress about 10:1 (XML of repeated cells, measured 10.5 for the template filled by
# openpyxl); a zip bomb reaches 1000:1.
ZIP_UNPACKED_MAX_BYTES = 512 * 1024 * 1024
ZIP_RATIO_MAX = 100
ZIP_RATIO_FROM_BYTES = 1024 * 1024  # small members may compress oddly; only large ones are judged
ZIP_MEMBERS_MAX = 10_000

REQUIRED_COLUMNS = ("姓名", "证件类型", "证件号码", "是否有社保")  # SPEC ROS-2
OPTIONAL_COLUMNS = ("出生日期", "性别", "手机号")
COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS

# --- messages ------------------------------------------------------------------------------------------

TEMPLATE_HINT = "请用【点击下载参保名单导入模板】下载模板，按模板填写后重新导入。"
NOT_A_SPREADSHEET = "无法读取该文件：它不是Excel表格（支持 .xlsx、.xls、.ods）。" + TEMPLATE_HINT
PASSWORD_PROTECTED = "文件设置了打开密码，无法读取：请在Excel中取消密码（文件 → 信息 → 保护工作簿 → 用密码进行加密，清空密码）后重新导入。"
MACRO_WORKBOOK = "文件含有宏（VBA），为安全起见未导入：请在Excel中另存为“Excel 工作簿(*.xlsx)”（不含宏）后重新导入。"  # SPEC SEC-5
ZIP_SUSPICIOUS = "文件解压后的大小或压缩比例异常（文件可能已损坏），未导入。" + TEMPLATE_HINT
UNREADABLE = "无法读取该Excel文件（文件可能已损坏）：请在Excel中打开后另存为 .xlsx 再导入。"
EMPTY_FILE = "文件是空的，请填写参保人员后重新导入。"
NO_HEADER = "未找到标题行：文件中应有模板的标题行（*姓名、*证件类型、*证件号码、*是否有社保 等）。" + TEMPLATE_HINT
NO_DATA = "文件中没有参保人员数据：标题行下面没有填写任何人员，请填写后重新导入。"
EXCEL_NUMBER = "证件号码被Excel转换为数字，请将该列设置为文本格式后重新填写"
# SPEC API-2: a roster posted as JSON rows ({"rows": [{"姓名": …}, …]}), refused as a whole.
ROWS_FORMAT_HINT = '格式应为 {"rows": [{"姓名": "张三", "证件类型": "身份证", "证件号码": "…", "是否有社保": "是"}, …]}，每个参保人员一个对象，键为模板的列名。'
ROWS_NOT_UTF8 = "无法读取提交的参保名单：内容不是UTF-8编码的文字。请以UTF-8编码提交JSON。"
ROWS_NOT_JSON = "提交的参保名单不是有效的JSON（第 {line} 行第 {column} 列附近有误），未导入。"  # + ROWS_FORMAT_HINT
ROWS_BAD_NUMBER = "提交的参保名单含有无法读取的数值（NaN、Infinity 或过长的数字），未导入。"
ROWS_UNREADABLE = "服务器上保存的参保名单无法读取，未导入，请重新提交。"
ROWS_TOO_DEEP = "提交的参保名单嵌套层数过多，不是参保名单的格式，未导入。" + ROWS_FORMAT_HINT
ROWS_NOT_ROWS = "提交的参保名单应为含有 rows 数组的JSON对象，未导入。" + ROWS_FORMAT_HINT
ROWS_NO_DATA = "提交的参保名单中没有参保人员数据：rows 为空，或每一项都没有填写，请填写后重新提交。"
ROWS_NOT_OBJECT = "rows 的第 {row} 项不是JSON对象，未导入。"  # + ROWS_FORMAT_HINT
ROWS_NESTED_VALUE = "rows 的第 {row} 项中“{column}”的值是对象或数组，未导入：值只能是文字、数字或 null。"
FAILED_UNEXPECTEDLY = "导入失败：系统处理时出错，参保清册未改变。请稍后重试；如仍失败，请联系技术支持（导入编号 {id}）。"


def too_large_message() -> str:
    return f"文件过大：单个文件不能超过 {settings.ROSTER_UPLOAD_MAX_BYTES // (1024 * 1024)}MB，请分成多个文件逐个导入。"


def rows_too_large_message() -> str:
    """SPEC API-2: the limit of a roster posted as JSON rows (ROSTER_API_MAX_BYTES)."""
    return f"提交的参保名单过大：单次不能超过 {settings.ROSTER_API_MAX_BYTES // (1024 * 1024)}MB，请分成多次提交。"


def missing_columns_message(missing: list[str]) -> str:
    """SPEC ROS-2: the refusal of a file (or JSON rows) without a required column, naming it."""
    listed = "、".join(f"“{name}”" for name in missing)
    return f"缺少必填列{listed}：请保持模板的标题行不变（列的顺序可以调整）。" + TEMPLATE_HINT


def state_message(batch: Batch) -> str:
    return f"批次当前状态为“{batch.get_state_display()}”，参保清册不能修改。"


def problem_message(problem: dict) -> str:
    """UI.md: `第 12 行：证件号码校验位错误（应为 X），请核对后重新导入`."""
    return f"第 {problem['row']} 行：{problem['reason']}"
