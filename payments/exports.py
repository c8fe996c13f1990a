"""The back office's Excel exports (SPEC BO-3, X-1, X-2), run as background jobs by
mutualaid.exports and started from the 导出中心 (backoffice/exports.py):

- 参保人员 (`enrolled_people`): the people of one batch, or of a union organisation's batches of a year
  (a level-1 organisation includes its level-2 ones), or of a whole year;
- 保费与缴费 (`premiums_payments`): per batch with a confirmed premium, its vouchers and amounts;
- 待退款 (`refunds`): approved vouchers with a refund to pay.

Who may export: `enrollment.view_batchtotals` (reviewers; union staff get 403). ID numbers and refund
account numbers are masked (X-1) unless the user holds `mutualaid.export_full_id` (no role has it by
default; superusers do); such an export is marked in its audit entry.

Reads are set-based: the batches and their confirmed premiums are read once, the people stream from
one query in chunks of 5,000 (a server-side cursor on PostgreSQL), decrypted chunk by chunk.
"""
from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.utils import timezone

from accounts.models import UnionOrganisation
from enrollment.models import Batch, CoverageYear
from enrollment.states import HOLDING_STATES, BatchKind
from mutualaid.exports import FULL_ID_PERMISSION, ExportBuilder, ExportError, ExportPlan, Progress
from mutualaid.pii import ID_TYPE_OTHER, ID_TYPE_RESIDENT, mask_id_number, pii_decrypt
from mutualaid.xlsx import XlsxWriter
from plans import premiums
from plans.models import BatchPremium
from plans.services import premium_person_price_args
from rosters.models import IdType, RosterEntry

from .models import Voucher, VoucherBatch

PERMISSION = "enrollment.view_batchtotals"
CHUNK = 5000
PROGRESS_EVERY = 1000

PEOPLE_COLUMNS = (
    ("批次", 14), ("单位", 30), ("姓名", 12), ("证件类型", 10), ("证件号码", 22), ("性别", 6), ("出生日期", 14),
    ("社保", 6), ("参加项目", 22), ("保费", 10), ("起保日期", 12), ("终保日期", 12),
)
PREMIUM_COLUMNS = (
    ("批次", 14), ("参保编码", 10), ("单位名称", 30), ("参保类型", 10), ("批次状态", 16), ("参保人数", 10),
    ("确认保费", 12), ("保费确认日期", 14), ("缴费截止日期", 14), ("缴费凭证", 8), ("付款单位", 30),
    ("凭证总金额", 12), ("本批次保费", 12), ("退款金额", 12), ("凭证审核状态", 12), ("凭证提交时间", 18),
)
REFUND_COLUMNS = (
    ("付款单位", 30), ("平台账号", 16), ("参保批次", 28), ("缴费金额", 12), ("应缴保费合计", 12), ("退款金额", 12),
    ("退款方式", 10), ("退款帐户类别", 12), ("退款帐户名称", 24), ("退款银行", 16), ("退款帐号", 24), ("审核时间", 18),
)


def _today() -> str:
    return timezone.localdate().strftime("%Y%m%d")


