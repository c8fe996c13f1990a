"""Roster services (SPEC ROS): the writes on a batch's people.

Every service here checks the batch's state itself (SPEC BAT-3, BAT-8: not just the buttons), takes
`acting_user`, and writes one audit event per operation with its counts (SPEC X-2). Imports live in
rosters/importer/ and use the same helpers.
"""
import unicodedata

from auditlog.models import LogEntry
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from enrollment.models import Batch
from enrollment.services import batch_locked
from enrollment.states import BatchAction
from mutualaid.audit import acting_as, audit_access
from mutualaid.pii import mask_mobile

from .models import IdType, RosterEntry, WorkStatus
from .errors import RosterError  # the app's one domain error (STYLE.md §2)
from .rules import ATTACHMENT_KINDS, over_age_entries, unmatched_entries
from .selectors import roster_entry_names


def held_by_message(*, unit_name: str, handler_name: str = "", handler_mobile: str = "") -> str:
    """SPEC ROS-11's words for a person held by another unit, with its handler's name and masked
    mobile, as the importer's row error and 清册提交's refusal both say it."""
    parts = [
        f"经办人：{handler_name}" if handler_name else "",
        f"联系电话：{mask_mobile(handler_mobile)}" if handler_mobile else "",
    ]
    contact = "，".join(part for part in parts if part)
    return f"身份信息被{unit_name}单位占用" + (f"（{contact}）" if contact else "")


# SPEC ROS-11 [departure]: what a row says when the holder is not named.
HELD_UNNAMED_MESSAGE = "该人员本年度已在其他单位参保，请核实"


def _name_key(name: str) -> str:
    return "".join(unicodedata.normalize("NFKC", name or "").split())


def held_names_match(*, given: str, enrolled: str) -> bool:
    """SPEC ROS-11 [departure]: whoever knows the person's ID and the name the holder enrolled is the
    person or their employer, so only then is the holder named. Compared after NFKC with all
    whitespace removed (full-width letters, a space between surname and given name)."""
    key = _name_key(given)
    return bool(key) and key == _name_key(enrolled)


def held_naming_audit(*, holder: Batch, acting_user, remote_addr: str | None, **details) -> None:
    """SPEC ROS-11, SEC-3: one ACCESS entry on the batch that was named (whom), with the acting user
    (who), the time of the entry (when), the IP and `details` (e.g. the import's id and its rows)."""
    audit_access(
        holder,
        actor=acting_user,
        ip=remote_addr,
        text=f"ROS-11：向其他单位显示了本批次单位（{holder.unit_name}）及经办人",
        named_unit=holder.unit_name,
        named_batch=holder.number,
        **details,
    )


def roster_lock_for_edit(*, batch: Batch) -> Batch:
    """Lock the batch row and check that its roster may change now (SPEC BAT-3, BAT-8). Call inside
    a transaction; returns the locked batch. Raises RosterError naming the state otherwise."""
    locked = batch_locked(batch, error=RosterError)
    if not locked.allows(BatchAction.EDIT_ROSTER):
        raise RosterError(f"批次当前状态为“{locked.get_state_display()}”，参保清册不能修改。")
    return locked


def roster_version_bump(*, batch: Batch) -> None:
    """People were added or removed: a stored validation result is now stale (SPEC VAL preamble)."""
    Batch.objects.filter(pk=batch.pk).update(roster_version=F("roster_version") + 1)


def roster_audit(*, batch: Batch, acting_user, action: str, **counts) -> None:
    """One audit event on `batch` for a roster operation (SPEC X-2): who (the actor), when, what
    (`action`, e.g. "导入参保人员") and its counts (e.g. added=12, updated=3)."""
    changes = {"参保清册": [action, ", ".join(f"{key}={value}" for key, value in counts.items())]}
    with acting_as(acting_user):
        LogEntry.objects.log_create(
            batch, force_log=True, action=LogEntry.Action.UPDATE, changes=changes, actor=acting_user
        )


def roster_entries_of(*, batch: Batch):
    """The batch's roster entries, in the order they were added."""
    from .models import RosterEntry

    return RosterEntry.objects.filter(batch=batch).order_by("pk")


def listed_for_removal(batch: Batch):
    """The people a 清册校验结果 asks the unit to remove, or keep only when ticked: 退休 (SPEC VAL-1) and
    在职超龄 (VAL-2, ages on the batch's reference date)."""
    return roster_entries_of(batch=batch).filter(
        Q(work_status=WorkStatus.RETIRED) | Q(pk__in=over_age_entries(batch).values("pk"))
    )


