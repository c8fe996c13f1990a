"""参保查询's limits (SPEC LOOK-2, SEC-3): look-ups per IP address and per ID number, per clock hour and
per calendar day (Asia/Shanghai), counted in Django's cache as mutualaid/quotas.py does (add then incr:
atomic on Redis, one count for every web process).

Every look-up past the captcha counts, whatever its outcome, before the registry is read: a refusal
therefore says nothing about whether the ID is enrolled. The ID number is counted by its keyed hash,
never in clear (a cache key is not a secret store)."""
import datetime as dt

from django.conf import settings
from django.utils import timezone

from mutualaid.quotas import window_count


def _take(key: str, *, limit: int, window_end: dt.datetime, now: dt.datetime) -> int:
    """Count one more; 0 when it fits `limit`, else the seconds until the window ends."""
    if window_count(key, timeout=int((window_end - now).total_seconds()) + 60) <= limit:
        return 0
    return max(1, int((window_end - now).total_seconds()) + 1)


def lookup_limit_take(*, ip: str, id_hash: str, now: dt.datetime | None = None) -> int:
    """SPEC SEC-3: count one look-up of `id_hash` from `ip`. Returns 0 when every limit holds, else
    the seconds until the longest-refusing window ends (for Retry-After). A refused look-up counts too."""
    now = timezone.localtime(now or timezone.now())
    hour_start = now.replace(minute=0, second=0, microsecond=0)
    day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    hour_end, day_end = hour_start + dt.timedelta(hours=1), day_start + dt.timedelta(days=1)
    # the hash's hex part only: its "<key id>:" prefix would make the key depend on the rotation
    person = id_hash.rsplit(":", 1)[-1]
    checks = [
        (f"lookup-limit:id:{person}:h:{hour_start:%Y%m%d%H}", settings.LOOKUP_PER_ID_PER_HOUR, hour_end),
        (f"lookup-limit:id:{person}:d:{day_start:%Y%m%d}", settings.LOOKUP_PER_ID_PER_DAY, day_end),
    ]
    if ip:
        checks += [
            (f"lookup-limit:ip:{ip}:h:{hour_start:%Y%m%d%H}", settings.LOOKUP_PER_IP_PER_HOUR, hour_end),
            (f"lookup-limit:ip:{ip}:d:{day_start:%Y%m%d}", settings.LOOKUP_PER_IP_PER_DAY, day_end),
        ]
    waits = [_take(key, limit=limit, window_end=end, now=now) for key, limit, end in checks]
    return max(waits)
