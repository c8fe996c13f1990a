"""manage.py rotate_hash_key (SPEC SEC-10): re-hash every hash with the current hash key
(PII_HASH_KEY_ID): the reference tables, the roster entries and the enrolment registry. Run it
after every process has the new key as the current one and the old one still active (not in
PII_HASH_KEYS_RETIRED): until the old key is retired, look-ups search with both. When it reports
nothing left, list the old key in PII_HASH_KEYS_RETIRED (kept for audit queries, never for
look-ups): that is the switch. Safe to stop and run again."""
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from payments.key_rotation import hash_key_rotate, steps_written
from mutualaid.key_rotation import BATCH_ROWS
from mutualaid.pii import PiiError, pii_hash_key_id, pii_hash_key_ids_active


class Command(BaseCommand):
    help = "用当前查询摘要密钥（PII_HASH_KEY_ID）重新计算全部摘要；可中断后重新运行"

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=BATCH_ROWS, help=f"每批行数（默认 {BATCH_ROWS}）")

    def handle(self, *args, batch_size, **options):
        key_id = pii_hash_key_id()
        active = pii_hash_key_ids_active()
        if key_id in getattr(settings, "PII_HASH_KEYS_RETIRED", ()):
            raise CommandError(f"当前摘要密钥 {key_id} 已列入 PII_HASH_KEYS_RETIRED。")
        self.stdout.write(f"当前摘要密钥 {key_id}；查询同时使用：{', '.join(map(str, active))}")

        def report(name, done, total):
            self.stdout.write(f"  {name}：{done}/{total}")

        try:
            steps = hash_key_rotate(batch_size=batch_size, report=report)
        except PiiError as error:
            # The numbers are read from the ciphers: a PII key is missing (or a cipher is damaged).
            raise CommandError(f"{error}；已完成的部分保留，配置好密钥后重新运行。") from error
        problems = steps_written(self, steps, verb="重新计算")
        if problems:
            self.stderr.write(f"有 {problems} 项未完成，请处理后重新运行；旧密钥暂不能停用。")
        else:
            old = [str(other) for other in active if other != key_id]
            self.stdout.write(
                f"完成：全部摘要均为密钥 {key_id}。"
                + (f"现在可将 {', '.join(old)} 列入 PII_HASH_KEYS_RETIRED（仅供审计查询）。" if old else "")
            )
