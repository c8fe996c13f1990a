"""Sending SMS through a pluggable backend (settings.SMS_BACKEND).

The console backend logs the message (the demo and tests); a real gateway is a class with the same
`send(mobile, text)` method, named by its dotted path in SMS_BACKEND.
"""
import logging

from django.conf import settings
from django.utils.module_loading import import_string

from .pii import mask_mobile

logger = logging.getLogger(__name__)

# Messages sent by the console backend, newest last, so tests and the demo can read the code.
outbox: list[tuple[str, str]] = []


class ConsoleSmsBackend:
    def send(self, mobile: str, text: str) -> None:
        outbox.append((mobile, text))
        logger.info("SMS to %s: %s", mask_mobile(mobile), text)


def send_sms(*, mobile: str, text: str) -> None:
    import_string(settings.SMS_BACKEND)().send(mobile, text)
