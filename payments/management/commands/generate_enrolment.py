"""manage.py generate_enrolment: a coverage year's enrolment at city scale, for the statistics and exports
benchmarks.

    manage.py generate_enrolment --year 2025 --people 6000000 [--people-rows 100000] [--seed 7]

Creates, for an existing coverage year with its plan items, COMPLETED batches (参保已完成) worth `--people`
people, about 40 a batch with the city's heavy-tailed unit sizes (rosters.synthetic.unit_sizes): one
unit administrator account and one enrollment code per batch, the Batch rows (centralised and instant,
清册提交 spread over the windows), their BatchTotals and BatchItemTotal, the confirmed 保费信息
(BatchPremium + PremiumLine, computed by plans.premiums from the year's prices) and an approved voucher
per batch (Voucher + VoucherBatch; one in twenty paid a little more and has a refund). Union
organisations are the seeded ones (level 1, with a level 2 under it where it has any; a fifth 未建会).

Without people: the statistics never read them. `--people-rows N` also writes the roster entries and
registry rows of the first batches until N people are covered (valid, unique IDs from
rosters.synthetic; hashed and encrypted as the portal stores them), for the export benchmarks. Every
such entry has a 手机号 (encrypted as the importer stores it, SPEC SEC-4), the same for the same
`--seed`, so a benchmark of 参保查询 (LOOK-1) can reach its SMS step: `generated_mobiles(seed, N)`
gives the first N in the order the entries are written (their primary-key order).

Writes with COPY on PostgreSQL (bulk_create in chunks elsewhere), ids taken from the tables' sequences,
in one transaction: 6,000,000 people (≈150,000 batches) take about a minute. Bulk writes bypass save()
and the per-row audit trail (ARCHITECTURE.md "Bulk data"); the command prints its counts instead.
A second run for the same year is refused (its accounts are named gen{year}_…): drop the database or
delete those batches first.
"""
from __future__ import annotations

import datetime as dt
import json
import random
import time
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from accounts.models import Role, UnionOrganisation
from enrollment.models import Batch, BatchItemTotal, BatchSequence, BatchTotals, CoverageYear, EnrollmentCode, unit_name_key
from enrollment.services import BATCH_NUMBER_LETTERS
from enrollment.states import BatchKind, BatchState
from plans import premiums
from plans.models import BatchPremium, PremiumLine
from plans.services import plan_prices
from payments.models import Voucher, VoucherBatch
from rosters.models import EnrolmentRegistry, RosterEntry

PEOPLE_PER_BATCH = 40
INSTANT_SHARE = 0.25  # of the batches; instant batches are the small ones
NO_UNION_SHARE = 0.2
REFUND_SHARE = 0.05
CHUNK = 20_000
# The selections units make, with their weights (each passes plans.premiums.selection_errors).
SELECTIONS = [
    (("A0", "B0", "C0"), 45),
    (("A0", "B0", "C0", "A3"), 15),
    (("A0", "B0", "C0", "B3", "C3"), 10),
    (("A0", "B0", "C0", "A1", "B1", "C1"), 8),
    (("B0", "C0"), 8),
    (("A0", "C0"), 6),
    (("B0", "C0", "C3"), 5),
    (("A0", "B0", "C0", "A2", "B2", "C2"), 3),
]


def _prefix(year: int) -> str:
    return f"gen{year}_"


def _allocate_ids(model, count: int) -> list[int]:
    """`count` fresh primary keys: nextval() of the table's sequence on PostgreSQL (safe beside other
    writers), max + 1 … elsewhere (SQLite keeps its own counter above explicit ids)."""
    if not count:
        return []
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)", [table, count]
            )
            return [row[0] for row in cursor.fetchall()]
        cursor.execute(f'SELECT COALESCE(MAX(id), 0) FROM "{table}"')
        start = cursor.fetchone()[0] + 1
    return list(range(start, start + count))


