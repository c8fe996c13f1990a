"""Per-account quotas (SPEC SEC-3): roster imports, attachment uploads and exports per hour.

Counted in Django's cache directly, not with django-ratelimit: a fixed window per clock hour, one
counter per account and action in the shared cache (Redis in production: `cache.add` then
`cache.incr` are atomic there, so every web process and worker sees one count), and no new
dependency for three counters. Over the quota the view answers 429 with `Retry-After` (seconds to the
end of the window) and a Chinese message, before anything is stored.
"""
import datetime as dt
import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone

WINDOW_SECONDS = 3600
# action → the setting holding its hourly limit (SPEC SEC-3; defaults in mutualaid/settings.py).
LIMIT_SETTINGS = {
    "roster_import": "QUOTA_ROSTER_IMPORTS_PER_HOUR",
    "attachment": "QUOTA_ATTACHMENT_UPLOADS_PER_HOUR",
    "export": "QUOTA_EXPORTS_PER_HOUR",
}


def window_count(key: str, *, timeout: int, amount: int = 1) -> int:
    """Add `amount` to the counter `key` in the shared cache and return its new value (SPEC SEC-3): the
    one counter of the quotas, the SMS limits and 参保查询's limits. add() then incr() is atomic on
    Redis, so parallel requests cannot both slip through; a key that expired between the two starts
    again at `amount`."""
    cache.add(key, 0, timeout=timeout)  # atomic: only the first of many creates it
    try:
        return cache.incr(key, amount)
    except ValueError:  # the key expired between add and incr
        cache.add(key, amount, timeout=timeout)
        return amount


def quota_take(*, account_id: int, action: str, amount: int = 1, now: float | None = None) -> int:
    """Count `amount` uses of `action` by the account in the current hour. Returns 0 when they fit
    the quota, else the seconds until the window ends (the count stays: a refused try counts too)."""
    limit = getattr(settings, LIMIT_SETTINGS[action])
    now = int(time.time() if now is None else now)
    window_start = now - now % WINDOW_SECONDS
    count = window_count(f"quota:{action}:{account_id}:{window_start}", timeout=WINDOW_SECONDS + 60, amount=amount)
    if count <= limit:
        return 0
    return window_start + WINDOW_SECONDS - now


def quota_message(retry_after: int) -> str:
    until = timezone.localtime(timezone.now() + dt.timedelta(seconds=retry_after))
    return f"操作过于频繁，请于{until:%H:%M}后再试"


def quota_refusal(request, action: str, amount: int = 1) -> HttpResponse | None:
    """SPEC SEC-3: None when the request's account may do `action` (`amount` times) now; otherwise the
    429 answer: the Chinese page, or for htmx / fetch requests the message alone (the caller's
    partial shows it)."""
    retry_after = quota_take(account_id=request.user.pk, action=action, amount=amount)
    if not retry_after:
        return None
    message = quota_message(retry_after)
    if request.headers.get("HX-Request"):
        response = HttpResponse(message, status=429, content_type="text/plain; charset=utf-8")
    else:
        response = render(request, "429.html", {"quota_message": message}, status=429)
    response["Retry-After"] = str(retry_after)
    return response
