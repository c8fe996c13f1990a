"""manage.py check_identifiers [--fix] [--chunk N]: SPEC SEC-1 for stored identifiers. Decrypts every stored ID cipher in chunks (参保清册, 建议清册, 会员库, 上年度参保名单;
the 年度参保登记 through its batches' roster entries), prints progress, every stored value that is
not canonical or whose hash does not match, and the counts. With --fix, re-canonicalises where that
is safe and lists the conflicts it cannot fix. The service is rosters.identifier_check."""
from django.core.management.base import BaseCommand

from rosters.identifier_check import CHUNK_ROWS, identifiers_check


class Command(BaseCommand):
    help = "检查（--fix 时修正）已存储的证件号码是否为规范形式、摘要是否相符（SPEC SEC-1）。"

    def add_arguments(self, parser):
        parser.add_argument("--fix", action="store_true", help="在安全时修正为规范形式；冲突只报告不修正")
        parser.add_argument("--chunk", type=int, default=CHUNK_ROWS, help=f"每批读取的行数（默认 {CHUNK_ROWS}）")

    def handle(self, *args, fix, chunk, **options):
        report = identifiers_check(fix=fix, chunk=chunk, progress=self.stdout.write)
        for finding in report.findings:
            mark = "已修正" if finding.fixed else "未修正" if fix else "发现"
            self.stdout.write(f"[{mark}] {finding.table} {finding.where}：{finding.problem}")
        self.stdout.write(report.summary)
        if report.findings and not all(finding.fixed for finding in report.findings):
            self.stderr.write(f"仍有 {report.count(fixed=False)} 条问题需要处理。")