class _Writer:
    """Rows as dicts of field attnames → the table, COPY on PostgreSQL; missing fields get their
    model default (auto_now fields: now)."""

    def __init__(self, now: dt.datetime):
        self.now = now
        self.counts: dict[str, int] = {}
        self.tables: list[str] = []  # in the order first written

    def write(self, model, rows: list[dict]) -> None:
        if not rows:
            return
        # The primary key is left to the table's sequence unless the rows carry it.
        fields = [field for field in model._meta.concrete_fields if not (field.primary_key and field.attname not in rows[0])]
        defaults = {}
        for field in fields:
            if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
                defaults[field.attname] = self.now
            elif field.has_db_default():
                defaults[field.attname] = getattr(field.db_default, "value", field.db_default)
            else:
                defaults[field.attname] = field.get_default()  # "" for text fields without a default
        self.counts[model._meta.label] = self.counts.get(model._meta.label, 0) + len(rows)
        if model._meta.db_table not in self.tables:
            self.tables.append(model._meta.db_table)
        if connection.vendor != "postgresql":
            model.objects.bulk_create([model(**{**defaults, **row}) for row in rows], batch_size=500)
            return
        names = [field.attname for field in fields]
        json_fields = {field.attname for field in fields if field.get_internal_type() == "JSONField"}
        columns = ", ".join(f'"{field.column}"' for field in fields)
        with connection.connection.cursor() as cursor:
            with cursor.copy(f'COPY "{model._meta.db_table}" ({columns}) FROM STDIN') as copy:
                for row in rows:
                    values = []
                    for name in names:
                        value = row[name] if name in row else defaults[name]
                        if name in json_fields and value is not None:
                            value = json.dumps(value, ensure_ascii=False)
                        values.append(value)
                    copy.write_row(values)


def generated_mobiles(seed: int, count: int) -> list[str]:
    """The mobiles of the first `count` generated roster entries for `seed`, in the order they are
    written: 11 digits from 1[3-9] (canonical, SPEC SEC-1). Their own random stream, so the names and
    IDs of a seed are the ones they were before entries had mobiles."""
    rng = random.Random(f"generate_enrolment mobiles {seed}")
    return [f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}" for _ in range(count)]


def _weighted_days(first: dt.date, last: dt.date, rng: random.Random, count: int, *, late: bool) -> list[dt.date]:
    """`count` days between first and last; `late`: more of them towards the deadline, as units do."""
    span = (last - first).days
    days = []
    for _ in range(count):
        fraction = rng.triangular(0, 1, 1 if late else 0.2)
        days.append(first + dt.timedelta(days=min(span, int(fraction * (span + 1)))))
    return days


