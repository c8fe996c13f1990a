"""SPEC OPS-3: sessions in the cache renewed with one command a request (mutualaid.sessions), the
30-minute idle limit kept on every request, and a session ended elsewhere never brought back."""
import os
from unittest import mock

import pytest
from django.core.cache import caches
from django.urls import reverse

from mutualaid.sessions import SessionStore

LANDING = "accounts:landing"
LOCMEM = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "sessions-test"}}


@pytest.fixture
def cache_sessions(settings):
    settings.SESSION_ENGINE = "mutualaid.sessions"
    settings.CACHES = LOCMEM
    caches["default"].clear()
    return caches["default"]


def _session_key(client, settings) -> str:
    return SessionStore.cache_key_prefix + client.cookies[settings.SESSION_COOKIE_NAME].value


@pytest.mark.django_db
def test_an_unchanged_session_is_renewed_with_one_touch_not_read_back_and_rewritten(client, unit_admin, cache_sessions, settings):
    client.force_login(unit_admin)
    client.get(reverse(LANDING))  # the first request after the login records login_at (a change)
    spies = {name: mock.patch.object(cache_sessions, name, wraps=getattr(cache_sessions, name)) for name in ("get", "set", "add", "touch")}
    with spies["get"] as get, spies["set"] as set_, spies["add"] as add, spies["touch"] as touch:
        response = client.get(reverse(LANDING))

    assert response.status_code == 200
    assert get.call_count == 1  # the load; Django's store read it a second time to save it
    assert not set_.called and not add.called
    touch.assert_called_once_with(_session_key(client, settings), settings.SESSION_COOKIE_AGE)
    # The cookie is renewed with it (SESSION_SAVE_EVERY_REQUEST), so the browser keeps it as long.
    assert response.cookies[settings.SESSION_COOKIE_NAME]["max-age"] == settings.SESSION_COOKIE_AGE


@pytest.mark.django_db
def test_a_changed_session_is_written_whole(client, unit_admin, cache_sessions, settings):
    client.force_login(unit_admin)
    session = client.session
    session["note"] = "kept"
    session.save()  # a change, as a view makes one
    assert cache_sessions.get(_session_key(client, settings))["note"] == "kept"

    client.get(reverse(LANDING))
    stored = cache_sessions.get(_session_key(client, settings))
    assert stored["note"] == "kept"
    assert "login_at" in stored  # the change this request made (accounts.middleware.SessionLimitsMiddleware)


@pytest.mark.django_db
def test_a_session_ended_elsewhere_is_not_brought_back_by_a_request_in_flight(client, unit_admin, cache_sessions, settings):
    client.force_login(unit_admin)
    client.get(reverse(LANDING))
    key = _session_key(client, settings)
    store = SessionStore(client.cookies[settings.SESSION_COOKIE_NAME].value)
    store.load()  # a request has read it …
    cache_sessions.delete(key)  # … and the account logs out in another tab

    from django.contrib.sessions.backends.base import UpdateError

    with pytest.raises(UpdateError):
        store.save()
    assert cache_sessions.get(key) is None


@pytest.mark.django_db
def test_a_new_session_is_created_and_a_login_changes_the_key(client, unit_admin, cache_sessions, settings):
    client.force_login(unit_admin)
    first = client.cookies[settings.SESSION_COOKIE_NAME].value
    client.logout()
    client.force_login(unit_admin)
    second = client.cookies[settings.SESSION_COOKIE_NAME].value

    assert first != second
    assert cache_sessions.get(SessionStore.cache_key_prefix + first) is None
    assert client.get(reverse(LANDING)).status_code == 200


