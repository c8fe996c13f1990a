"""SPEC SEC-1 for stored data: `manage.py check_identifiers`.

A stored ID number that is not canonical (e.g. with a digit of another script such as "٠") has a
hash of its own: the same person would have two hashes, and the registry's UNIQUE (year, id_hash)
could not see that two units enrolled one person.

`identifiers_check` decrypts every stored ID cipher in chunks (roster entries and the three kinds of
reference data holding IDs) and reports each value that is not canonical or whose hash is not the
hash of its value. The registry holds only hashes: it is checked through the roster entries of its
batches (a registry row follows the entry of its batch with the same hash). Roster mobiles (a
cipher without a hash, SPEC SEC-4) are decrypted and checked too.

With `fix=True` a finding is re-canonicalised where that is safe: the canonical form is plain (full-
width, lower-case x, spaces), or the only non-ASCII characters are decimal digits of another script,
which the old validator had read as their value with int(). The cipher and hash of the row (and, for
a roster entry, its registry row) are rewritten, one person per transaction. A repair that would
make two rows one person (the batch or the year already holds the canonical number, the reference
table already has it) is not made but reported as a conflict, for a person to decide. Each fixed
row is counted in one audit event (SPEC X-2).
"""
from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field

from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef

from mutualaid.identifiers import canonical_id_number, canonical_mobile
from mutualaid.pii import PiiError, hash_key_id_of, pii_decrypt, pii_encrypt, pii_hash
from mutualaid.validators import resident_id_problem

from .models import EnrolmentRegistry, IdType, PreviousEnrolment, RosterEntry, SuggestedPerson, UnionMember

CHUNK_ROWS = 10_000
RESIDENT_TYPES = {IdType.RESIDENT.value}


@dataclass
class Finding:
    table: str
    where: str  # which row, without the number (e.g. "参保批次 B2025… 第 12 条")
    problem: str  # 非规范 / 摘要不符 / 无法解密 / 冲突: …
    fixed: bool = False


@dataclass
class CheckReport:
    checked: dict[str, int] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    registry_without_entry: int = 0

    def count(self, *, fixed: bool | None = None, conflict: bool = False) -> int:
        return sum(
            1
            for finding in self.findings
            if (fixed is None or finding.fixed == fixed) and (not conflict or finding.problem.startswith("冲突"))
        )

    @property
    def summary(self) -> str:
        checked = "，".join(f"{table} {count} 条" for table, count in self.checked.items())
        return (
            f"已检查：{checked}。发现问题 {len(self.findings)} 条，已修正 {self.count(fixed=True)} 条，"
            f"冲突未修正 {self.count(conflict=True)} 条；年度参保登记无对应清册人员 {self.registry_without_entry} 条。"
        )


def stored_problem(value: str, id_hash: str) -> str | None:
    """Why a stored (decrypted) ID number breaks SPEC SEC-1, or None."""
    number, problem = canonical_id_number(value)
    if problem or number != value:
        return "非规范形式"
    # SPEC SEC-10: compared under the key the stored hash names (a rotation may be half way).
    if pii_hash(value, key_id=hash_key_id_of(id_hash)) != id_hash:
        return "摘要与号码不符"
    return None


def _check_stored(report, table: str, where: str, cipher, id_hash: str):
    """Decrypt one stored ID and record what is wrong with it on `report`: (the finding, the decrypted
    value) when it can be fixed, None when it is fine or cannot be read."""
    value = _decrypted(cipher)
    if value is None:
        report.findings.append(Finding(table, where, "无法解密"))
        return None
    problem = stored_problem(value, id_hash)
    if not problem:
        return None
    finding = Finding(table, where, problem)
    report.findings.append(finding)
    return finding, value


def repaired(value: str, *, resident: bool) -> str | None:
    """The canonical number `value` stands for, when that is certain; None otherwise. Decimal digits of
    other scripts become their ASCII digit (as int() read them when the value was validated)."""
    mapped = "".join(
        str(unicodedata.decimal(char)) if not char.isascii() and unicodedata.category(char) == "Nd" else char
        for char in value
    )
    number, problem = canonical_id_number(mapped)
    if problem or not number or (resident and resident_id_problem(number)):
        return None
    return number


