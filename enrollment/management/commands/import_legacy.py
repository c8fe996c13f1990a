"""manage.py import_legacy: the old platform's accounts, enrollment codes and units (SPEC ACC-7
[interpretation], CODE-5), so that "原申工通账号可直接使用" holds.

A pipeline per file (STYLE.md §6): read (UTF-8 with or without BOM, else GB18030) → normalise →
validate every row (line number and reason) → one set-based look-up of what exists → one short
transaction with bulk writes and one audit event with the counts (SPEC X-2). Files go in the order
accounts, codes, units (units need their codes), each in its own transaction; every header is
checked before anything is written. Re-running with the same files changes nothing.

Queries: one per 900 keys for the existing rows (SQLite's limit on parameters), one for the union
organisations, and the bulk writes in batches; none per row.
"""
import csv
import hashlib
import io
import logging
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models.functions import Lower
from django.utils import timezone

from accounts.models import NO_UNION_LABEL, Role, UnionOrganisation, User
from mutualaid.identifiers import canonical_enrollment_code, canonical_mobile
from mutualaid.validators import validate_mobile, validate_postcode, validate_uscc

from ...models import EnrollmentCode, Unit, UnitNature, unit_name_key

logger = logging.getLogger(__name__)

LOOKUP_CHUNK = 900
WRITE_BATCH = 500
LEGACY_CODE_PATTERN = re.compile(r"^[0-9A-Z]{6}$")  # CODE-8's rule (no I, O) is for new codes only
HEADCOUNT_PATTERN = re.compile(r"[0-9]+(?:\.0+)?")  # "120.0" is how a spreadsheet may save 120
MESSAGE_APPROVED_CODE = "参保编码 {code} 为平台在线申请所得，不能由导入修改"


@dataclass
class Row:
    line: int
    values: dict[str, str]


@dataclass
class Report:
    """What one file did: 读取 N 行，新增 A，更新 B，错误 F."""

    label: str
    path: Path
    read: int = 0
    created: int = 0
    updated: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)

    @property
    def summary(self) -> str:
        return (
            f"{self.label}（{self.path.name}）：读取 {self.read} 行，新增 {self.created}，"
            f"更新 {self.updated}，错误 {len(self.errors)}"
        )


@dataclass
class LegacyFile:
    kind: str  # accounts, codes, units
    path: Path
    rows: list[Row]
    sha256: str


KINDS = {
    # kind: (label, required columns in the old platform's export)
    "accounts": ("账号文件", ("账号", "单位名称", "统一社会信用代码", "联系人手机", "邮箱", "上级工会")),
    "codes": ("参保编码文件", ("参保编码", "单位名称", "统一社会信用代码")),
    "units": (
        "参保单位文件",
        ("参保编码", "单位名称", "统一社会信用代码", "单位性质", "单位地址", "邮政编码", "单位电话", "在职人数"),
    ),
}


# Reading --------------------------------------------------------------------------------------------


def decode(data: bytes) -> str:
    """UTF-8 with or without BOM, else GB18030 (what Excel saves as "CSV" on a Chinese Windows)."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("gb18030")


def _column_name(name: str) -> str:
    return re.sub(r"[\s*＊]", "", unicodedata.normalize("NFKC", name or ""))


def read_file(kind: str, path: Path) -> LegacyFile:
    """The file's rows keyed by column name (values stripped; rows with nothing in them skipped).
    Raises CommandError if it cannot be read or lacks a column."""
    label, columns = KINDS[kind]
    try:
        data = path.read_bytes()
        text = decode(data)
    except (OSError, UnicodeDecodeError) as error:
        raise CommandError(f"{label} {path}：无法读取（{error}）") from error
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if not header:
        raise CommandError(f"{label} {path}：文件为空")
    names = [_column_name(name) for name in header]
    missing = [column for column in columns if column not in names]
    if missing:
        raise CommandError(f"{label} {path}：缺少列 {'、'.join(missing)}（须有：{'、'.join(columns)}）")
    index = {name: names.index(name) for name in columns}
    rows = []
    for cells in reader:
        if not any(cell.strip() for cell in cells):
            continue
        values = {name: (cells[position].strip() if position < len(cells) else "") for name, position in index.items()}
        rows.append(Row(line=reader.line_num, values=values))
    return LegacyFile(kind=kind, path=path, rows=rows, sha256=hashlib.sha256(data).hexdigest())


# Normalising and checking ------------------------------------------------------------------------------


def _name(value: str) -> str:
    return " ".join(value.split())


def _code(value: str) -> str:
    """The enrollment code in canonical form (SPEC SEC-1); RowError when it has none."""
    code, problem = canonical_enrollment_code(value)
    if problem:
        raise RowError(problem)
    return code


def _check_uscc(value: str) -> str:
    """The canonical USCC (SPEC SEC-1), "" when empty; raises ValidationError with the validator's message."""
    if not value:
        return ""
    return validate_uscc(value)


