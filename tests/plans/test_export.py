"""【保费详细】's 【导出】 (SPEC PREM-3, COV-2, X-1): the .xlsx opens in openpyxl, IDs are masked, the header
is frozen, the 合计 row equals the confirmed premium and the second sheet is the 保费信息 table."""
import datetime as dt
import io
from decimal import Decimal
from urllib.parse import quote

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from enrollment.states import BatchKind
from plans.models import BatchPremium
from plans.services import premium_confirm, premium_generate
from tests.mutualaid.export_helpers import export_download
from tests.factories import SHANGHAI, make_entry, resident_id
from tests.plans.helpers import approved_batch

pytestmark = pytest.mark.django_db

CODES = ["A0", "B0", "C0", "A3", "B3", "C3"]
AT = dt.datetime(2023, 6, 15, 10, 0, tzinfo=SHANGHAI)


def export(client, batch):
    """【导出】 starts a background export (mutualaid.exports); follow it to its file."""
    client.force_login(batch.account)
    response = export_download(client, reverse("plans:premium_export", kwargs={"number": batch.number}))
    return response, load_workbook(io.BytesIO(b"".join(response.streaming_content)))


def rows_of(sheet) -> list[tuple]:
    return [tuple(row) for row in sheet.iter_rows(values_only=True)]


def amount(value) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


def test_workbook_people_masked_ids_and_total_row(client, handbook_year):
    batch = approved_batch(year=handbook_year, social_security=4, without_social_security=2)
    number = resident_id(dt.date(1976, 5, 20), 427)  # not the helpers' default birth date
    make_entry(
        batch, name="胡庆庆", id_number=number, has_social_security=True,
        coverage_start=handbook_year.coverage_start, coverage_end=handbook_year.coverage_end,
    )
    premium = premium_confirm(batch=batch, codes=CODES, acting_user=batch.account, at=AT)

    response, workbook = export(client, batch)

    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert quote(f"保费详细_{batch.number}_") in response["Content-Disposition"]
    assert workbook.sheetnames == ["保费详细", "保费信息"]
    sheet = workbook["保费详细"]
    rows = rows_of(sheet)
    assert rows[0] == ("姓名", "证件号码", "证件类型", "是否有社保", "参加项目", "费用（元）", "起保日期", "终保日期")
    assert sheet.freeze_panes == "A2"
    people = rows[1:-1]
    assert len(people) == 7
    assert people[0] == ("社保0", people[0][1], "身份证", "是", "A0 B0 C0 A3 B3 C3", 1195, "2023-07-01", "2024-06-30")
    assert people[4][3:6] == ("否", "B0 C0 A3 B3 C3", 1085)
    # SPEC X-1: masked, never the full number
    everything = repr(rows)
    assert number not in everything
    assert ("胡庆庆", f"{number[:4]}*****{number[-4:]}") == people[6][:2]
    assert all("*" in row[1] for row in people)
    # the 合计 row: people and the confirmed 总计 (SPEC PREM-3)
    total = rows[-1]
    assert total[0] == "合计" and total[3] == "7人"
    assert amount(total[5]) == premium.total == Decimal("8145.00")  # 5 × 1,195 + 2 × 1,085
    assert sum(amount(row[5]) for row in people) == premium.total
    assert sheet.cell(row=2, column=6).number_format == "0.00"


def test_second_sheet_is_the_premium_table(client, handbook_year):
    batch = approved_batch(year=handbook_year, social_security=4)
    premium = premium_confirm(batch=batch, codes=CODES, acting_user=batch.account, at=AT)

    _, workbook = export(client, batch)

    rows = rows_of(workbook["保费信息"])
    assert rows[0] == ("参加项目", "费用标准", "优惠金额", "社保人员人数", "社保人员实际费用", "非社保人员人数", "非社保人员实际费用", "合计费用")
    # SPEC PREM-3's worked example: A0B0C0 4 × 180 = 720, A3 1,320, B3 1,840, C3 900, total 4,780.
    lines = {row[0]: (amount(row[1]), amount(row[2]), row[3], amount(row[7])) for row in rows[1:-1]}
    assert lines == {
        "A0 B0 C0": (Decimal("190.00"), Decimal("10.00"), 4, Decimal("720.00")),
        "A3": (Decimal("330.00"), Decimal("0.00"), 4, Decimal("1320.00")),
        "B3": (Decimal("460.00"), Decimal("0.00"), 4, Decimal("1840.00")),
        "C3": (Decimal("225.00"), Decimal("0.00"), 4, Decimal("900.00")),
    }
    assert rows[-1][0] == "总计" and amount(rows[-1][7]) == premium.total == Decimal("4780.00")


def test_instant_batch_has_an_effective_date_per_item(client, handbook_year):
    batch = approved_batch(
        year=handbook_year, kind=BatchKind.INSTANT, social_security=1, without_social_security=1,
        start=dt.date(2023, 9, 15),
    )
    premium_confirm(batch=batch, codes=["A0", "B2", "C0"], acting_user=batch.account, at=dt.datetime(2023, 9, 14, tzinfo=SHANGHAI))

    _, workbook = export(client, batch)

    rows = rows_of(workbook["保费详细"])
    assert rows[0][-3:] == ("A0生效日期", "C0生效日期", "B2生效日期")  # basic items first, as the handbook
    # SPEC COV-2: A 30 days, B 60 days, C none; a person without 社保 has no A0 (PLAN-3).
    assert rows[1][-3:] == ("2023-10-15", "2023-09-15", "2023-11-14")
    assert rows[2][-3:] == ("-", "2023-09-15", "2023-11-14")


def test_preview_export_before_confirmation_totals_the_saved_selection(client, handbook_year):
    batch = approved_batch(year=handbook_year, social_security=2, without_social_security=1)
    _, table = premium_generate(batch=batch, codes=["A0", "B0", "C0"], acting_user=batch.account)

    _, workbook = export(client, batch)

    rows = rows_of(workbook["保费详细"])
    assert amount(rows[-1][5]) == table.total == Decimal("430.00")  # 2 × 180 + 1 × (55 + 15)
    assert not BatchPremium.objects.filter(batch=batch).exists()


def test_large_batch_exports_every_person(client, handbook_year):
    batch = approved_batch(year=handbook_year, social_security=120, without_social_security=30)
    premium = premium_confirm(batch=batch, codes=["A0", "B0", "C0"], acting_user=batch.account, at=AT)

    _, workbook = export(client, batch)

    rows = rows_of(workbook["保费详细"])
    assert len(rows) == 1 + 150 + 1
    assert amount(rows[-1][5]) == premium.total == Decimal("120") * 180 + Decimal("30") * 70
