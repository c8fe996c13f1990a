"""Beat's scheduler, stamping its time for the health checks (SPEC OPS-2, mutualaid.health)."""
import logging
import time

from django_celery_beat.schedulers import DatabaseScheduler

logger = logging.getLogger(__name__)


class StampingScheduler(DatabaseScheduler):
    """django-celery-beat's scheduler; every tick (at most 5 s apart: django-celery-beat's
    default loop interval) also
    stamps beat's time, at most once every HEALTH_STAMP_SECONDS."""

    _last_stamp = 0.0

    def tick(self, *args, **kwargs):
        interval = super().tick(*args, **kwargs)
        from django.conf import settings

        now = time.monotonic()
        if now - self._last_stamp >= settings.HEALTH_STAMP_SECONDS:
            from .health import BEAT_STAMP_KEY, stamp

            try:
                stamp(BEAT_STAMP_KEY)
                self._last_stamp = now
            except Exception:  # Redis away for a moment: the stamp ages, the health check says so
                logger.warning("beat health stamp failed", exc_info=True)
        return interval