def _mobile(value: str) -> str:
    """The canonical mobile (SPEC SEC-1), "" when empty; RowError when it is not one."""
    mobile, problem = canonical_mobile(value, "联系人手机")
    if problem:
        raise RowError(problem)
    if mobile:
        _validated(validate_mobile, mobile)
    return mobile


def _chunks(values: list, size: int = LOOKUP_CHUNK):
    for start in range(0, len(values), size):
        yield values[start : start + size]


class RowError(Exception):
    pass


def _validated(check, value):
    try:
        return check(value)
    except ValidationError as error:
        raise RowError(error.messages[0]) from error


def _audit(*, model, legacy: LegacyFile, report: Report) -> None:
    """One audit event for the whole file (SPEC X-2: bulk writes bypass save(), so no per-row trail)."""
    counts = {"读取": report.read, "新增": report.created, "更新": report.updated, "错误": len(report.errors)}
    LogEntry.objects.create(
        content_type=ContentType.objects.get_for_model(model),
        object_pk="import_legacy",
        object_repr=f"原平台数据导入：{legacy.path.name}",
        action=LogEntry.Action.CREATE,
        changes={name: ["", str(count)] for name, count in counts.items()},
        changes_text=report.summary,
        additional_data={"command": "import_legacy", "file": str(legacy.path), "sha256": legacy.sha256, **counts},
    )


# Accounts -------------------------------------------------------------------------------------------


