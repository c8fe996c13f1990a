"""The audit trail's actor (SPEC X-2): each request's, and for services that act for a user."""
import contextlib
from functools import partial

from auditlog.cid import set_cid
from auditlog.context import _set_extra_data, auditlog_value, set_actor
from auditlog.middleware import AuditlogMiddleware
from django.db.models.signals import pre_save

# The dispatch id of every request's context: one receiver for all of them (AuditContextMiddleware).
REQUEST_CONTEXT = ("set_actor", "request")


class AuditContextMiddleware(AuditlogMiddleware):
    """django-auditlog's middleware (the request's user, address and port on each entry saved during
    the request), without connecting a signal receiver at the start of every request and disconnecting
    it at the end (SPEC OPS-3): that took a lock twice a request and emptied pre_save's receiver cache,
    so every model saved afterwards looked its receivers up again. The request's context carries one
    dispatch id, REQUEST_CONTEXT, whose receiver is connected once (request_context_receiver_connect,
    from AuditTrailConfig.ready); auditlog's own receiver function fills the entry in. The context is
    reset when the request ends (auditlog's left it set on the thread)."""

    def __call__(self, request):
        set_cid(request)
        token = auditlog_value.set({**self.get_extra_data(request), "signal_duid": REQUEST_CONTEXT})
        try:
            return self.get_response(request)
        finally:
            auditlog_value.reset(token)


def request_context_receiver_connect() -> None:
    from auditlog import get_logentry_model

    pre_save.connect(
        partial(_set_extra_data, signal_duid=REQUEST_CONTEXT),
        sender=get_logentry_model(),
        dispatch_uid="mutualaid.audit.request_context",
        weak=False,
    )


@contextlib.contextmanager
def acting_as(actor):
    """django-auditlog's set_actor for `actor`, keeping the request's remote address and restoring
    the request's own context afterwards: set_actor does not nest (leaving it would leave every
    later save of the request without actor or address)."""
    outer = auditlog_value.get(None)
    remote = {key: outer.get(key) for key in ("remote_addr", "remote_port")} if outer else {}
    try:
        with set_actor(actor, **remote):
            yield
    finally:
        if outer is not None:
            auditlog_value.set(outer)


def client_ip(request) -> str:
    """The client's address as the login lockout sees it (django-axes, AXES_IPWARE_* settings: behind
    a proxy the forwarded address of the configured proxy count), else REMOTE_ADDR. The one reading of
    the address for quotas, SMS limits and audit entries (SPEC SEC-3, SEC-6)."""
    from axes.helpers import get_client_ip_address

    return getattr(request, "axes_ip_address", None) or get_client_ip_address(request) or request.META.get("REMOTE_ADDR", "")


def printable(text: str) -> str:
    """`text` with each character that is not printable as \\xNN: a URL path may hold NUL (which
    PostgreSQL refuses in any text) or other controls, and an entry should show them, not hold them."""
    return "".join(char if char.isprintable() else f"\\x{ord(char):02x}" for char in text)


def audit_access(obj, *, actor, ip: str | None, text: str, **data) -> None:
    """One ACCESS entry on `obj` in the audit trail (SPEC X-2, SEC-6, ROS-11): who, from which IP, what
    (`text`, and `data` for queries)."""
    from auditlog.models import LogEntry

    LogEntry.objects.log_create(
        obj,
        force_log=True,
        action=LogEntry.Action.ACCESS,
        actor=actor,
        remote_addr=ip or None,
        changes_text=text[:1000],
        additional_data={"ip": ip or "", **data},
    )


def years_before(moment, years: int):
    """`moment` `years` calendar years earlier (29 February becomes the 28th), as PostgreSQL's
    `now() - make_interval(years => …)` counts."""
    try:
        return moment.replace(year=moment.year - years)
    except ValueError:
        return moment.replace(year=moment.year - years, day=28)


def audit_entries_purge(*, access_years: int, record_years: int) -> int:
    """SPEC SEC-9: delete auditlog's entries past their kind's period: ACCESS entries (access, export,
    look-up and denial records) older than `access_years`, every other entry, and the admin's history
    (django_admin_log: review decisions, password resets), older than `record_years`.
    Returns how many went. On PostgreSQL through `audit_purge_entries` (mutualaid 0009), the one
    deletion the append-only trigger allows, which refuses periods shorter than SPEC SEC-9's; on SQLite
    (the demo, no triggers) directly."""
    from auditlog.models import LogEntry
    from django.contrib.admin.models import LogEntry as AdminLogEntry
    from django.db import connection
    from django.utils import timezone

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT audit_purge_entries(%s, %s)", [access_years, record_years])
            return cursor.fetchone()[0]
    now = timezone.now()
    access = LogEntry.objects.filter(action=LogEntry.Action.ACCESS, timestamp__lt=years_before(now, access_years))
    record = LogEntry.objects.exclude(action=LogEntry.Action.ACCESS).filter(timestamp__lt=years_before(now, record_years))
    history = AdminLogEntry.objects.filter(action_time__lt=years_before(now, record_years))
    return access.delete()[0] + record.delete()[0] + history.delete()[0]
