"""manage.py restore_verify (SPEC OPS-1): run against a restored database (DATABASE_URL) and media
(MEDIA_ROOT), with the escrowed keys, it checks that ID numbers decrypt and hash back, that sealed
files open and that an account logs in. Prints one JSON object on its last line; exits 1 on a problem.
bench/restore_drill.py and the drill's test run it; an operator runs it after every real restore."""
import json

from django.core.management.base import BaseCommand, CommandError

from payments.restore_check import restore_check


class Command(BaseCommand):
    help = "恢复演练：检查恢复后的数据库与文件（证件号码可解密、加密文件可读、账号可登录）"

    def add_arguments(self, parser):
        parser.add_argument("--username", required=True, help="用于试登录的账号（单位经办人）")
        parser.add_argument("--password", required=True)
        parser.add_argument("--samples", type=int, default=100, help="每张表抽查的证件号码数（默认 100）")
        parser.add_argument("--sealed-files", type=int, default=20, help="抽查的加密文件数（默认 20）")

    def handle(self, *args, username, password, samples, sealed_files, **options):
        check = restore_check(username=username, password=password, samples=samples, sealed_files=sealed_files)
        for name, count in check.ids_checked.items():
            self.stdout.write(f"{name}：{count} 个证件号码解密并核对哈希")
        self.stdout.write(f"加密文件：{check.sealed_files_checked} 个可读")
        self.stdout.write(f"登录 {username}：{'成功' if check.login_ok else '失败'}")
        for problem in check.problems:
            self.stderr.write(problem)
        self.stdout.write(json.dumps({
            "ok": check.ok, "ids_checked": check.ids_checked, "sealed_files_checked": check.sealed_files_checked,
            "login_ok": check.login_ok, "problems": check.problems[:20],
        }, ensure_ascii=False))
        if not check.ok:
            raise CommandError("恢复检查未通过")
