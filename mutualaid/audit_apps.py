from auditlog.apps import AuditlogConfig


class AuditTrailConfig(AuditlogConfig):
    """django-auditlog under a Chinese name in the back office (X-2)."""

    verbose_name = "审计日志"
