from auditlog.apps import AuditlogConfig


class AuditTrailConfig(AuditlogConfig):
    """django-auditlog under a Chinese name in the back office (X-2)."""

    verbose_name = "审计日志"

    def ready(self):
        super().ready()
        from .audit import request_context_receiver_connect

        request_context_receiver_connect()  # SPEC OPS-3: once, for every request's context
