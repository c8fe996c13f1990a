"""Roster data for the validation rules, written straight to the tables in bulk (SPEC VAL-1…VAL-6): people,
last year's enrolment, SS unit codes and attachment rows. The rules read hashes, never the IDs."""
import datetime as dt
import itertools

from django.contrib.contenttypes.models import ContentType

from enrollment.models import Batch
from mutualaid.models import Attachment
from rosters.models import PreviousEnrolment, RosterEntry, Sex, SsUnit, WorkStatus

_hashes = itertools.count(1)


def add_people(batch, count, *, birth_date=dt.date(1985, 3, 14), sex=Sex.MALE, ss_unit_code="00108537", **fields):
    """`count` people in `batch`'s roster, written in one statement (IDs are opaque to the rules)."""
    fields.setdefault("work_status", WorkStatus.ACTIVE)
    fields.setdefault("has_social_security", True)
    fields.setdefault("is_suggested", bool(ss_unit_code))
    entries = [
        RosterEntry(
            batch=batch, id_type="身份证", id_hash=f"h{next(_hashes):063d}", id_cipher="-", name="张三",
            birth_date=birth_date, sex=sex, ss_unit_code=ss_unit_code, **fields,
        )
        for _ in range(count)
    ]
    return RosterEntry.objects.bulk_create(entries)


def enrolled_last_year(batch, count):
    """The code enrolled `count` people in the previous coverage year (SPEC VAL-3, REF-4)."""
    PreviousEnrolment.objects.bulk_create(
        PreviousEnrolment(year=batch.coverage_year.year - 1, code=batch.code.code, id_hash=f"p{next(_hashes):063d}", id_cipher="-", name="李四")
        for _ in range(count)
    )


def ss_unit(batch, code, paying_headcount, unit_name="上海卓远人力资源发展有限公司"):
    """An SS unit code of `batch`'s year with its paying headcount (SPEC VAL-4, REF-2)."""
    return SsUnit.objects.create(year=batch.coverage_year.year, code=code, unit_name=unit_name, paying_headcount=paying_headcount)


def attach(batch, kind):
    """An attachment row of `batch` of a VAL-6 kind, without a file (the rules only ask whether it exists)."""
    return Attachment.objects.create(
        owner_type=ContentType.objects.get_for_model(Batch), owner_id=batch.pk, kind=kind, file="private/x.pdf",
        original_name="情况说明.pdf", content_type="application/pdf", size=1, sha256="0" * 64, uploaded_by=batch.account,
    )
