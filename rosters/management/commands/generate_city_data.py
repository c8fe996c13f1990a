"""manage.py generate_city_data: synthetic reference files for a whole city (SPEC REF).

    manage.py generate_city_data --people 6000000 --units 150000 --year 2025 --out /tmp/city

writes suggested.csv, ss_units.csv and members.csv for the year, previous.csv (the codes' enrolment of
the year before) and units.csv (参保编码, 单位名称, 统一社会信用代码), ready for `load_reference`. The same
seed gives the same files. No database is touched.
"""
import time

from django.core.management.base import BaseCommand, CommandError

from rosters.synthetic import DEFAULT_SEED, write_city_files

FILE_LABELS = {
    "suggested": "建议清册",
    "ss_units": "单位社保编码",
    "members": "会员库",
    "previous": "上年度参保名单",
    "units": "参保单位",
}


class Command(BaseCommand):
    help = "生成模拟的全市参考数据文件（建议清册、单位社保编码、会员库、上年度参保名单、参保单位），仅用于测试和性能评估。"

    def add_arguments(self, parser):
        parser.add_argument("--people", type=int, required=True, help="人数")
        parser.add_argument("--units", type=int, required=True, help="单位数（每个单位1至20000人）")
        parser.add_argument("--year", type=int, required=True, help="保障年度，如 2025（上年度参保名单为 year-1）")
        parser.add_argument("--out", required=True, help="输出目录")
        parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="随机种子：相同种子生成相同文件")

    def handle(self, *args, people, units, year, out, seed, **options):
        if people < 1:
            raise CommandError("人数须为正数")
        started = time.perf_counter()
        interactive = self.stdout.isatty()

        def progress(done: int) -> None:
            elapsed = time.perf_counter() - started
            rate = done / elapsed if elapsed else 0.0
            remaining = (people - done) / rate if rate else 0.0
            line = f"已生成 {done:,}/{people:,} 人（{done / people:.0%}，{rate:,.0f} 人/秒，剩余约 {remaining:.0f} 秒）"
            if interactive:
                self.stdout.write("\r" + line, ending="")
                self.stdout.flush()
            elif done == people:
                self.stdout.write(line)

        try:
            files = write_city_files(people=people, units=units, year=year, out_dir=out, seed=seed, progress=progress)
        except ValueError as error:
            raise CommandError(str(error)) from error
        if interactive:
            self.stdout.write("")
        elapsed = time.perf_counter() - started
        for kind, path in files.items():
            year_label = year - 1 if kind == "previous" else year
            self.stdout.write(f"{FILE_LABELS[kind]}（{year_label}年度）：{files.rows[kind]:,} 行 → {path}")
        self.stdout.write(
            self.style.SUCCESS(f"完成：{people:,} 人，{units:,} 个单位，用时 {elapsed:.1f} 秒（种子 {seed}）。")
        )
