"""参保查询 (SPEC LOOK-1, LOOK-2): the look-up's steps. Views stay thin; everything decided here.

Step 1 (`lookup_start`) does the same work whatever it finds, by construction: one read of the current
coverage year, one of the registry by (year, id_hash), one of the roster entry by the batch's unique
(batch, id_hash, id_type) — with batch 0 when the registry held nobody, so the query runs all the same —
one LookupRequest and one LookupAudit written, and one Celery task queued after commit. Only the task
decides to send an SMS (when the request holds an entry) or to send nothing. Step 2 (`lookup_verify`)
counts tries and expiry on the LookupRequest for both paths alike (LOOK-2 [interpretation]).
"""
import datetime as dt
import logging

from django.db import transaction
from django.utils import timezone

from enrollment.selectors import coverage_year_current
from enrollment.states import HOLDING_STATES
from mutualaid.pii import pii_hashes
from mutualaid.sms import CODE_VALID_FOR, MAX_WRONG_TRIES, SmsError, sms_code_send, sms_code_verify
from rosters.models import EnrolmentRegistry, RosterEntry
from rosters.services import held_names_match

from .models import CoverageProof, LookupAudit, LookupRequest

logger = logging.getLogger(__name__)

SMS_PURPOSE = "lookup"
# SPEC LOOK-2: the one answer after step 1, whatever the look-up found.
NEUTRAL_MESSAGE = "如已参保且单位登记了您的手机号，您将收到短信验证码；未收到请联系单位经办人"
# How long a verified look-up may show its result and draw its PDF.
RESULT_VALID_FOR = dt.timedelta(minutes=30)

WRONG_CODE_MESSAGE = "验证码错误，请核对后重新输入。"
EXPIRED_MESSAGE = "验证码已过期，请重新查询。"
TOO_MANY_MESSAGE = "验证码错误次数过多，请重新查询。"
GONE_MESSAGE = "查询已失效，请重新查询。"


def _ip_or_none(ip: str) -> str | None:
    return ip or None


def lookup_audit(*, id_hash: str, ip: str, outcome: str) -> LookupAudit:
    """SPEC LOOK-2, SEC-3: one append-only row: the ID's keyed hash (never the number), IP, outcome."""
    return LookupAudit.objects.create(id_hash=id_hash, ip=_ip_or_none(ip), outcome=outcome)


@transaction.atomic
def lookup_start(*, name: str, id_type: str, id_number: str, ip: str) -> LookupRequest:
    """Step 1 of 参保查询 (SPEC LOOK-1, LOOK-2). `id_number` must be canonical (SEC-1: the form's
    canonical_id_number). Finds the person held in the registry of the current or the previous coverage
    year by a batch in a holding state (submitted, not withdrawn or cancelled: ROS-11), their roster
    entry, and checks the name the unit enrolled and the mobile on file. Always returns a new
    LookupRequest (its `entry` set only when a code is to be sent) and queues the SMS task; the caller
    shows NEUTRAL_MESSAGE whatever happened. Never raises for a person not found."""
    now = timezone.now()
    hashes = pii_hashes(id_number)  # SPEC SEC-10: every active key's hash while a rotation runs
    year = coverage_year_current(at=now)
    years = [year.year, year.year - 1] if year else [0]
    batch_id = (
        EnrolmentRegistry.objects.filter(year__in=years, id_hash__in=hashes, batch__state__in=HOLDING_STATES)
        .order_by("-year")
        .values_list("batch_id", flat=True)
        .first()
    )
    entry = (
        RosterEntry.objects.filter(batch_id=batch_id or 0, id_hash__in=hashes, id_type=id_type)
        .only("pk", "name", "mobile_cipher")
        .first()
    )
    if entry is None:
        outcome = LookupAudit.Outcome.NOT_ENROLLED
    elif not held_names_match(given=name, enrolled=entry.name):
        outcome = LookupAudit.Outcome.NAME_MISMATCH
    elif not entry.mobile:
        outcome = LookupAudit.Outcome.NO_MOBILE
    else:
        outcome = LookupAudit.Outcome.CODE_QUEUED
    request = LookupRequest.objects.create(
        id_hash=hashes[0],
        entry=entry if outcome == LookupAudit.Outcome.CODE_QUEUED else None,
        ip=_ip_or_none(ip),
        created_at=now,
        expires_at=now + CODE_VALID_FOR,
    )
    lookup_audit(id_hash=hashes[0], ip=ip, outcome=outcome)
    from .tasks import send_lookup_code

    # Queued on both paths (LOOK-2): the task itself sends nothing for a request without an entry.
    transaction.on_commit(lambda: send_lookup_code.delay(request.pk))
    return request


