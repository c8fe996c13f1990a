"""manage.py rotate_pii_key (SPEC SEC-10): re-encrypt every cipher, and re-seal every sealed file,
with the current PII key (PII_KEY_ID). Run it after every web and worker process has been given
the new key as the current one (the old one still configured, for reading); when it reports
nothing left, the old key may be removed from the settings. Safe to stop and run again: rows and
files already under the current key are skipped (the key id is in each of them)."""
from django.core.management.base import BaseCommand, CommandError

from payments.key_rotation import pii_key_rotate, steps_written
from mutualaid.key_rotation import BATCH_ROWS
from mutualaid.pii import PiiError, pii_key_id, pii_keys


class Command(BaseCommand):
    help = "用当前个人信息加密密钥（PII_KEY_ID）重新加密全部密文和加密文件；可中断后重新运行"

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=BATCH_ROWS, help=f"每批行数（默认 {BATCH_ROWS}）")
        parser.add_argument("--no-files", action="store_true", help="不处理 MEDIA_ROOT 下的加密文件")

    def handle(self, *args, batch_size, no_files, **options):
        key_id = pii_key_id()
        others = sorted(set(pii_keys()) - {key_id})
        self.stdout.write(f"当前密钥 {key_id}；仍可解密的旧密钥：{', '.join(map(str, others)) or '无'}")

        def report(name, done, total):
            self.stdout.write(f"  {name}：{done}/{total}")

        try:
            steps = pii_key_rotate(batch_size=batch_size, report=report, files=not no_files)
        except PiiError as error:
            # An old key is missing from the settings (or a cipher is damaged): what is done stays done.
            raise CommandError(f"{error}；已完成的部分保留，配置好旧密钥后重新运行。") from error
        problems = steps_written(self, steps, verb="重新加密")
        if problems:
            self.stderr.write(f"有 {problems} 项未完成，请处理后重新运行；旧密钥暂不能移除。")
        else:
            self.stdout.write(f"完成：全部密文均为密钥 {key_id}。审计记录之外已不需要旧密钥（见 README 密钥轮换与托管）。")