def import_accounts(legacy: LegacyFile, *, dry_run: bool) -> Report:
    """Unit accounts (账号, 单位名称, 统一社会信用代码, 联系人手机, 邮箱, 上级工会) with an unusable password.
    An existing unit account of that name (any case) is updated; another role's, or one with a
    different USCC, is refused."""
    report = Report(KINDS["accounts"][0], legacy.path, read=len(legacy.rows))
    organisations = {
        unit_name_key(organisation.name): organisation for organisation in UnionOrganisation.objects.filter(is_active=True)
    }
    seen: dict[str, int] = {}
    good: list[tuple[Row, dict]] = []
    for row in legacy.rows:
        values = row.values
        try:
            username = values["账号"]
            if not username:
                raise RowError("账号为空")
            if len(username) > 150:
                raise RowError("账号过长（最多150个字符）")
            _validated(User.username_validator, username)
            if username.lower() in seen:
                raise RowError(f"账号“{username}”与第 {seen[username.lower()]} 行重复")
            unit_name = _name(values["单位名称"])
            if not unit_name:
                raise RowError("单位名称为空")
            uscc = _validated(_check_uscc, values["统一社会信用代码"])
            mobile = _mobile(values["联系人手机"])
            email = values["邮箱"]
            if email:
                try:
                    validate_email(email)
                except ValidationError:
                    raise RowError(f"邮箱“{email}”格式不正确") from None
            union_name = values["上级工会"]
            if not union_name:
                raise RowError(f"上级工会为空（没有工会的单位请填“{NO_UNION_LABEL}”）")
            if unit_name_key(union_name) == NO_UNION_LABEL:
                union = None
            else:
                union = organisations.get(unit_name_key(union_name))
                if union is None:
                    raise RowError(f"上级工会“{union_name}”不存在或已停用（请填写工会组织全称或“{NO_UNION_LABEL}”）")
        except RowError as error:
            report.errors.append((row.line, str(error)))
            continue
        seen[username.lower()] = row.line
        good.append((row, {"username": username, "unit_name": unit_name, "uscc": uscc, "mobile": mobile,
                           "email": email, "union_organisation": union}))

    existing: dict[str, User] = {}
    for chunk in _chunks([values["username"].lower() for _, values in good]):
        for user in User.objects.annotate(username_lower=Lower("username")).filter(username_lower__in=chunk):
            existing[user.username.lower()] = user

    now = timezone.now()
    to_create: list[User] = []
    to_update: list[User] = []
    for row, values in good:
        user = existing.get(values["username"].lower())
        if user is None:
            user = User(
                username=values["username"],
                role=Role.UNIT_ADMIN,
                unit_name=values["unit_name"],
                uscc=values["uscc"],
                mobile=values["mobile"],
                email=values["email"],
                union_organisation=values["union_organisation"],
                # The association's own records: the address counts as confirmed, so the handler
                # can reset the password by e-mail (SPEC ACC-3, as change_request_approve does).
                email_confirmed_at=now if values["email"] else None,
            )
            user.set_unusable_password()
            to_create.append(user)
            continue
        if user.role != Role.UNIT_ADMIN or user.is_superuser:
            report.errors.append((row.line, f"账号“{user.username}”已存在，且不是单位账号，未修改"))
            continue
        if user.uscc and values["uscc"] and user.uscc != values["uscc"]:
            report.errors.append((row.line, f"账号“{user.username}”已存在，但统一社会信用代码不同（{user.uscc}），未修改"))
            continue
        changed = False
        for name in ("unit_name", "uscc", "mobile"):
            if getattr(user, name) != values[name]:
                setattr(user, name, values[name])
                changed = True
        if user.union_organisation_id != (values["union_organisation"].pk if values["union_organisation"] else None):
            user.union_organisation = values["union_organisation"]
            changed = True
        if user.email != values["email"]:
            user.email = values["email"]
            user.email_confirmed_at = now if values["email"] else None
            changed = True
        if changed:
            to_update.append(user)

    report.errors.sort()
    report.created, report.updated = len(to_create), len(to_update)
    if not dry_run:
        with transaction.atomic():
            User.objects.bulk_create(to_create, batch_size=WRITE_BATCH)
            User.objects.bulk_update(
                to_update,
                ["unit_name", "uscc", "mobile", "email", "email_confirmed_at", "union_organisation"],
                batch_size=WRITE_BATCH,
            )
            _audit(model=User, legacy=legacy, report=report)
    return report


# Enrollment codes --------------------------------------------------------------------------------------


def _existing_codes(codes: list[str]) -> dict[str, EnrollmentCode]:
    found = {}
    for chunk in _chunks(codes):
        for code in EnrollmentCode.objects.filter(code__in=chunk):
            found[code.code] = code
    return found


def import_codes(legacy: LegacyFile, *, dry_run: bool) -> Report:
    """Enrollment codes (参保编码, 单位名称, 统一社会信用代码), source 原平台导入, bound to no account:
    the first account that opens a batch with the code and its unit name gets it (SPEC CODE-5)."""
    report = Report(KINDS["codes"][0], legacy.path, read=len(legacy.rows))
    seen: dict[str, int] = {}
    good: list[tuple[Row, dict]] = []
    for row in legacy.rows:
        values = row.values
        try:
            code = _code(values["参保编码"])
            if not LEGACY_CODE_PATTERN.match(code):
                raise RowError(f"参保编码“{values['参保编码']}”格式不正确（应为6位数字或大写字母）")
            if code in seen:
                raise RowError(f"参保编码 {code} 与第 {seen[code]} 行重复")
            unit_name = _name(values["单位名称"])
            if not unit_name:
                raise RowError("单位名称为空")
            uscc = _validated(_check_uscc, values["统一社会信用代码"])
        except RowError as error:
            report.errors.append((row.line, str(error)))
            continue
        seen[code] = row.line
        good.append((row, {"code": code, "unit_name": unit_name, "uscc": uscc}))

    existing = _existing_codes([values["code"] for _, values in good])
    to_create: list[EnrollmentCode] = []
    to_update: list[EnrollmentCode] = []
    for row, values in good:
        found = existing.get(values["code"])
        if found is None:
            to_create.append(
                EnrollmentCode(
                    code=values["code"],
                    unit_name=values["unit_name"],
                    name_key=unit_name_key(values["unit_name"]),  # bulk_create skips save()
                    uscc=values["uscc"],
                    source=EnrollmentCode.Source.IMPORTED,
                )
            )
        elif found.source != EnrollmentCode.Source.IMPORTED:
            report.errors.append((row.line, MESSAGE_APPROVED_CODE.format(code=found.code)))
        elif (found.unit_name, found.uscc) != (values["unit_name"], values["uscc"]):
            # The binding to an account (if any) stays.
            found.unit_name, found.uscc = values["unit_name"], values["uscc"]
            found.name_key = unit_name_key(found.unit_name)
            to_update.append(found)

    report.errors.sort()
    report.created, report.updated = len(to_create), len(to_update)
    if not dry_run:
        with transaction.atomic():
            EnrollmentCode.objects.bulk_create(to_create, batch_size=WRITE_BATCH)
            EnrollmentCode.objects.bulk_update(to_update, ["unit_name", "name_key", "uscc"], batch_size=WRITE_BATCH)
            _audit(model=EnrollmentCode, legacy=legacy, report=report)
    return report