@transaction.atomic
def roster_entries_delete(*, batch: Batch, entry_ids: list[int], acting_user) -> int:
    """【删除】 / 【批量删除】 / 【移除】 (SPEC ROS-6, ROS-7, VAL-1, VAL-2): remove these entries of this batch
    (ids of other batches are ignored). Returns how many were removed. Raises RosterError if the state
    forbids it.

    SPEC VAL preamble, VAL-1, VAL-2, BAT-4 [reading]: removing people makes a validation result stale,
    except removing only people the result lists for removal (retired or over-age). Those removals are
    the unit acting on the result, as its ticks are: VAL-1 and VAL-2 tell it to remove them, and the
    handbook goes on from there to 【清册提交】, which re-runs every rule on the current roster (BAT-4)
    and so is the validation VAL-1 asks for. Any other removal, and every addition, bumps the version."""
    locked = roster_lock_for_edit(batch=batch)
    chosen = roster_entries_of(batch=locked).filter(pk__in=entry_ids)
    only_listed = not chosen.exclude(pk__in=listed_for_removal(locked).values("pk")).exists()
    deleted, _ = chosen.delete()
    if deleted:
        if not only_listed:
            roster_version_bump(batch=locked)
        roster_audit(batch=locked, acting_user=acting_user, action="删除参保人员", removed=deleted)
    return deleted


# --- Row actions of the roster page (SPEC ROS-5, ROS-7, ROS-8) ----------------------------------------

# What 【编辑】 may change (SPEC ROS-7): never the 证件类型 or the number. A 身份证 entry only its 手机号
# (ROS-7 [departure], for 参保查询 LOOK-1): its name, birth date and sex come from the number and the
# suggested roster.
EDITABLE_FIELDS = frozenset({"name", "birth_date", "sex", "mobile", "has_social_security"})
RESIDENT_EDITABLE_FIELDS = frozenset({"mobile"})
_FIELD_LABELS = {"name": "姓名", "birth_date": "出生日期", "sex": "性别", "mobile": "手机号", "has_social_security": "是否有社保"}
_COLUMNS = {"mobile": "mobile_cipher"}  # SPEC SEC-4: RosterEntry.mobile is stored as its cipher


@transaction.atomic
def roster_entry_update(*, entry, fields: dict, acting_user) -> RosterEntry:
    """【编辑】 of one entry (SPEC ROS-7), with values already validated by the form (the mobile in
    canonical form, SEC-1). A 非身份证 entry: 姓名, 出生日期, 性别, 手机号, 是否有社保. A 身份证 entry: its
    手机号 only (ROS-7 [departure]: 参保查询, LOOK-1, sends its code to that mobile). 是否有社保 = 是
    makes an unknown 职退状态 在职, as a template row does at import (SPEC ROS-8); a 退休 status from
    social security stays (ROS-12). The roster version is not bumped: nobody was added or removed.
    Raises RosterError for a field outside the entry's list, when the entry left the batch, or when
    the state forbids it."""
    unknown = set(fields) - EDITABLE_FIELDS
    if unknown:
        raise RosterError("证件类型和证件号码不能修改。")
    locked = roster_lock_for_edit(batch=entry.batch)
    current = roster_entries_of(batch=locked).filter(pk=entry.pk).first()
    if current is None:
        raise RosterError("该人员已不在本批次的参保清册中。")
    if current.id_type != IdType.OTHER and set(fields) - RESIDENT_EDITABLE_FIELDS:
        raise RosterError("身份证人员只能修改手机号；姓名、出生日期和性别以证件号码和社保数据为准。")
    changed = [key for key, value in fields.items() if getattr(current, key) != value]
    for key in changed:
        setattr(current, key, fields[key])
    if current.has_social_security and current.work_status == WorkStatus.UNKNOWN and "has_social_security" in fields:
        current.work_status = WorkStatus.ACTIVE
        changed.append("work_status")
    if changed:
        current.save(update_fields=[*(_COLUMNS.get(key, key) for key in changed), "updated_at"])
        roster_audit(
            batch=locked,
            acting_user=acting_user,
            action="编辑参保人员",
            edited=1,
            fields="、".join(_FIELD_LABELS.get(key, "职退状态") for key in changed),
        )
    return current


@transaction.atomic
def roster_entries_set_active(*, batch: Batch, entry_ids: list[int], acting_user) -> int:
    """【设置在职】 / 【批量设置为在职】 (SPEC ROS-8): these entries of this batch become 在职 with 社保 (ids
    of other batches are ignored). People already 在职 with 社保 are left as they are, and so are
    retired people: 退休 comes from social security and cannot be enrolled (ROS-12; they are removed).
    Returns how many changed. The roster version is not bumped (nobody added or removed).
    Raises RosterError if the state forbids it."""
    locked = roster_lock_for_edit(batch=batch)
    changed = (
        roster_entries_of(batch=locked)
        .filter(pk__in=entry_ids)
        .exclude(work_status=WorkStatus.RETIRED)
        .exclude(work_status=WorkStatus.ACTIVE, has_social_security=True)
        .update(work_status=WorkStatus.ACTIVE, has_social_security=True, updated_at=timezone.now())
    )
    if changed:
        roster_audit(batch=locked, acting_user=acting_user, action="设置在职", updated=changed)
    return changed


