"""Sessions in the cache (Redis in production, SPEC OPS-3), renewed in the round trip that reads them.

SESSION_SAVE_EVERY_REQUEST renews the 30-minute idle limit on every request. Django's cache store does
it by reading the session back (to see that it still exists) and writing it whole: two more Redis round
trips and a pickling a request, for a session that in most requests did not change.

Here, on Redis, the session is read with GETEX, which renews its time to live in the same command: a
request whose session did not change makes that one round trip and no other. A session that is gone
(logged out in another tab, expired) reads as none, and nothing writes it back. A session with an
expiry of its own (set_expiry) is renewed at save with EXPIRE, as on the other caches: there an
unchanged session is renewed with the cache's `touch`, and one ended meanwhile is not brought back
(UpdateError: SessionMiddleware answers SessionInterrupted). A changed session is written as Django
writes it. README, "The deadline crush", gives the figures.
"""
from django.conf import settings
from django.contrib.sessions.backends.base import UpdateError
from django.contrib.sessions.backends.cache import SessionStore as CacheSessionStore
from django.core.cache.backends.redis import RedisCache

EXPIRY_KEY = "_session_expiry"  # where SessionBase.set_expiry keeps a session's own expiry


class SessionStore(CacheSessionStore):
    renewed = False  # this request's read renewed the time to live already

    def load(self):
        if not isinstance(self._cache, RedisCache) or self.session_key is None:
            return super().load()
        client = self._cache._cache  # Django's RedisCacheClient: its connection and its pickling
        key = self._cache.make_and_validate_key(self.cache_key)
        try:
            stored = client.get_client(key, write=True).getex(key, ex=settings.SESSION_COOKIE_AGE)
        except Exception:  # as Django's store: a cache that cannot answer is no session
            stored = None
        if stored is None:
            self._session_key = None
            return {}
        data = client._serializer.loads(stored)
        self.renewed = EXPIRY_KEY not in data
        return data

    def save(self, must_create=False):
        if must_create or self.modified or self.session_key is None:
            return super().save(must_create=must_create)
        if self.renewed:
            return
        if not self._cache.touch(self.cache_key, self.get_expiry_age()):
            raise UpdateError