# Units -------------------------------------------------------------------------------------------------

UNIT_FIELDS = ("name", "name_key", "uscc", "nature", "address", "postcode", "phone", "headcount", "is_lead")


def import_units(legacy: LegacyFile, *, dry_run: bool) -> Report:
    """Units under their code (参保编码, 单位名称, 统一社会信用代码, 单位性质, 单位地址, 邮政编码, 单位电话,
    在职人数). The first unit of a code in the file is its lead unit (SPEC CODE-6); a unit is known by
    its code and its name, so a second run updates it."""
    report = Report(KINDS["units"][0], legacy.path, read=len(legacy.rows))
    parsed: list[tuple[Row, dict]] = []
    for row in legacy.rows:
        values = row.values
        try:
            code = _code(values["参保编码"])
            if not LEGACY_CODE_PATTERN.match(code):
                raise RowError(f"参保编码“{values['参保编码']}”格式不正确（应为6位数字或大写字母）")
            name = _name(values["单位名称"])
            if not name:
                raise RowError("单位名称为空")
            uscc = _validated(_check_uscc, values["统一社会信用代码"])
            nature = values["单位性质"]
            if nature and nature not in UnitNature.values:
                raise RowError(f"单位性质“{nature}”不在列表中（{'、'.join(UnitNature.values)}）")
            address = values["单位地址"]
            if len(address) > 200:
                raise RowError("单位地址过长（最多200个字符）")
            postcode = values["邮政编码"]
            if postcode:
                _validated(validate_postcode, postcode)
            phone = values["单位电话"]
            if len(phone) > 30:
                raise RowError("单位电话过长（最多30个字符）")
            headcount_text = values["在职人数"]
            headcount = None
            if headcount_text:
                if not HEADCOUNT_PATTERN.fullmatch(headcount_text) or int(float(headcount_text)) <= 0:
                    raise RowError(f"在职人数“{headcount_text}”须为大于0的整数")
                headcount = int(float(headcount_text))
        except RowError as error:
            report.errors.append((row.line, str(error)))
            continue
        parsed.append((row, {"code": code, "name": name, "name_key": unit_name_key(name), "uscc": uscc,
                             "nature": nature, "address": address, "postcode": postcode, "phone": phone,
                             "headcount": headcount}))

    codes = _existing_codes(sorted({values["code"] for _, values in parsed}))
    seen: dict[tuple[str, str], int] = {}
    with_lead: set[str] = set()
    good: list[tuple[Row, dict]] = []
    for row, values in parsed:
        code = codes.get(values["code"])
        if code is None:
            report.errors.append((row.line, f"参保编码 {values['code']} 不存在（请先导入参保编码）"))
            continue
        if code.source != EnrollmentCode.Source.IMPORTED:
            report.errors.append((row.line, MESSAGE_APPROVED_CODE.format(code=code.code)))
            continue
        key = (values["code"], values["name_key"])
        if key in seen:
            report.errors.append((row.line, f"与第 {seen[key]} 行重复（同一参保编码下的同名单位）"))
            continue
        seen[key] = row.line
        values["code"] = code
        values["is_lead"] = code.code not in with_lead  # the first good row of the code
        with_lead.add(code.code)
        good.append((row, values))

    touched = {values["code"].pk for _, values in good}
    existing: dict[tuple[int, str], Unit] = {}
    for chunk in _chunks(sorted(touched)):
        for unit in Unit.objects.filter(code_id__in=chunk):
            existing[(unit.code_id, unit.name_key)] = unit

    now = timezone.now()
    to_create: list[Unit] = []
    to_update: dict[int, Unit] = {}
    in_file: set[int] = set()
    for _row, values in good:
        unit = existing.get((values["code"].pk, values["name_key"]))
        if unit is None:
            to_create.append(Unit(code=values["code"], **{name: values[name] for name in UNIT_FIELDS}))
            continue
        in_file.add(unit.pk)
        if any(getattr(unit, name) != values[name] for name in UNIT_FIELDS):
            for name in UNIT_FIELDS:
                setattr(unit, name, values[name])
            unit.updated_at = now  # bulk_update does not touch auto_now fields
            to_update[unit.pk] = unit
    # A code's lead unit is the file's first: an earlier lead of it that the file does not name first
    # (another row, or not in the file) is no longer the lead.
    for unit in existing.values():
        if unit.pk not in in_file and unit.is_lead:
            unit.is_lead = False
            unit.updated_at = now
            to_update[unit.pk] = unit

    report.errors.sort()
    report.created, report.updated = len(to_create), len(to_update)
    if not dry_run:
        with transaction.atomic():
            Unit.objects.bulk_create(to_create, batch_size=WRITE_BATCH)
            Unit.objects.bulk_update(list(to_update.values()), [*UNIT_FIELDS, "updated_at"], batch_size=WRITE_BATCH)
            _audit(model=Unit, legacy=legacy, report=report)
    return report


