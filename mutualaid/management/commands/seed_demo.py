"""`manage.py seed_demo`: the demo data of `make run`, idempotent.

Each app that has demo data offers `<app>/demo.py` with `seed(*, stdout)`; they run in the order of
INSTALLED_APPS, which is the order of the flow (accounts before enrollment before rosters …), so a
later app's demo data can rely on an earlier one's.
"""
import importlib
import importlib.util

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction


class Command(BaseCommand):
    help = "创建演示数据（可重复执行）：保障年度、演示账号等。仅用于演示环境。"

    def handle(self, *args, **options):
        with transaction.atomic():
            for app_config in apps.get_app_configs():
                module_name = f"{app_config.name}.demo"
                if importlib.util.find_spec(module_name) is None:
                    continue
                importlib.import_module(module_name).seed(stdout=self.stdout)
        self.stdout.write(self.style.SUCCESS("演示数据已就绪。"))
