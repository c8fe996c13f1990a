"""manage.py load_reference: load one reference file for a coverage year (SPEC REF, BO-3).

    manage.py load_reference suggested /data/建议清册2025.csv --year 2025
    manage.py load_reference members 会员库.xlsx --year 2025 --user reviewer01

KIND is suggested (建议清册), ss_units (单位社保编码), members (会员库) or previous (上年度参保名单).
The file (CSV in UTF-8 or GB18030, .csv.gz or .xlsx) replaces the year's data of that kind; bad rows
are listed in a CSV whose path is printed at the end. The load is recorded as a ReferenceLoad (the
audit event with its counts, SPEC X-2), like an upload in the back office. The service is
rosters.reference.reference_load.
"""
import time

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from rosters.models import ReferenceLoad
from rosters.errors import RosterError
from rosters.reference import reference_load_recorded

BAR_WIDTH = 30
PLAIN_EVERY_SECONDS = 10.0  # without a terminal (cron, logs): one progress line this often


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class _ProgressBar:
    """`[#####-----]  45%  2,700,000/6,000,000 行  98,000 行/秒  剩余 0:00:34` on one terminal line;
    without a known total, rows and rate only."""

    def __init__(self, stdout):
        self.stdout = stdout
        self.interactive = stdout.isatty()
        self.started = time.monotonic()
        self.printed_at = self.started
        self.drawn = False

    def __call__(self, done: int, total: int | None) -> None:
        now = time.monotonic()
        elapsed = now - self.started
        rate = done / elapsed if elapsed > 0 else 0.0
        if total:
            share = min(done / total, 1.0)
            filled = int(BAR_WIDTH * share)
            eta = f"  剩余 {_duration((total - done) / rate)}" if rate and done < total else ""
            line = (
                f"[{'#' * filled}{'-' * (BAR_WIDTH - filled)}] {share:4.0%}  {done:,}/{total:,} 行  "
                f"{rate:,.0f} 行/秒{eta}"
            )
        else:
            line = f"已读取 {done:,} 行  {rate:,.0f} 行/秒"
        if self.interactive:
            self.stdout.write(f"\r{line}\033[K", ending="")
            self.stdout.flush()
            self.drawn = True
        elif now - self.printed_at >= PLAIN_EVERY_SECONDS:
            self.printed_at = now
            self.stdout.write(line)

    def close(self) -> None:
        if self.drawn:
            self.stdout.write("")


class Command(BaseCommand):
    help = "导入参考数据文件（建议清册、单位社保编码、会员库、上年度参保名单），替换该保障年度的同类数据。"

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=ReferenceLoad.Kind.values, help="数据类型")
        parser.add_argument("file", help="CSV（UTF-8 或 GB18030）、CSV.GZ 或 XLSX 文件")
        parser.add_argument("--year", type=int, required=True, help="保障年度，如 2025")
        parser.add_argument("--user", help="操作人账号（记入审计日志），默认为空")

    def handle(self, *args, kind, file, year, user, **options):
        acting_user = None
        if user:
            acting_user = get_user_model().objects.filter(username=user).first()
            if acting_user is None:
                raise CommandError(f"账号“{user}”不存在。")
        label = ReferenceLoad.Kind(kind).label
        self.stdout.write(f"导入 {year}年度{label}：{file}")
        bar = _ProgressBar(self.stdout)
        try:
            record, result = reference_load_recorded(
                kind=kind, path=file, year=year, acting_user=acting_user, progress=bar
            )
        except RosterError as error:
            bar.close()
            raise CommandError(error.message) from error
        bar.close()
        self.stdout.write(
            f"完成（导入记录 {record.pk}）：{result.summary}，用时 {result.seconds:.1f} 秒"
            f"（{result.rows_per_second:,.0f} 行/秒）。"
        )
        if result.rejected_path:
            # SPEC SEC-4: the list holds ID numbers, so it is sealed; reviewers download it from the load's page.
            self.stdout.write(f"错误行清单（已加密保存，请在后台该导入记录页下载）：{result.rejected_path}")