IMPORTERS = {"accounts": import_accounts, "codes": import_codes, "units": import_units}


class Command(BaseCommand):
    help = (
        "导入原申工通平台的单位账号、参保编码和参保单位（SPEC ACC-7），CSV 文件，UTF-8（可带 BOM）或 GB18030 编码，"
        "首行为列名。可只给其中一部分文件；按账号 → 参保编码 → 参保单位的顺序导入，每个文件一个事务。"
        "账号文件列：账号, 单位名称, 统一社会信用代码, 联系人手机, 邮箱, 上级工会（工会组织全称或“未建会”）。"
        "导入的单位账号没有可用密码：有工会的单位请上级工会重置密码，没有工会的单位由职保会重置，"
        "填写了邮箱的单位也可在登录页点“忘记密码？”通过邮件自行重置（导入的邮箱视为已确认）。"
        "参保编码文件列：参保编码, 单位名称, 统一社会信用代码；导入的参保编码不属于任何账号，"
        "在首个以该编码和登记单位名称办理参保批次的账号中绑定（SPEC CODE-5）。"
        "参保单位文件列：参保编码, 单位名称, 统一社会信用代码, 单位性质, 单位地址, 邮政编码, 单位电话, 在职人数；"
        "同一参保编码的第一行为牵头单位。"
        "每行先校验，有错误的行（行号和原因）不导入，其余写入；重复运行不会重复创建，已有记录按文件更新。"
    )

    def add_arguments(self, parser):
        parser.add_argument("--accounts", type=Path, metavar="FILE", help="单位账号 CSV")
        parser.add_argument("--codes", type=Path, metavar="FILE", help="参保编码 CSV")
        parser.add_argument("--units", type=Path, metavar="FILE", help="参保单位 CSV")
        parser.add_argument("--dry-run", action="store_true", help="只校验并报告，不写入")

    def handle(self, *args, **options):
        given = [(kind, options[kind]) for kind in IMPORTERS if options.get(kind)]
        if not given:
            raise CommandError("请至少指定 --accounts、--codes、--units 中的一个文件。")
        # Every file is read and its header checked before anything is written.
        files = [read_file(kind, path) for kind, path in given]
        for legacy in files:
            report = IMPORTERS[legacy.kind](legacy, dry_run=options["dry_run"])
            for line, reason in report.errors:
                self.stderr.write(f"{report.label} 第 {line} 行：{reason}")
            self.stdout.write(report.summary + ("（试运行，未写入）" if options["dry_run"] else ""))
            logger.info("import_legacy %s sha256=%s: %s", legacy.path, legacy.sha256, report.summary)
