"""What `manage.py rotate_pii_key` and `manage.py rotate_hash_key` rotate (SPEC SEC-10): every cipher
and every hash the portal stores, by app. It lives in payments, the highest app that holds any
(receipts and the back office hold none), so it may import every app it names (ARCHITECTURE.md);
the steps themselves are mutualaid.key_rotation and rosters.key_rotation.

Ciphers (PII key): ID numbers of roster entries and of the three reference tables, roster and
handler mobiles (also inside 参保信息变更申请's values), refund bank accounts, sealed files under
MEDIA_ROOT. Hashes (hash key): the three reference tables (where the hash is part of the
partitioned key), roster entries with the enrolment registry.

Not rotated, on purpose: the audit trail (SPEC SEC-9, SEC-10: its rows keep the key they were
written with, so old keys stay configured for reading them), SMS codes (they expire within minutes
and are checked with the key their hash names), the session's temporary password (shown once)."""
from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.db import transaction

from enrollment.models import ChangeRequest, HandlerInfo
from mutualaid.key_rotation import StepResult, reseal_files, rotate_cipher_columns, rotate_hash_column, vacuum_analyse
from mutualaid.pii import cipher_prefix, pii_key_id, pii_reencrypt
from payments.models import Voucher
from rosters.key_rotation import roster_batches_rehash
from rosters.models import PreviousEnrolment, RosterEntry, SuggestedPerson, UnionMember

# (model, its primary key's columns in the database's order). The suggested roster's key is
# (id_hash, year) on PostgreSQL (rosters migration 0005), (year, id_hash) in the model: either
# order is a valid keyset, the database's one reads the key's index in order.
REFERENCE_TABLES = (
    (SuggestedPerson, ("id_hash", "year")),
    (UnionMember, ("year", "unit_key", "id_hash")),
    (PreviousEnrolment, ("year", "code", "id_hash")),
)
SEALED_FOLDERS = ("private", "roster_imports")  # as manage.py seal_media

Report = Callable[[str, int, int], None]


def _step_progress(report: Report | None, name: str):
    return (lambda done, total: report(name, done, total)) if report else None


def _change_requests_reencrypt() -> StepResult:
    """The handler mobile inside 参保信息变更申请's 原信息 / 新修改信息 (a few rows a day)."""
    result = StepResult("enrollment_changerequest.values")
    prefix = cipher_prefix(pii_key_id())
    for pk in ChangeRequest.objects.order_by("pk").values_list("pk", flat=True).iterator():
        with transaction.atomic():
            request = ChangeRequest.objects.select_for_update().filter(pk=pk).first()
            if request is None:
                continue
            changed = False
            for values in (request.original_values, request.new_values):
                for item in ChangeRequest.ENCRYPTED_ITEMS:
                    value = values.get(item)
                    if value and not value.startswith(prefix):
                        values[item] = pii_reencrypt(value)
                        changed = True
            if changed:
                ChangeRequest.objects.filter(pk=pk).update(original_values=request.original_values, new_values=request.new_values)
                result.rewritten += 1
    return result


def pii_key_rotate(*, batch_size: int, report: Report | None = None, after_batch=None, files: bool = True) -> list[StepResult]:
    """Re-encrypt every cipher with the current PII key (SPEC SEC-10); resumable (see mutualaid.key_rotation)."""
    steps = []
    for model, keys in REFERENCE_TABLES:
        name = model._meta.verbose_name
        steps.append(rotate_cipher_columns(
            model, keys=keys, columns=("id_cipher",), batch_size=batch_size, progress=_step_progress(report, name), after_batch=after_batch
        ))
        if steps[-1].rewritten:
            vacuum_analyse(model)  # every row has a new version: the look-up's index-only scan needs the visibility map again
    for model, columns, name in (
        (RosterEntry, ("id_cipher", "mobile_cipher"), "参保人员"),
        (HandlerInfo, ("handler_mobile_cipher",), "经办人信息"),
        (Voucher, ("refund_account_cipher",), "退款帐号"),
    ):
        steps.append(rotate_cipher_columns(
            model, keys=(model._meta.pk.name,), columns=columns, batch_size=batch_size, progress=_step_progress(report, name), after_batch=after_batch
        ))
    steps.append(_change_requests_reencrypt())
    if files:
        steps.append(reseal_files(settings.MEDIA_ROOT, SEALED_FOLDERS, progress=_step_progress(report, "密封文件"), after_batch=after_batch))
    return steps


def hash_key_rotate(*, batch_size: int, report: Report | None = None, after_batch=None) -> list[StepResult]:
    """Re-hash every hash with the current hash key (SPEC SEC-10); resumable."""
    steps = []
    for model, keys in REFERENCE_TABLES:
        name = model._meta.verbose_name
        steps.append(rotate_hash_column(
            model, keys=keys, batch_size=batch_size, progress=_step_progress(report, name), after_batch=after_batch
        ))
        if steps[-1].rewritten:
            vacuum_analyse(model)
    steps.append(roster_batches_rehash(progress=_step_progress(report, "参保人员与年度参保登记"), after_batch=after_batch, batch_rows=batch_size))
    return steps


def steps_written(command, steps: list[StepResult], *, verb: str) -> int:
    """Each step's count and time on the command's stdout, its problems on stderr; the problems' number."""
    problems = 0
    for step in steps:
        command.stdout.write(f"{step.name}：{verb} {step.rewritten}，用时 {step.seconds:.1f} 秒")
        for problem in step.problems:
            problems += 1
            command.stderr.write(f"  {problem}")
    return problems
