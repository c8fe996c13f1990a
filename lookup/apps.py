from django.apps import AppConfig


class LookupConfig(AppConfig):
    name = "lookup"
    verbose_name = "参保查询"