def _local(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M") if moment else ""


def _full(user) -> bool:
    return user.has_perm(FULL_ID_PERMISSION)


def _year(params: dict) -> CoverageYear:
    value = params.get("year")
    year = CoverageYear.objects.filter(year=int(value)).first() if str(value or "").isdigit() else None
    if year is None:
        raise ExportError("请选择保障年度。")
    return year


def _union(params: dict) -> UnionOrganisation | None:
    value = params.get("union")
    if value in (None, ""):
        return None
    union = UnionOrganisation.objects.filter(pk=int(value)).first() if str(value).isdigit() else None
    if union is None:
        raise ExportError("未找到该工会组织。")
    return union


def _of_union(batches, year: CoverageYear, union: UnionOrganisation | None):
    """`batches` narrowed to a union organisation's (SPEC BO-2: a level-1 organisation includes its
    level-2 ones, whose batches carry it as level 1), with the words the title and file name use."""
    if union is None:
        return batches, f"{year.year}年度"
    return (
        batches.filter(Q(totals__union_level1=union) | Q(totals__union_level2=union)),
        f"{year.year}年度_{union.short_name or union.name}",
    )


class _BackOfficeExport(ExportBuilder):
    back_office = True

    def check(self, *, user, params: dict) -> None:
        if not user.has_perm(PERMISSION):
            raise PermissionDenied
        self.scope(params)

    def scope(self, params: dict):
        raise NotImplementedError


# --- 参保人员 ---------------------------------------------------------------------------------------------


class EnrolledPeopleExport(_BackOfficeExport):
    """参保人员: params {"batch": "B2023000001"}, or {"year": 2023} with an optional "union" (the
    organisation's pk; the units whose 经办人填报 named it when the roster was submitted, BatchTotals)."""

    kind = "enrolled_people"
    label = "参保人员"

    def scope(self, params: dict):
        """(the batches' queryset, a description for title and file name)."""
        number = str(params.get("batch") or "").strip()
        if number:
            batch = Batch.objects.filter(number=number).only("pk", "number", "state").first()
            if batch is None:
                raise ExportError(f"未找到参保批次 {number}。")
            if batch.state not in HOLDING_STATES:
                raise ExportError(f"参保批次 {number} 尚未提交清册或已撤回、作废，没有参保人员。")
            return Batch.objects.filter(pk=batch.pk), number
        year = _year(params)
        return _of_union(Batch.objects.filter(coverage_year=year, state__in=HOLDING_STATES), year, _union(params))

    def plan(self, *, user, params: dict) -> ExportPlan:
        _batches, description = self.scope(params)
        return ExportPlan(
            title=f"参保人员（{description.replace('_', ' · ')}）",
            filename=f"参保人员_{description}_{_today()}.xlsx",
            full_ids=_full(user),
        )

    def write(self, *, user, params: dict, path: str, progress: Progress) -> int:
        batches, _description = self.scope(params)
        full = _full(user)
        entries = RosterEntry.objects.filter(batch__in=batches.values("pk"))
        progress.total(entries.count())
        rows = 0
        fields = (
            "batch_id", "name", "id_type", "id_cipher", "sex", "birth_date", "has_social_security",
            "coverage_start", "coverage_end",
        )
        # The batches are read as their people come, chunk by chunk: a year holds 150,000 batches at
        # city scale, and an export of 100,000 people touches a few thousand of them.
        info, names, plans = {}, {}, {}
        with XlsxWriter(path) as book:
            sheet = book.sheet("参保人员", PEOPLE_COLUMNS)
            chunk = []
            for values in entries.order_by("batch_id", "pk").values_list(*fields).iterator(chunk_size=CHUNK):
                chunk.append(values)
                if len(chunk) >= CHUNK:
                    _batches_read(chunk, info=info, names=names, plans=plans)
                    rows += _people_rows(sheet, chunk, info=info, names=names, plans=plans, full=full)
                    chunk = []
                    progress.done(rows)
            _batches_read(chunk, info=info, names=names, plans=plans)
            rows += _people_rows(sheet, chunk, info=info, names=names, plans=plans, full=full)
        return rows


def _batches_read(chunk, *, info: dict, names: dict, plans: dict) -> None:
    """Number, unit and person plans of the batches of `chunk` not read yet (two queries)."""
    new = {values[0] for values in chunk} - info.keys()
    if not new:
        return
    for pk, number, unit_name in Batch.objects.filter(pk__in=new).values_list("pk", "number", "unit_name"):
        info[pk], names[pk] = number, unit_name
    plans.update(_person_plans(batch_ids=list(new)))


def _person_plans(*, batch_ids: list[int]) -> dict[int, dict[bool, tuple[str, Decimal]]]:
    """Per batch with a confirmed premium, what a person with and without 社保 gets and pays (SPEC
    PLAN-3, PREM-1, PREM-2), from one query; batches not yet confirmed have none. Batches with the same
    selection, prices and tier (most of a year's) are priced once."""
    plans, priced = {}, {}
    for premium in BatchPremium.objects.filter(batch_id__in=batch_ids).only(
        "batch_id", "codes", "full_year", "prices", "bundle_discount"
    ).iterator(chunk_size=CHUNK):
        key = (premium.codes, premium.full_year, str(sorted(premium.prices.items())), premium.bundle_discount)
        if key not in priced:
            codes = premium.code_list
            price_args = premium_person_price_args(premium=premium)
            priced[key] = {
                has_ss: (
                    " ".join(premiums.person_items(codes, has_social_security=has_ss)),
                    premiums.person_amount(codes, has_social_security=has_ss, **price_args),
                )
                for has_ss in (True, False)
            }
        plans[premium.batch_id] = priced[key]
    return plans


def _people_rows(sheet, chunk, *, info, names, plans, full: bool) -> int:
    """Write one chunk: its IDs decrypted together, masked unless `full` (SPEC X-1). For a resident
    ID the masked export shows the birth year only (rosters.selectors: the mask hides those digits)."""
    for batch_id, name, id_type, cipher, sex, birth_date, has_ss, start, end in chunk:
        number = pii_decrypt(cipher)
        resident = id_type == IdType.RESIDENT
        if full:
            shown_id, born = number, birth_date.isoformat()
        else:
            shown_id = mask_id_number(number, ID_TYPE_RESIDENT if resident else ID_TYPE_OTHER)
            born = f"{birth_date.year}年**月**日" if resident else birth_date.isoformat()
        items, amount = plans.get(batch_id, {}).get(has_ss, ("-", None))
        sheet.row(
            (
                info[batch_id], names[batch_id], name, id_type, shown_id, sex, born, "是" if has_ss else "否",
                items, amount, start.isoformat() if start else "-", end.isoformat() if end else "-",
            )
        )
    return len(chunk)


# --- 保费与缴费 -------------------------------------------------------------------------------------------


class PremiumsPaymentsExport(_BackOfficeExport):
    """保费与缴费 of a year (optionally one union organisation's batches): every batch whose premium
    was confirmed, with each voucher that pays it (a batch paid after a refused voucher has two lines)."""

    kind = "premiums_payments"
    label = "保费与缴费"

    def scope(self, params: dict):
        year = _year(params)
        return _of_union(Batch.objects.filter(coverage_year=year, premium__isnull=False), year, _union(params))

    def plan(self, *, user, params: dict) -> ExportPlan:
        _batches, description = self.scope(params)
        return ExportPlan(
            title=f"保费与缴费（{description.replace('_', ' · ')}）", filename=f"保费与缴费_{description}_{_today()}.xlsx"
        )

    def write(self, *, user, params: dict, path: str, progress: Progress) -> int:
        batches, _description = self.scope(params)
        batches = list(
            batches.select_related("premium", "code").order_by("number").only(
                "pk", "number", "unit_name", "kind", "state", "code__code", "premium__total",
                "premium__social_security_people", "premium__other_people", "premium__confirmed_at",
                "premium__payment_due",
            )
        )
        progress.total(len(batches))
        lines: dict[int, list[VoucherBatch]] = {}
        for line in (
            VoucherBatch.objects.filter(batch_id__in=[batch.pk for batch in batches])
            .select_related("voucher")
            .order_by("voucher__submitted_at", "pk")
        ):
            lines.setdefault(line.batch_id, []).append(line)
        kinds = dict(BatchKind.choices)
        rows = 0
        with XlsxWriter(path) as book:
            sheet = book.sheet("保费与缴费", PREMIUM_COLUMNS)
            for batch in batches:
                premium = batch.premium
                head = [
                    batch.number, batch.code.code, batch.unit_name, kinds.get(batch.kind, batch.kind),
                    batch.get_state_display(), premium.social_security_people + premium.other_people, premium.total,
                    timezone.localtime(premium.confirmed_at).date().isoformat(), premium.payment_due.isoformat(),
                ]
                paid = lines.get(batch.pk, [])
                if not paid:
                    sheet.row(head + ["无"])
                for index, line in enumerate(paid, 1):
                    voucher = line.voucher
                    sheet.row(
                        head + [
                            f"第{index}张", voucher.payer, voucher.amount, line.premium, voucher.refund_amount,
                            voucher.get_status_display(), _local(voucher.submitted_at),
                        ]
                    )
                rows += 1
                if rows % PROGRESS_EVERY == 0:
                    progress.done(rows)
        return rows


# --- 待退款 ----------------------------------------------------------------------------------------------


class RefundsExport(_BackOfficeExport):
    """待退款: approved vouchers with a refund (SPEC PAY-3, PAY-4), optionally of one year's batches.
    The account number is masked unless the user may export full numbers (X-1, audited)."""

    kind = "refunds"
    label = "待退款"

    def scope(self, params: dict):
        vouchers = Voucher.objects.filter(status=Voucher.Status.APPROVED, refund_amount__gt=0)
        if params.get("year") not in (None, ""):
            year = _year(params)
            return vouchers.filter(batches__coverage_year=year).distinct(), f"{year.year}年度"
        return vouchers, "全部"

    def plan(self, *, user, params: dict) -> ExportPlan:
        _vouchers, description = self.scope(params)
        return ExportPlan(
            title=f"待退款（{description}）", filename=f"待退款_{description}_{_today()}.xlsx", full_ids=_full(user)
        )

    def write(self, *, user, params: dict, path: str, progress: Progress) -> int:
        vouchers, _description = self.scope(params)
        full = _full(user)
        vouchers = list(vouchers.select_related("account").order_by("reviewed_at", "pk"))
        progress.total(len(vouchers))
        numbers: dict[int, list[str]] = {}
        for voucher_id, number in (
            VoucherBatch.objects.filter(voucher__in=[v.pk for v in vouchers]).order_by("batch__number").values_list("voucher_id", "batch__number")
        ):
            numbers.setdefault(voucher_id, []).append(number)
        rows = 0
        with XlsxWriter(path) as book:
            sheet = book.sheet("待退款", REFUND_COLUMNS)
            for voucher in vouchers:
                account = voucher.refund_account_number if full else voucher.refund_account_masked
                sheet.row(
                    [
                        voucher.payer, voucher.account.get_username(), " ".join(numbers.get(voucher.pk, [])),
                        voucher.amount, voucher.premiums, voucher.refund_amount, voucher.get_refund_method_display(),
                        voucher.get_refund_account_kind_display(), voucher.refund_account_name, voucher.refund_bank,
                        account, _local(voucher.reviewed_at),
                    ]
                )
                rows += 1
        return rows

