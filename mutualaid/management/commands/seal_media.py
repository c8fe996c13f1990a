"""manage.py seal_media: seal the files that were stored in clear before SPEC SEC-4 (uploads,
attachments, export files, reference reports under MEDIA_ROOT's private folders). Run once after
upgrading; safe to run again (a sealed file is left as it is). Each file is sealed into a new file
beside it, which then replaces it, so an interruption never leaves a half-sealed file."""
import os
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from mutualaid.sealed import is_sealed, seal_file

FOLDERS = ("private", "roster_imports")


class Command(BaseCommand):
    help = "加密保存升级前以明文保存的含个人信息文件（上传名单、附件、导出文件、错误行清单）"

    def handle(self, *args, **options):
        sealed = 0
        for folder in FOLDERS:
            root = Path(settings.MEDIA_ROOT) / folder
            for path in sorted(root.rglob("*")) if root.is_dir() else []:
                if not path.is_file() or path.name.endswith(".sealing") or is_sealed(path):
                    continue
                partial = path.with_name(path.name + ".sealing")
                partial.unlink(missing_ok=True)
                seal_file(path, partial)
                os.replace(partial, path)
                sealed += 1
        self.stdout.write(f"已加密 {sealed} 个文件")
