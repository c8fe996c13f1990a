from django.apps import AppConfig


class ApiConfig(AppConfig):
    """The roster API for group HR systems (SPEC API-1 … API-3): a top app beside the back office and
    参保查询 (ARCHITECTURE.md). Nothing imports it."""

    name = "api"
    verbose_name = "清册接口"