class Command(BaseCommand):
    help = "生成一个保障年度的参保已完成批次（城市规模，用于统计和导出的基准测试）"

    def add_arguments(self, parser):
        parser.add_argument("--year", type=int, required=True, help="保障年度，须已存在并已设置保障项目")
        parser.add_argument("--people", type=int, default=1_000_000, help="参保人数（默认 1,000,000）")
        parser.add_argument("--people-rows", type=int, default=0, help="另为前若干批次写入人员名单，至少覆盖此人数")
        parser.add_argument("--seed", type=int, default=7)

    def handle(self, *args, year, people, people_rows, seed, **options):
        started = time.perf_counter()
        coverage_year = CoverageYear.objects.filter(year=year).first()
        if coverage_year is None:
            raise CommandError(f"{year}年度不存在，请先在后台设置保障年度。")
        prices = plan_prices(coverage_year=coverage_year)
        if set(prices) != set(premiums.ALL_CODES):
            raise CommandError(f"{year}年度的保障项目未设置齐全（A0–C3），请先设置保障项目。")
        if people < 1:
            raise CommandError("参保人数须大于0。")
        User = get_user_model()
        if User.objects.filter(username__startswith=_prefix(year)).exists():
            raise CommandError(f"{year}年度已生成过参保数据（账号 {_prefix(year)}…），不重复生成。")
        rng = random.Random(seed)
        with transaction.atomic():
            writer = _Writer(timezone.now())
            batch_ids = self._generate(coverage_year=coverage_year, prices=prices, people=people, rng=rng, writer=writer)
            if people_rows:
                self._people(coverage_year=coverage_year, batch_ids=batch_ids, wanted=people_rows, seed=seed, writer=writer)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                # Statistics now, not when autovacuum comes round: a plan made on an empty registry's
                # statistics reads the whole year's registry for every look-up (measured by bench/load.py:
                # 270–600 ms instead of 22 ms for a 500-row file's look-up).
                # Every table written: the accounts and codes too, which every unit page reads (a code
                # looked up through the codes' order instead of the account's index, 1 ms a page).
                for table in writer.tables:
                    cursor.execute(f'ANALYZE "{table}"')
        for label, count in writer.counts.items():
            self.stdout.write(f"{label}: {count:,}")
        self.stdout.write(self.style.SUCCESS(f"{year}年度：已生成 {people:,} 人的参保数据，用时 {time.perf_counter() - started:.1f} 秒"))

    # --- batches, totals, premiums, vouchers ---------------------------------------------------------

    def _generate(self, *, coverage_year: CoverageYear, prices, people: int, rng: random.Random, writer: _Writer) -> list[int]:
        from rosters.synthetic import unit_sizes

        year = coverage_year.year
        count = max(1, people // PEOPLE_PER_BATCH)
        sizes = unit_sizes(people=people, units=count, rng=rng) if count > 1 else [people]
        kinds = [BatchKind.INSTANT if rng.random() < INSTANT_SHARE and size < 200 else BatchKind.CENTRALISED for size in sizes]
        shanghai = timezone.get_default_timezone()
        opens = timezone.localtime(coverage_year.centralised_opens_at, shanghai).date()
        centralised_days = _weighted_days(opens, coverage_year.centralised_last_day, rng, count, late=True)
        instant_first = max(timezone.localtime(coverage_year.instant_opens_at, shanghai).date(), coverage_year.coverage_start)
        instant_days = _weighted_days(instant_first, coverage_year.coverage_end - dt.timedelta(days=1), rng, count, late=False)
        unions = self._unions()
        choices, weights = zip(*SELECTIONS)
        tiers = {True: premiums.tier_prices(prices, full_year=True), False: premiums.tier_prices(prices, full_year=False)}
        prices_json = {code: str(price) for code, price in prices.items()}

        user_ids = _allocate_ids(get_user_model(), count)
        code_ids = _allocate_ids(EnrollmentCode, count)
        batch_ids = _allocate_ids(Batch, count)
        premium_ids = _allocate_ids(BatchPremium, count)
        voucher_ids = _allocate_ids(Voucher, count)
        numbers = self._batch_numbers(year=year, kinds=kinds)
        codes = self._code_texts(count)
        password = "!"  # unusable: nobody logs in as a generated unit

        def at(day: dt.date, hour: int) -> dt.datetime:
            return dt.datetime.combine(day, dt.time(hour, rng.randrange(60)), tzinfo=shanghai)

        for start in range(0, count, CHUNK):
            rows = {name: [] for name in ("users", "codes", "batches", "totals", "items", "premiums", "lines", "vouchers", "voucher_batches")}
            for index in range(start, min(start + CHUNK, count)):
                size, kind = sizes[index], kinds[index]
                name = f"上海生成{index + 1:06d}号单位"
                submitted_day = centralised_days[index] if kind == BatchKind.CENTRALISED else instant_days[index]
                submitted = at(submitted_day, 9 + rng.randrange(8))
                if kind == BatchKind.CENTRALISED:
                    cover_from = coverage_year.coverage_start
                else:
                    cover_from = submitted_day + dt.timedelta(days=1)  # SPEC COV-1: the day after 清册提交
                full_year = premiums.is_full_year(start=cover_from, half_year_from=coverage_year.half_year_price_from)
                social = size - int(size * rng.uniform(0, 0.1)) if size > 10 else size  # VAL-4: small units all 社保
                other = size - social
                selection = rng.choices(choices, weights)[0]
                if other and selection == ("A0",):
                    selection = ("A0", "B0", "C0")
                table = premiums.premium_table(
                    selection, prices=prices, full_year=full_year, bundle_discount=coverage_year.bundle_discount,
                    social_security_people=social, other_people=other,
                )
                total = table.total
                confirmed_at = submitted + dt.timedelta(days=rng.randrange(0, 3), hours=1)
                paid_at = confirmed_at + dt.timedelta(days=rng.randrange(1, 10))
                reviewed_at = paid_at + dt.timedelta(days=rng.randrange(0, 5), hours=2)
                level1, level2 = (None, None) if rng.random() < NO_UNION_SHARE else rng.choice(unions)
                refund = Decimal(rng.randrange(1, 500)) if rng.random() < REFUND_SHARE else Decimal("0")
                user_id, code_id, batch_id, premium_id, voucher_id = (
                    user_ids[index], code_ids[index], batch_ids[index], premium_ids[index], voucher_ids[index]
                )
                rows["users"].append(
                    {"id": user_id, "username": f"{_prefix(coverage_year.year)}{index + 1:06d}", "password": password,
                     "role": Role.UNIT_ADMIN, "unit_name": name, "is_active": True, "is_staff": False,
                     "is_superuser": False, "date_joined": submitted - dt.timedelta(days=30)}
                )
                rows["codes"].append(
                    {"id": code_id, "code": codes[index], "unit_name": name, "name_key": unit_name_key(name), "account_id": user_id,
                     "bound_at": submitted - dt.timedelta(days=20), "source": EnrollmentCode.Source.IMPORTED}
                )
                rows["batches"].append(
                    {"id": batch_id, "number": numbers[index], "coverage_year_id": coverage_year.pk, "code_id": code_id,
                     "unit_name": name, "account_id": user_id, "kind": kind, "state": BatchState.COMPLETED,
                     "roster_version": 1, "validated_version": 1, "submitted_at": submitted,
                     "coverage_start": cover_from, "coverage_end": coverage_year.coverage_end,
                     "created_at": submitted - dt.timedelta(days=2), "updated_at": reviewed_at}
                )
                rows["totals"].append(
                    {"batch_id": batch_id, "people": size, "social_security_people": social, "submitted_on": submitted_day,
                     "union_level1_id": level1, "union_level2_id": level2, "premium": total,
                     "premium_confirmed_on": timezone.localtime(confirmed_at, shanghai).date()}
                )
                for code, (item_people, amount) in premiums.item_totals(table, prices=prices).items():
                    rows["items"].append({"batch_id": batch_id, "code": code, "people": item_people, "premium": amount})
                rows["premiums"].append(
                    {"id": premium_id, "batch_id": batch_id, "codes": " ".join(selection), "full_year": full_year,
                     "prices": prices_json, "bundle_discount": coverage_year.bundle_discount,
                     "social_security_people": social, "other_people": other, "total": total,
                     "approved_state": BatchState.ROSTER_APPROVED, "confirmed_at": confirmed_at, "confirmed_by_id": user_id,
                     "payment_due": timezone.localtime(confirmed_at, shanghai).date() + dt.timedelta(days=coverage_year.payment_deadline_days)}
                )
                for position, line in enumerate(table.lines, 1):
                    rows["lines"].append(
                        {"premium_id": premium_id, "position": position, "label": line.label, "standard": line.standard,
                         "discount": line.discount, "social_security_people": line.social_security_people,
                         "social_security_amount": line.social_security_amount, "other_people": line.other_people,
                         "other_amount": line.other_amount, "amount": line.amount}
                    )
                rows["vouchers"].append(
                    {"id": voucher_id, "account_id": user_id, "payer": name, "method": "online", "amount": total + refund,
                     "account_kind": "active", "premiums": total, "refund_amount": refund,
                     "refund_account_kind": "active" if refund else "", "refund_account_cipher": "",
                     "refund_account_name": name if refund else "", "refund_bank": "中国工商银行" if refund else "",
                     "refund_method": "transfer" if refund else "", "status": Voucher.Status.APPROVED,
                     "submitted_at": paid_at, "reviewed_at": reviewed_at, "reject_reason": ""}
                )
                rows["voucher_batches"].append({"voucher_id": voucher_id, "batch_id": batch_id, "premium": total})
            writer.write(get_user_model(), rows["users"])
            writer.write(EnrollmentCode, rows["codes"])
            writer.write(Batch, rows["batches"])
            writer.write(BatchTotals, rows["totals"])
            writer.write(BatchItemTotal, rows["items"])
            writer.write(BatchPremium, rows["premiums"])
            writer.write(PremiumLine, rows["lines"])
            writer.write(Voucher, rows["vouchers"])
            writer.write(VoucherBatch, rows["voucher_batches"])
            self.stdout.write(f"  {min(start + CHUNK, count):,} / {count:,} 个批次")
        return batch_ids

    def _unions(self) -> list[tuple[int, int | None]]:
        """(level 1, level 2 or None) pairs of the seeded organisations; a level 1 alone as often as
        each of its level 2s."""
        level1 = list(UnionOrganisation.objects.filter(level=1).values_list("pk", flat=True))
        if not level1:
            raise CommandError("没有工会组织数据，请先运行数据迁移（accounts 0003）。")
        children: dict[int, list[int]] = {}
        for pk, parent in UnionOrganisation.objects.filter(level=2).values_list("pk", "parent_id"):
            children.setdefault(parent, []).append(pk)
        return [(pk, None) for pk in level1] + [(parent, pk) for parent, pks in children.items() for pk in pks]

    def _batch_numbers(self, *, year: int, kinds: list[str]) -> list[str]:
        """SPEC BAT-9 numbers from the year's sequences, moved on by as many, so that later batches of
        the portal do not collide with the generated ones."""
        numbers, next_of = [], {}
        for kind in BatchKind:
            sequence, _ = BatchSequence.objects.select_for_update().get_or_create(year=year, kind=kind)
            prefix = f"{year}{BATCH_NUMBER_LETTERS[kind]}"
            highest = Batch.objects.filter(number__startswith=prefix).aggregate(number=Max("number"))["number"]
            # numbers written without the sequence (imports, test data) are skipped as well
            next_of[kind.value] = max(sequence.last, int(highest[len(prefix):]) if highest and highest[len(prefix):].isdigit() else 0)
        for kind in kinds:
            next_of[kind] += 1
            numbers.append(f"{year}{BATCH_NUMBER_LETTERS[kind]}{next_of[kind]:06d}")
        if max(next_of.values()) > 999_999:
            raise CommandError("批次号超出6位序号，请减少参保人数。")
        for kind, last in next_of.items():
            BatchSequence.objects.filter(year=year, kind=kind).update(last=last)
        return numbers

    def _code_texts(self, count: int) -> list[str]:
        """6-character codes "Z" + 5 base-36 digits that no existing code has."""
        taken = set(EnrollmentCode.objects.filter(code__startswith="Z").values_list("code", flat=True))
        alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
        codes, number = [], 0
        while len(codes) < count:
            value, digits = number, []
            for _ in range(5):
                value, digit = divmod(value, 36)
                digits.append(alphabet[digit])
            text = "Z" + "".join(reversed(digits))
            number += 1
            if text not in taken:
                codes.append(text)
        return codes

    # --- people (optional) ---------------------------------------------------------------------------

    def _people(self, *, coverage_year: CoverageYear, batch_ids: list[int], wanted: int, seed: int, writer: _Writer) -> None:
        """Roster entries and registry rows of the first batches until `wanted` people are covered (whole
        batches, so each batch's roster matches its totals)."""
        from mutualaid.pii_bulk import BulkPiiProtector
        from rosters.models import IdType, Sex, WorkStatus
        from rosters.synthetic import resident_ids

        totals = dict(BatchTotals.objects.filter(batch_id__in=batch_ids).values_list("batch_id", "people"))
        social = dict(BatchTotals.objects.filter(batch_id__in=batch_ids).values_list("batch_id", "social_security_people"))
        chosen, covered = [], 0
        for batch_id in batch_ids:
            if covered >= wanted:
                break
            chosen.append(batch_id)
            covered += totals[batch_id]
        ids = iter(resident_ids(covered, seed=seed, year=coverage_year.year))
        mobiles = iter(generated_mobiles(seed, covered))
        batches = {row["id"]: row for row in Batch.objects.filter(pk__in=chosen).values("id", "coverage_start", "coverage_end")}
        surnames, given = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗", "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华"
        rng = random.Random(seed)
        # The importer's fast path (rosters/importer/rows.py _protect): the same hash and cipher formats
        # as mutualaid.pii, keys and nonces prepared once a chunk rather than once a value.
        protector = BulkPiiProtector.current()
        protect, seal = protector.begin_chunk(CHUNK), protector.begin_sealing(CHUNK)
        entries, registry = [], []
        for batch_id in chosen:
            batch = batches[batch_id]
            for position in range(totals[batch_id]):
                id_number = next(ids)
                id_hash, id_cipher, _digest = protect(id_number)
                entries.append(
                    {"batch_id": batch_id, "id_type": IdType.RESIDENT, "id_hash": id_hash, "id_cipher": id_cipher,
                     "name": rng.choice(surnames) + rng.choice(given) + rng.choice(given),
                     "birth_date": dt.date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14])),
                     "sex": Sex.MALE if int(id_number[16]) % 2 else Sex.FEMALE,
                     "mobile_cipher": seal(next(mobiles)),  # SPEC SEC-4, LOOK-1
                     "has_social_security": position < social[batch_id], "work_status": WorkStatus.ACTIVE,
                     "is_suggested": True, "medical_active": True, "still_contributing": False, "unmatched_confirmed": False,
                     "coverage_start": batch["coverage_start"], "coverage_end": batch["coverage_end"]}
                )
                registry.append({"year": coverage_year.year, "id_hash": id_hash, "batch_id": batch_id})
            if len(entries) >= CHUNK:
                writer.write(RosterEntry, entries)
                writer.write(EnrolmentRegistry, registry)
                entries, registry = [], []
                protect, seal = protector.begin_chunk(CHUNK), protector.begin_sealing(CHUNK)
        writer.write(RosterEntry, entries)
        writer.write(EnrolmentRegistry, registry)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(f'ANALYZE "{RosterEntry._meta.db_table}"')