def _progress_every(report: Callable[[str], None] | None, table: str, total: int, chunk: int):
    def progress(done: int) -> None:
        if report and (done % chunk == 0 or done == total):
            report(f"{table}：已检查 {done}/{total}")

    return progress


def _decrypted(cipher: str) -> str | None:
    try:
        return pii_decrypt(cipher)
    except PiiError:
        return None


def _check_roster_entries(report: CheckReport, *, fix: bool, chunk: int, progress) -> None:
    table = "参保清册"
    rows = RosterEntry.objects.order_by("pk").values_list(
        "pk", "batch_id", "batch__number", "batch__coverage_year__year", "id_type", "id_hash", "id_cipher", "mobile_cipher"
    )
    total = rows.count()
    tick = _progress_every(progress, table, total, chunk)
    to_fix = []
    done = 0
    for pk, batch_id, batch_number, year, id_type, id_hash, cipher, mobile_cipher in rows.iterator(chunk_size=chunk):
        done += 1
        tick(done)
        where = f"参保批次 {batch_number} 人员 #{pk}"
        mobile = _decrypted(mobile_cipher) if mobile_cipher else ""
        if mobile is None:
            report.findings.append(Finding(table, where, "手机号无法解密"))
        elif mobile and canonical_mobile(mobile) != (mobile, None):
            report.findings.append(Finding(table, where, "手机号非规范形式"))  # never guessed: the unit corrects it
        found = _check_stored(report, table, where, cipher, id_hash)
        if found:
            finding, value = found
            to_fix.append((finding, pk, batch_id, year, id_type, id_hash, value))
    report.checked[table] = total
    _check_registry(report, to_fix)
    if fix:
        for finding, pk, batch_id, year, id_type, old_hash, value in to_fix:
            _fix_roster_entry(finding, pk=pk, batch_id=batch_id, year=year, id_type=id_type, old_hash=old_hash, value=value)


def _check_registry(report: CheckReport, entry_findings: list) -> None:
    """The registry rows of the entries found (their batch, their old hash), and whether the number
    they stand for is held in the same year by another row: one person enrolled twice."""
    for _finding, _pk, batch_id, year, id_type, old_hash, value in entry_findings:
        row = EnrolmentRegistry.objects.filter(batch_id=batch_id, year=year, id_hash=old_hash).select_related("batch").first()
        if row is None:
            continue
        problem = "所属清册人员的证件号码非规范，登记摘要随之有误"
        number = repaired(value, resident=id_type in RESIDENT_TYPES)
        if number is not None:
            holder = EnrolmentRegistry.objects.filter(year=year, id_hash=pii_hash(number)).exclude(pk=row.pk).select_related("batch").first()
            if holder is not None:
                problem += f"；与参保批次 {holder.batch.number} 的登记为同一人"
        report.findings.append(Finding("年度参保登记", f"{year} 年度 参保批次 {row.batch.number}", problem))
    report.checked["年度参保登记"] = EnrolmentRegistry.objects.count()


def _fix_roster_entry(finding: Finding, *, pk, batch_id, year, id_type, old_hash, value) -> None:
    number = repaired(value, resident=id_type in RESIDENT_TYPES)
    if number is None:
        finding.problem += "；无法确定规范号码，未修正"
        return
    new_hash = pii_hash(number)
    try:
        with transaction.atomic():
            if RosterEntry.objects.filter(batch_id=batch_id, id_type=id_type, id_hash=new_hash).exclude(pk=pk).exists():
                finding.problem = "冲突：同一批次中已有此人（两条为同一人），未修正"
                return
            registry = EnrolmentRegistry.objects.select_for_update().filter(batch_id=batch_id, year=year, id_hash=old_hash)
            if registry.exists() and new_hash != old_hash:
                holder = EnrolmentRegistry.objects.filter(year=year, id_hash=new_hash).select_related("batch").first()
                if holder is not None:
                    finding.problem = f"冲突：{year} 年度参保登记中此人已由参保批次 {holder.batch.number} 占用（两条为同一人），未修正"
                    return
                registry.update(id_hash=new_hash)
            RosterEntry.objects.filter(pk=pk).update(id_hash=new_hash, id_cipher=pii_encrypt(number))
    except IntegrityError:  # someone wrote the same person meanwhile: the database is the last word
        finding.problem = "冲突：修正时违反唯一约束（两条为同一人），未修正"
        return
    finding.fixed = True


