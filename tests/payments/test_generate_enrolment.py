"""manage.py generate_enrolment (issue 10 items 2 and 5): completed batches for N people in bulk, whose
figures add up (the statistics read them as they read the portal's own), refused a second time."""
import io
import re
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Sum

from enrollment.models import Batch, BatchItemTotal, BatchTotals, EnrollmentCode
from enrollment.states import BatchKind, BatchState
from mutualaid.identifiers import canonical_mobile
from mutualaid.pii import pii_decrypt, pii_hash
from payments.management.commands.generate_enrolment import generated_mobiles
from payments import statistics
from payments.models import Voucher, VoucherBatch
from plans.models import BatchPremium, PremiumLine
from rosters.models import EnrolmentRegistry, RosterEntry

pytestmark = pytest.mark.django_db


def generate(*args):
    out = io.StringIO()
    call_command("generate_enrolment", "--year", "2023", *args, stdout=out)
    return out.getvalue()


def test_counts_add_up(handbook_year, union_organisations):
    output = generate("--people", "4000")
    assert "已生成 4,000 人" in output
    batches = Batch.objects.filter(coverage_year=handbook_year)
    assert batches.count() == 100  # about 40 a batch
    assert set(batches.values_list("state", flat=True)) == {BatchState.COMPLETED}
    assert set(batches.values_list("kind", flat=True)) == {BatchKind.CENTRALISED, BatchKind.INSTANT}
    assert BatchTotals.objects.aggregate(people=Sum("people"))["people"] == 4000
    assert not RosterEntry.objects.exists()  # no people by default
    # the premium tables, the item totals, the totals and the vouchers tell the same amounts
    premium = BatchPremium.objects.aggregate(t=Sum("total"))["t"]
    assert PremiumLine.objects.aggregate(t=Sum("amount"))["t"] == premium
    assert BatchItemTotal.objects.aggregate(t=Sum("premium"))["t"] == premium
    assert BatchTotals.objects.aggregate(t=Sum("premium"))["t"] == premium
    assert VoucherBatch.objects.aggregate(t=Sum("premium"))["t"] == premium
    assert Voucher.objects.filter(status=Voucher.Status.APPROVED).count() == 100
    vouchers = Voucher.objects.aggregate(amount=Sum("amount"), refund=Sum("refund_amount"))
    assert vouchers["amount"] - vouchers["refund"] == premium
    # premiums are the people times the prices: every person has at least one basic item
    a0_b0_c0 = {row.code: row.people for row in statistics.statistics_by_item(coverage_year=handbook_year)}
    assert max(a0_b0_c0["B0"], a0_b0_c0["A0"]) <= 4000
    figures = statistics.statistics_of_year(coverage_year=handbook_year)
    assert figures.people == 4000 and figures.units == 100
    assert figures.money.confirmed == figures.money.paid == premium
    assert sum(row.people for row in figures.unions) == 4000
    assert any(row.name == statistics.NO_UNION for row in figures.unions)
    assert sum(row.cumulative_people for row in figures.days[-1:]) == 4000
    # generated batch numbers follow the year's sequence (SPEC BAT-9)
    assert Batch.objects.filter(number="2023J000001").exists()


def test_people_rows_cover_whole_batches(handbook_year, union_organisations):
    generate("--people", "2000", "--people-rows", "150")
    entries = RosterEntry.objects.all()
    assert entries.count() >= 150
    for batch_id in entries.values_list("batch_id", flat=True).distinct():
        totals = BatchTotals.objects.get(batch_id=batch_id)
        assert entries.filter(batch_id=batch_id).count() == totals.people
        assert entries.filter(batch_id=batch_id, has_social_security=True).count() == totals.social_security_people
    assert EnrolmentRegistry.objects.filter(year=2023).count() == entries.count()
    assert entries.values("id_hash").distinct().count() == entries.count()
    entry = entries.first()
    assert len(entry.id_number) == 18 and entry.birth_date.isoformat().replace("-", "") == entry.id_number[6:14]
    assert entry.id_hash == pii_hash(entry.id_number)  # found by the portal's own look-ups


def test_people_rows_have_mobiles_that_decrypt_the_same_for_the_same_seed(handbook_year, union_organisations):
    """SPEC ROS-7 [departure], LOOK-1, SEC-4: every generated entry has a 手机号, stored as a cipher only,
    so a benchmark of 参保查询 reaches the SMS step; generated_mobiles(seed, N) tells which."""
    generate("--people", "400", "--people-rows", "100", "--seed", "11")
    entries = list(RosterEntry.objects.order_by("pk"))
    stored = [pii_decrypt(entry.mobile_cipher) for entry in entries]
    assert stored == generated_mobiles(11, len(entries))
    assert all(canonical_mobile(mobile) == (mobile, None) and re.fullmatch(r"1[3-9]\d{9}", mobile) for mobile in stored)
    assert not RosterEntry.objects.filter(mobile_cipher="").exists()
    assert generated_mobiles(11, 5) == generated_mobiles(11, 5) != generated_mobiles(12, 5)


def test_a_second_run_for_the_year_is_refused(handbook_year, union_organisations):
    generate("--people", "200")
    with pytest.raises(CommandError, match="2023年度已生成过参保数据"):
        generate("--people", "200")
    assert Batch.objects.count() == 5


def test_a_year_that_does_not_exist_is_refused(union_organisations):
    with pytest.raises(CommandError, match="2031年度不存在"):
        call_command("generate_enrolment", "--year", "2031", "--people", "10", stdout=io.StringIO())


@pytest.mark.skipif(connection.vendor != "postgresql", reason="ANALYZE and pg_class are PostgreSQL's")
def test_every_table_written_has_statistics(handbook_year, union_organisations):
    """The planner's statistics for every table written, the accounts and codes included (OPS-3): without
    them every unit page's code look-up walked the codes' order (1 ms) instead of the account's index."""
    tables = [get_user_model()._meta.db_table, EnrollmentCode._meta.db_table, Batch._meta.db_table, Voucher._meta.db_table]
    generate("--people", "400")
    with connection.cursor() as cursor:
        cursor.execute("SELECT relname, reltuples FROM pg_class WHERE relname = ANY(%s)", [tables])
        analysed = {name for name, tuples in cursor.fetchall() if tuples >= 0}  # -1: never analysed
    assert analysed == set(tables)