def lookup_code_send(*, request_id: int) -> bool:
    """The task's work: send the SMS code of a look-up that found its person (SPEC LOOK-1); nothing
    for any other. Safe to run twice (sms_code_send refuses a second code within 60 s). The SMS
    limits of the mobile and the SMS budget (SEC-3) only stop the code, silently, so they say nothing
    to the page either (LOOK-2). Returns whether a code was sent."""
    request = LookupRequest.objects.select_related("entry").filter(pk=request_id).first()
    if request is None or request.entry is None or request.verified_at or request.expires_at <= timezone.now():
        return False
    mobile = request.entry.mobile
    if not mobile:
        return False
    try:
        sms_code_send(mobile=mobile, purpose=SMS_PURPOSE, ip=request.ip or "")
    except SmsError as error:
        logger.info("参保查询 %s: no code sent (%s)", request.pk, error.message)
        return False
    return True


def lookup_verify(*, token: str, code: str, ip: str) -> str | None:
    """Step 2 (SPEC LOOK-1): None when `code` is the one sent for the look-up `token`, else why not,
    in Chinese. Expiry (5 minutes) and tries (5) are counted on the LookupRequest for both paths, so a
    look-up that sent nothing answers exactly like one whose code was mistyped (LOOK-2). A wrong try is
    committed before the answer."""
    with transaction.atomic():
        request = LookupRequest.objects.select_for_update().filter(token=token).first()
        if request is None:
            return GONE_MESSAGE
        if request.verified_at:
            return None
        now = timezone.now()
        if request.expires_at <= now:
            return EXPIRED_MESSAGE
        if request.failed_attempts >= MAX_WRONG_TRIES:
            return TOO_MANY_MESSAGE
        entry = RosterEntry.objects.filter(pk=request.entry_id).only("pk", "mobile_cipher").first()
        right = False
        if entry is not None and entry.mobile:
            try:
                sms_code_verify(mobile=entry.mobile, purpose=SMS_PURPOSE, code=code)
                right = True
            except SmsError:
                right = False
        if right:
            request.verified_at = now
            request.save(update_fields=["verified_at"])
            lookup_audit(id_hash=request.id_hash, ip=ip, outcome=LookupAudit.Outcome.VERIFIED)
            return None
        request.failed_attempts += 1
        request.save(update_fields=["failed_attempts"])
        lookup_audit(id_hash=request.id_hash, ip=ip, outcome=LookupAudit.Outcome.WRONG_CODE)
        left = MAX_WRONG_TRIES - request.failed_attempts
        return f"{WRONG_CODE_MESSAGE}（还可尝试{left}次）" if left else TOO_MANY_MESSAGE


def lookup_verified(*, token: str | None) -> LookupRequest | None:
    """The verified look-up `token` whose result may still be shown (RESULT_VALID_FOR), or None."""
    if not token:
        return None
    request = LookupRequest.objects.filter(token=token, verified_at__isnull=False, entry__isnull=False).first()
    if request is None or request.verified_at + RESULT_VALID_FOR <= timezone.now():
        return None
    return request


def coverage_proof_create(*, request: LookupRequest, batch_id: int, ip: str) -> CoverageProof:
    """The 参保证明's verification token (SPEC LOOK-2), one per person and batch: every later download
    (of this look-up or another) reuses it, so one person has one verification page. Audited."""
    # first() rather than get_or_create: two downloads at once may each create one (no unique constraint
    # is needed for that: both tokens verify the same record), and neither may then fail.
    proof = CoverageProof.objects.filter(batch_id=batch_id, entry_id=request.entry_id).order_by("pk").first()
    if proof is None:
        proof = CoverageProof.objects.create(batch_id=batch_id, entry_id=request.entry_id)
    lookup_audit(id_hash=request.id_hash, ip=ip, outcome=LookupAudit.Outcome.PROOF)
    return proof
