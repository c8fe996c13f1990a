"""The SMS verification service (registration, CODE-2, HND-1): 6 digits, 5 minutes, one send per
60 s and five per hour per number, stored hashed, accepted once."""
import datetime as dt
import re

import pytest
import time_machine
from django.test import override_settings
from django.utils import timezone

from mutualaid import sms
from mutualaid.models import SmsCode
from mutualaid.sms import SmsError, sms_code_send, sms_code_verify

pytestmark = pytest.mark.django_db
MOBILE = "13912345678"


@pytest.fixture(autouse=True)
def empty_outbox():
    sms.outbox.clear()
    yield
    sms.outbox.clear()


def send(django_capture_on_commit_callbacks, mobile=MOBILE, purpose="register"):
    with django_capture_on_commit_callbacks(execute=True):
        sms_code_send(mobile=mobile, purpose=purpose)
    return re.search(r"验证码为(\d{6})", sms.outbox[-1][1]).group(1)


def test_a_six_digit_code_is_sent_and_only_its_hash_is_kept(django_capture_on_commit_callbacks):
    code = send(django_capture_on_commit_callbacks)
    assert sms.outbox[-1][0] == MOBILE
    stored = SmsCode.objects.get()
    assert code not in stored.code_hash and len(stored.code_hash) == 64
    assert stored.expires_at - stored.created_at == dt.timedelta(minutes=5)