# Reference data: (model, table name, key fields besides id_hash, how its ID type is known).
REFERENCE_TABLES = (
    (SuggestedPerson, "建议清册", ("year",), None),
    (UnionMember, "会员库", ("year", "unit_key"), None),
    (PreviousEnrolment, "上年度参保名单", ("year", "code"), "id_type"),
)


def _check_reference(report: CheckReport, model, table: str, keys: tuple[str, ...], type_field, *, fix: bool, chunk: int, progress) -> None:
    fields = [*keys, "id_hash", "id_cipher"] + ([type_field] if type_field else [])
    rows = model.objects.order_by().values_list(*fields)
    total = rows.count()
    tick = _progress_every(progress, table, total, chunk)
    to_fix = []
    for done, row in enumerate(rows.iterator(chunk_size=chunk), start=1):
        tick(done)
        key = dict(zip(keys, row[: len(keys)]))
        id_hash, cipher = row[len(keys)], row[len(keys) + 1]
        resident = (row[-1] if type_field else IdType.RESIDENT.value) in RESIDENT_TYPES
        where = " ".join(f"{name}={value}" for name, value in key.items())
        found = _check_stored(report, table, where, cipher, id_hash)
        if found:
            finding, value = found
            to_fix.append((finding, key, id_hash, value, resident))
    report.checked[table] = total
    if not fix:
        return
    for finding, key, old_hash, value, resident in to_fix:
        number = repaired(value, resident=resident)
        if number is None:
            finding.problem += "；无法确定规范号码，未修正"
            continue
        new_hash = pii_hash(number)
        try:
            with transaction.atomic():
                if new_hash != old_hash and model.objects.filter(**key, id_hash=new_hash).exists():
                    finding.problem = "冲突：表中已有此人（两条为同一人），未修正"
                    continue
                model.objects.filter(**key, id_hash=old_hash).update(id_hash=new_hash, id_cipher=pii_encrypt(number))
        except IntegrityError:
            finding.problem = "冲突：修正时违反唯一约束（两条为同一人），未修正"
            continue
        finding.fixed = True


def identifiers_check(*, fix: bool = False, chunk: int = CHUNK_ROWS, progress: Callable[[str], None] | None = None) -> CheckReport:
    """Check (and with `fix`, repair where safe) every stored identifier; see the module docstring.
    `progress` receives one Chinese line per chunk. Never raises for a bad stored value."""
    report = CheckReport()
    _check_roster_entries(report, fix=fix, chunk=chunk, progress=progress)
    for model, table, keys, type_field in REFERENCE_TABLES:
        _check_reference(report, model, table, keys, type_field, fix=fix, chunk=chunk, progress=progress)
    # The registry holds hashes only: a row whose hash no roster entry of its batch has is reported.
    report.registry_without_entry = EnrolmentRegistry.objects.filter(
        ~Exists(RosterEntry.objects.filter(batch_id=OuterRef("batch_id"), id_hash=OuterRef("id_hash")))
    ).count()
    if fix and report.count(fixed=True):
        _audit(report)
    return report


def _audit(report: CheckReport) -> None:
    """One audit event for the repair (SPEC X-2: bulk updates bypass save())."""
    counts = {"已修正": report.count(fixed=True), "冲突": report.count(conflict=True), "问题": len(report.findings)}
    LogEntry.objects.create(
        content_type=ContentType.objects.get_for_model(RosterEntry),
        object_pk="check_identifiers",
        object_repr="证件号码规范化修正（SPEC SEC-1）",
        action=LogEntry.Action.UPDATE,
        changes={name: ["", str(count)] for name, count in counts.items()},
        changes_text=report.summary,
        additional_data={"command": "check_identifiers --fix", **counts},
    )
