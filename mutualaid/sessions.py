"""Sessions in the cache (Redis in production, SPEC OPS-3), renewed with one command a request.

SESSION_SAVE_EVERY_REQUEST renews the 30-minute idle limit on every request. Django's cache store does
it by reading the session back (to see that it still exists) and writing it whole: two Redis round
trips and a pickling a request, for a session that in most requests did not change. Here a session
that did not change is renewed with the cache's `touch` (Redis EXPIRE): one round trip, and a session
that is gone meanwhile (logged out in another tab, expired) is not brought back, as in Django's store
(UpdateError: SessionMiddleware answers SessionInterrupted). A changed session is written as Django
writes it. README, "The deadline crush", gives the figures.
"""
from django.contrib.sessions.backends.base import UpdateError
from django.contrib.sessions.backends.cache import SessionStore as CacheSessionStore


class SessionStore(CacheSessionStore):
    def save(self, must_create=False):
        if must_create or self.modified or self.session_key is None:
            return super().save(must_create=must_create)
        if not self._cache.touch(self.cache_key, self.get_expiry_age()):
            raise UpdateError
