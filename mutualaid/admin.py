from auditlog.admin import LogEntryAdmin
from auditlog.models import LogEntry
from auditlog.render import get_field_verbose_name
from django.contrib import admin

from .models import CalendarDay


@admin.register(CalendarDay)
class CalendarDayAdmin(admin.ModelAdmin):
    list_display = ("date", "is_working_day", "note")
    list_filter = ("is_working_day",)
    date_hierarchy = "date"
    search_fields = ("note",)


# The audit trail (SPEC X-2) in the back office, with Chinese labels where django-auditlog hard-codes
# English. Read only for everyone, as django-auditlog makes it.
admin.site.unregister(LogEntry)


@admin.register(LogEntry)
class AuditTrailAdmin(LogEntryAdmin):
    show_full_result_count = False  # SPEC OPS-3: as the other back-office lists (millions of entries)

    @admin.display(description="变更内容")
    def msg_short(self, obj):
        if obj.action in (LogEntry.Action.DELETE, LogEntry.Action.ACCESS):
            return ""
        changes = obj.changes_dict
        names = [get_field_verbose_name(obj, field) for field in changes]
        return f"{len(changes)} 项变更：{'、'.join(str(name) for name in names)}"

    @admin.display(description="关联编号")
    def cid_url(self, obj):
        return super().cid_url(obj)
