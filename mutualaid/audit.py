"""The audit trail's actor (SPEC X-2), for services that act for a user."""
import contextlib

from auditlog.context import auditlog_value, set_actor


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
    """The client's address as django-axes determined it (AXES_IPWARE_* settings: behind a proxy the
    forwarded address), else REMOTE_ADDR, as accounts/views/auth.py reads it (SPEC SEC-3)."""
    return getattr(request, "axes_ip_address", None) or request.META.get("REMOTE_ADDR", "")
