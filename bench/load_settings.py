"""Settings of the portal under bench/load.py: production's (DEBUG off, real secrets, the manifest's
static files, Redis, Celery on its queues), less what only TLS gives. The benchmark talks plain HTTP on
loopback, where the browser's Secure cookies would never be sent back; in production nginx terminates
TLS in front of gunicorn (README, Deployment) and these stay on."""
from mutualaid.settings import *  # noqa: F401,F403

SECURE_SSL_REDIRECT = False
SECURE_HSTS_SECONDS = 0
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
SECURE_PROXY_SSL_HEADER = None


class NullSmsBackend:
    """The load sends no SMS; production's check only refuses the console back end."""

    def send(self, mobile: str, text: str) -> None:
        pass
