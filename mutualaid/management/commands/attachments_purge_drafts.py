"""manage.py attachments_purge_drafts [--hours 24]: delete attachment drafts never claimed by a
submitted form (mutualaid.attachments.attachments_purge_drafts), files too. Run daily."""
import datetime as dt

from django.core.management.base import BaseCommand

from mutualaid.attachments import attachments_purge_drafts


class Command(BaseCommand):
    help = "删除超过指定时间仍未提交的草稿附件（含文件）"

    def add_arguments(self, parser):
        parser.add_argument("--hours", type=int, default=24, help="草稿上传后超过多少小时删除（默认 24）")

    def handle(self, *args, hours, **options):
        count = attachments_purge_drafts(older_than=dt.timedelta(hours=hours))
        self.stdout.write(f"已删除 {count} 个草稿附件")
