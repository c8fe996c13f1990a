"""Shared helpers of the 清册提交 and 清册审核 tests (SPEC BAT-4, VAL, VAL-7): a batch whose roster passes
every rule, an attachment of a VAL-6 kind, and a batch submitted for review (职保会待审核)."""
import datetime as dt
import io

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from enrollment.models import Batch
from enrollment.states import BatchKind, BatchState
from mutualaid.attachments import attachment_store
from rosters.models import SsUnit, WorkStatus
from rosters.rules import KIND_SITUATION, KIND_SS_FORM
from rosters.submission import batch_submit
from tests.factories import SHANGHAI, UserFactory, make_batch, make_entry
from tests.rosters.importfiles import previous

SS_CODE = "00108537"
IN_CENTRALISED_WINDOW = dt.datetime(2023, 6, 15, 10, 0, tzinfo=SHANGHAI)


def png_upload(name="社会保险费缴费申报表.png", colour="#fdfaf0") -> SimpleUploadedFile:
    """A scanned-form sized PNG."""
    buffer = io.BytesIO()
    Image.new("RGB", (320, 220), colour).save(buffer, "PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


def attach(batch, kind=KIND_SS_FORM.value, name="社会保险费缴费申报表.png"):
    """An attachment of `batch` of a VAL-6 kind, uploaded by its account."""
    return attachment_store(upload=png_upload(name), uploaded_by=batch.account, owner=batch, kind=kind)


def ready_batch(
    year, *, people=3, continuing=True, kind=BatchKind.CENTRALISED, state=BatchState.INVALID, account=None,
    unit_name="上海长风示范科技有限公司", paying_headcount=None,
) -> Batch:
    """A batch whose roster passes every rule (SPEC VAL): `people` in-service people with 社保, all
    matched to one SS unit code. `continuing`: the code enrolled as many people last year (VAL-3 within
    its band, no attachment); otherwise a new unit (VAL-6: an attachment is required, then review).
    The SS code's paying headcount equals the people unless given (VAL-4 at 100 %)."""
    batch = make_batch(year=year, kind=kind, state=state, account=account, unit_name=unit_name)
    if not SsUnit.objects.filter(year=year.year, code=SS_CODE).exists():
        SsUnit.objects.create(year=year.year, code=SS_CODE, unit_name="上海长风示范科技有限公司", paying_headcount=paying_headcount or people)
    for index in range(people):
        entry = make_entry(
            batch, name=f"职工{index}", work_status=WorkStatus.ACTIVE, has_social_security=True, is_suggested=True,
            ss_unit_code=SS_CODE,
        )
        if continuing:
            previous(year.year - 1, batch.code.code, entry.id_number, entry.name)
    if state == BatchState.DRAFT:  # 清册待校验 offers 清册提交 only after a validation of this roster (BAT-4)
        Batch.objects.filter(pk=batch.pk).update(validated_version=batch.roster_version)
        batch.refresh_from_db()
    return batch


def submitted_for_review(year, *, at=IN_CENTRALISED_WINDOW, unit_name="上海长风示范科技有限公司", account=None):
    """A continuing unit outside both bands (VAL-3 −85 %, VAL-4 30 %) that uploaded its 情况说明 and
    submitted: 职保会待审核, with the validation result stored at submission."""
    batch = ready_batch(year, people=3, paying_headcount=10, unit_name=unit_name, account=account or UserFactory())
    for sequence in range(17):
        previous(year.year - 1, batch.code.code, f"31010119800101{sequence:03d}X", f"去年{sequence}")
    attach(batch, kind=KIND_SITUATION.value, name="情况说明.png")
    batch_submit(batch=batch, acting_user=batch.account, agreed=True, at=at)
    assert batch.state == BatchState.IN_REVIEW
    return batch