@transaction.atomic
def roster_names_confirm(*, batch: Batch, choices: dict[int, str], acting_user) -> int:
    """【确认】 of 姓名匹配异常 (SPEC ROS-5): each entry id of `choices` takes the chosen name and its
    mismatch is closed. A chosen name must be one of that entry's names (上年度建议清册姓名, 会员库姓名,
    本地导入姓名 or its current one); ids of other batches or without an open mismatch are ignored.
    Returns how many were confirmed. Raises RosterError (nothing is saved) or if the state forbids it."""
    locked = roster_lock_for_edit(batch=batch)
    entries = list(roster_entries_of(batch=locked).filter(pk__in=list(choices), name_mismatch=True))
    for entry in entries:
        chosen = (choices[entry.pk] or "").strip()
        if chosen not in roster_entry_names(entry):
            raise RosterError("所选姓名不在该人员的候选姓名中，请刷新页面后重新选择。")
        entry.name = chosen
        entry.name_mismatch = False
        entry.updated_at = timezone.now()
    if entries:
        RosterEntry.objects.bulk_update(entries, ["name", "name_mismatch", "updated_at"])
        roster_audit(batch=locked, acting_user=acting_user, action="姓名匹配确认", confirmed=len(entries))
    return len(entries)


# --- Ticks and confirmations of the 清册校验结果 page (SPEC VAL-2, VAL-5) --------------------------------
# Stored with the entries; they never bump roster_version, so they do not make a validation result
# stale (SPEC VAL preamble). Allowed in the states whose roster may be edited: 清册待校验, 清册校验不通过
# and 职保会审核不通过 (SPEC BAT-3).


@transaction.atomic
def roster_still_contributing_set(*, batch: Batch, entry_ids: list[int], value: bool, acting_user) -> int:
    """【社保尚在缴金】 (SPEC VAL-2; help text 即医保享受在职待遇): tick (value=True) or untick these entries.
    Only over-age people with 社保 can be ticked (an over-age person without 社保 must be removed); ids
    of other batches, of people under the age limit or without 社保 are ignored. Returns how many
    changed. The roster version is not bumped. Raises RosterError if the state forbids it."""
    locked = roster_lock_for_edit(batch=batch)
    changed = (
        over_age_entries(locked)
        .filter(pk__in=entry_ids, has_social_security=True)
        .exclude(still_contributing=value)
        .update(still_contributing=value, updated_at=timezone.now())
    )
    if changed:
        roster_audit(
            batch=locked,
            acting_user=acting_user,
            action="社保尚在缴金" if value else "取消社保尚在缴金",
            updated=changed,
        )
    return changed


@transaction.atomic
def roster_unmatched_confirm(*, batch: Batch, acting_user) -> int:
    """【人员确认】 after 人员确认承诺书 and 【我已阅读并同意】 (SPEC VAL-5): every person of the batch the
    suggested roster did not match is confirmed as the unit's employee. Returns how many were newly
    confirmed (0 when all already were). The roster version is not bumped. Raises RosterError if the
    state forbids it."""
    locked = roster_lock_for_edit(batch=batch)
    # The rule's own queryset: the page, the rule and this confirmation count the same people.
    confirmed = (
        unmatched_entries(locked)
        .filter(unmatched_confirmed=False)
        .update(unmatched_confirmed=True, updated_at=timezone.now())
    )
    if confirmed:
        roster_audit(batch=locked, acting_user=acting_user, action="无单位社保编码人员确认", confirmed=confirmed)
    return confirmed


# --- 【上传附件】 of the 清册校验结果 page (SPEC VAL-6) -----------------------------------------------------------
# The batch owns its attachments (mutualaid.attachments, owner=batch); they may change while the roster
# may (清册待校验, 清册校验不通过, 职保会审核不通过: "edit roster and attachments", SPEC BAT-3). Each upload and
# removal is audited by the audit trail (the Attachment model is tracked), in the same transaction.


def _attachment_kind_values() -> list[str]:
    return [kind.value for kind in ATTACHMENT_KINDS]


def batch_attachment_add(*, batch: Batch, upload, kind: str, acting_user):
    """Store `upload` (checked by its content: JPG/PNG/PDF, size, count) as an attachment of `batch`
    with its 附件类型 `kind`, one of rosters.rules.ATTACHMENT_KINDS. Raises RosterError for an unknown
    type or a state that forbids it, mutualaid.attachments.AttachmentError for a refused file."""
    from mutualaid.attachments import attachment_store

    if kind not in _attachment_kind_values():
        raise RosterError("请选择附件类型。")
    with transaction.atomic():
        locked = roster_lock_for_edit(batch=batch)
        with acting_as(acting_user):
            return attachment_store(upload=upload, uploaded_by=acting_user, owner=locked, kind=kind)


@transaction.atomic
def batch_attachment_remove(*, batch: Batch, attachment_id: int, acting_user) -> bool:
    """【X】: delete one attachment of `batch` (its file once the transaction commits). Returns False
    when it is already gone (a second click). Raises RosterError if the state forbids it."""
    from mutualaid.attachments import attachment_delete, attachments_of

    locked = roster_lock_for_edit(batch=batch)
    attachment = attachments_of(locked).filter(pk=attachment_id).first()
    if attachment is None:
        return False
    with acting_as(acting_user):
        attachment_delete(attachment=attachment)
    return True