@pytest.mark.real_worker
@pytest.mark.django_db
def test_on_redis_the_idle_limit_is_renewed_to_its_full_length(client, unit_admin, settings):
    # The same with production's cache: Redis's own clock for the session's time to live.
    settings.SESSION_ENGINE = "mutualaid.sessions"
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": os.environ["REDIS_URL"], "KEY_PREFIX": f"sessions-test-{os.getpid()}"}}
    cache = caches["default"]
    client.force_login(unit_admin)
    client.get(reverse(LANDING))
    key = cache.make_key(_session_key(client, settings))
    redis = cache._cache.get_client(key)
    redis.expire(key, 5)  # as if the person had been idle for nearly 30 minutes

    assert client.get(reverse(LANDING)).status_code == 200
    assert settings.SESSION_COOKIE_AGE - 5 <= redis.ttl(key) <= settings.SESSION_COOKIE_AGE
    cache.delete(_session_key(client, settings))


@pytest.fixture
def redis_sessions(settings):
    settings.SESSION_ENGINE = "mutualaid.sessions"
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": os.environ["REDIS_URL"], "KEY_PREFIX": f"sessions-test-{os.getpid()}"}}
    yield caches["default"]
    caches["default"].clear()


def _monitored(cache, key):
    """The Redis commands sent for `key`, counted by name (a wrapper around the client's execute_command)."""
    redis = cache._cache.get_client(key, write=True)
    return mock.patch.object(type(redis), "execute_command", autospec=True, side_effect=type(redis).execute_command)


def _logged_in_store(client, account, settings) -> tuple[str, SessionStore]:
    """A logged-in client's session cookie, and a store of that session (as another request holds it)."""
    client.force_login(account)
    client.get(reverse(LANDING))
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    return cookie, SessionStore(cookie)


@pytest.mark.real_worker
@pytest.mark.django_db
def test_on_redis_an_unchanged_session_is_read_and_renewed_in_one_command(client, unit_admin, settings, redis_sessions):
    client.force_login(unit_admin)
    client.get(reverse(LANDING))  # records login_at (a change)
    key = redis_sessions.make_key(_session_key(client, settings))
    redis = redis_sessions._cache.get_client(key, write=True)
    redis.expire(key, 5)  # as if the person had been idle for nearly 30 minutes

    with _monitored(redis_sessions, key) as sent:
        assert client.get(reverse(LANDING)).status_code == 200

    commands = [call.args[1] for call in sent.call_args_list if key in call.args]
    assert commands == ["GETEX"]  # no EXPIRE, GET or SET beside it
    assert settings.SESSION_COOKIE_AGE - 5 <= redis.ttl(key) <= settings.SESSION_COOKIE_AGE


@pytest.mark.real_worker
@pytest.mark.django_db
def test_on_redis_a_session_ended_elsewhere_stays_ended(client, unit_admin, settings, redis_sessions):
    cookie, store = _logged_in_store(client, unit_admin, settings)
    key = redis_sessions.make_key(SessionStore.cache_key_prefix + cookie)
    store.load()  # a request has read it …
    redis_sessions.delete(SessionStore.cache_key_prefix + cookie)  # … and the account logs out in another tab
    store.save()
    assert redis_sessions._cache.get_client(key).exists(key) == 0

    response = client.get(reverse(LANDING))  # the next request: logged out
    assert response.status_code == 302 and reverse("accounts:login") in response["Location"]
    assert SessionStore(cookie).load() == {}


@pytest.mark.real_worker
@pytest.mark.django_db
def test_on_redis_a_session_with_its_own_expiry_is_renewed_to_it(client, unit_admin, settings, redis_sessions):
    cookie, store = _logged_in_store(client, unit_admin, settings)
    store.set_expiry(600)
    store.save()
    key = redis_sessions.make_key(SessionStore.cache_key_prefix + cookie)

    assert client.get(reverse(LANDING)).status_code == 200
    assert 590 <= redis_sessions._cache.get_client(key).ttl(key) <= 600


@pytest.mark.real_worker
@pytest.mark.django_db
def test_on_redis_a_changed_session_is_written(client, unit_admin, settings, redis_sessions):
    cookie, store = _logged_in_store(client, unit_admin, settings)
    store["note"] = "kept"
    store.save()

    assert client.get(reverse(LANDING)).status_code == 200
    stored = SessionStore(cookie).load()
    assert stored["note"] == "kept" and "login_at" in stored
