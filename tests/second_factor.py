"""The second factor in tests (SPEC SEC-8): the one way tests log staff in.

Staff accounts made by `UserFactory` come with a confirmed authenticator device whose secret is
`STAFF_TOTP_KEY` (as if they had enrolled); `PortalClient` — the suite's `client` fixture — passes the
second factor with that device whenever it logs an account in, the way django-otp's login marks a
session after a right code; `totp_code` is the code the account's app shows (the browser tests type
it). The requirement itself stays on: a session logged in any other way gets no page.
"""
import time

from django.contrib.auth import SESSION_KEY, get_user_model
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

# RFC 6238's test secret ("12345678901234567890"), hex as django-otp stores it.
STAFF_TOTP_KEY = "3132333435363738393031323334353637383930"


def confirmed_device(user) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()


def totp_code(device: TOTPDevice) -> str:
    """The code `device`'s app shows now — or, if that one was used already (django-otp refuses a code
    twice), the next one, which it still accepts (tolerance 1); waits for the next window beyond that."""
    device.refresh_from_db()
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time()
    step = totp.t()
    if device.last_t >= step + device.tolerance:
        time.sleep(device.step - (time.time() - device.t0) % device.step + 0.1)
        totp.time = time.time()
        step = totp.t()
    totp.time = max(step, device.last_t + 1) * device.step + device.t0
    return f"{totp.token():0{device.digits}d}"


def pass_second_factor(client: Client, user) -> None:
    """Mark `client`'s session verified by `user`'s confirmed device, as django_otp.login does after a
    right code. Accounts without one (unit administrators who did not turn it on) need none."""
    device = confirmed_device(user)
    if device is None:
        return
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()


class PortalClient(Client):
    """Django's test client whose logins pass the second factor as the account's owner would."""

    def force_login(self, user, backend=None):
        super().force_login(user, backend)
        pass_second_factor(self, user)

    def login(self, **credentials):
        if not super().login(**credentials):
            return False
        pass_second_factor(self, get_user_model().objects.get(pk=self.session[SESSION_KEY]))
        return True