def test_nothing_is_sent_if_the_transaction_rolls_back(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        sms_code_send(mobile=MOBILE, purpose="register")
    assert len(callbacks) == 1 and sms.outbox == []


def test_the_code_is_accepted_once(django_capture_on_commit_callbacks):
    code = send(django_capture_on_commit_callbacks)
    sms_code_verify(mobile=MOBILE, purpose="register", code=code)
    with pytest.raises(SmsError, match="请先获取短信验证码"):
        sms_code_verify(mobile=MOBILE, purpose="register", code=code)


def test_a_code_is_bound_to_its_number_and_purpose(django_capture_on_commit_callbacks):
    code = send(django_capture_on_commit_callbacks)
    with pytest.raises(SmsError):
        sms_code_verify(mobile="13900000000", purpose="register", code=code)
    with pytest.raises(SmsError):
        sms_code_verify(mobile=MOBILE, purpose="handler", code=code)
    sms_code_verify(mobile=MOBILE, purpose="register", code=code)


def test_a_wrong_code_is_refused_and_five_wrong_tries_spend_it(django_capture_on_commit_callbacks):
    code = send(django_capture_on_commit_callbacks)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(5):
        with pytest.raises(SmsError, match="验证码错误"):
            sms_code_verify(mobile=MOBILE, purpose="register", code=wrong)
    with pytest.raises(SmsError, match="错误次数过多"):
        sms_code_verify(mobile=MOBILE, purpose="register", code=code)


def test_the_code_expires_after_five_minutes(django_capture_on_commit_callbacks):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        code = send(django_capture_on_commit_callbacks)
    with time_machine.travel(start + dt.timedelta(minutes=5, seconds=1), tick=False):
        with pytest.raises(SmsError, match="已过期"):
            sms_code_verify(mobile=MOBILE, purpose="register", code=code)


def test_one_send_per_sixty_seconds(django_capture_on_commit_callbacks):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        send(django_capture_on_commit_callbacks)
    with time_machine.travel(start + dt.timedelta(seconds=45), tick=False):
        with pytest.raises(SmsError, match="请16秒后再试") as refused:
            sms_code_send(mobile=MOBILE, purpose="register")
        assert refused.value.retry_after == 16
    with time_machine.travel(start + dt.timedelta(seconds=61), tick=False):
        send(django_capture_on_commit_callbacks)


def test_at_most_five_sends_an_hour_per_number(django_capture_on_commit_callbacks):
    start = timezone.now()
    for index in range(5):
        with time_machine.travel(start + dt.timedelta(minutes=index * 2), tick=False):
            send(django_capture_on_commit_callbacks)
    with time_machine.travel(start + dt.timedelta(minutes=20), tick=False):
        with pytest.raises(SmsError, match="1小时内获取验证码次数已达上限"):
            sms_code_send(mobile=MOBILE, purpose="register")
        send(django_capture_on_commit_callbacks, mobile="13800000000")  # another number is not held up
    with time_machine.travel(start + dt.timedelta(minutes=61), tick=False):
        send(django_capture_on_commit_callbacks)


def test_the_latest_code_counts(django_capture_on_commit_callbacks):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        first = send(django_capture_on_commit_callbacks)
    with time_machine.travel(start + dt.timedelta(seconds=61), tick=False):
        second = send(django_capture_on_commit_callbacks)
        if first != second:
            with pytest.raises(SmsError):
                sms_code_verify(mobile=MOBILE, purpose="register", code=first)
        sms_code_verify(mobile=MOBILE, purpose="register", code=second)


class RecordingGateway:
    sent: list = []

    def send(self, mobile, text):
        RecordingGateway.sent.append((mobile, text))


@override_settings(SMS_BACKEND="tests.mutualaid.test_sms.RecordingGateway")
def test_a_real_gateway_is_a_class_named_in_the_settings(django_capture_on_commit_callbacks):
    RecordingGateway.sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        sms_code_send(mobile=MOBILE, purpose="register")
    assert RecordingGateway.sent and RecordingGateway.sent[0][0] == MOBILE
    assert sms.outbox == []


def test_the_console_log_masks_the_number(caplog, django_capture_on_commit_callbacks):
    with caplog.at_level("INFO", logger="mutualaid.sms"):
        send(django_capture_on_commit_callbacks)
    assert "139****5678" in caplog.text and MOBILE not in caplog.text


# --- SPEC SEC-3: per IP address and an overall hourly budget ------------------------------------------

HALF_PAST = timezone.make_aware(dt.datetime(2026, 3, 2, 10, 30))


@override_settings(SMS_PER_IP_PER_HOUR=3)
def test_at_most_sms_per_ip_per_hour_from_one_address(django_capture_on_commit_callbacks):
    """SPEC SEC-3: different numbers from one IP address count together; another address is not held up."""
    with time_machine.travel(HALF_PAST, tick=False):
        for index in range(3):
            with django_capture_on_commit_callbacks(execute=True):
                sms_code_send(mobile=f"1390000000{index}", purpose="register", ip="203.0.113.7")
        with pytest.raises(SmsError, match="本网络1小时内获取验证码次数已达上限") as refused:
            sms_code_send(mobile="13900000009", purpose="register", ip="203.0.113.7")
        assert refused.value.retry_after == 30 * 60 + 1  # the next clock hour
        with django_capture_on_commit_callbacks(execute=True):
            sms_code_send(mobile="13900000009", purpose="register", ip="198.51.100.1")
    assert len(sms.outbox) == 4
    with time_machine.travel(HALF_PAST + dt.timedelta(hours=1), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            sms_code_send(mobile="13900000008", purpose="register", ip="203.0.113.7")
    assert len(sms.outbox) == 5


@override_settings(SMS_BUDGET_PER_HOUR=2)
def test_the_hourly_budget_stops_sending_and_raises_an_alarm_once(django_capture_on_commit_callbacks, caplog):
    """SPEC SEC-3: past SMS_BUDGET_PER_HOUR nothing is sent, whoever asks, and the alarm is logged (once)."""
    with time_machine.travel(HALF_PAST, tick=False):
        for index in range(2):
            with django_capture_on_commit_callbacks(execute=True):
                sms_code_send(mobile=f"1390000000{index}", purpose="register", ip=f"203.0.113.{index}")
        with caplog.at_level("CRITICAL", logger="mutualaid.sms"):
            for index in range(2):
                with pytest.raises(SmsError, match="短信发送繁忙，请稍后再试。"):
                    sms_code_send(mobile=f"1390000001{index}", purpose="register", ip=f"198.51.100.{index}")
    assert len(sms.outbox) == 2
    alarms = [record for record in caplog.records if record.levelname == "CRITICAL"]
    assert len(alarms) == 1 and "SMS ALARM: hourly SMS budget exhausted" in alarms[0].getMessage()
    with time_machine.travel(HALF_PAST + dt.timedelta(hours=1), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            sms_code_send(mobile="13900000020", purpose="register")
    assert len(sms.outbox) == 3
