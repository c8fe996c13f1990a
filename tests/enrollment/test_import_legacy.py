"""manage.py import_legacy: the old platform's accounts, codes and units (SPEC ACC-7 [interpretation],
CODE-5, CODE-6, X-2), and binding an imported code at first use."""
import io

import pytest
from auditlog.models import LogEntry
from django.core.management import CommandError, call_command
from django.urls import reverse

from accounts.models import UnionOrganisation, User
from enrollment.models import EnrollmentCode, Unit, unit_name_key
from enrollment.services import EnrollmentError, code_bind
from mutualaid.validators import uscc_check_character
from tests.enrollment.helpers import ACCOUNT_HEADER, CODE_HEADER, UNIT_HEADER
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def uscc(first17: str) -> str:
    return first17 + uscc_check_character(first17)


USCC_A = uscc("91310107MA1G0TQ2X")
USCC_B = uscc("91310000132206289")
BAD_USCC = USCC_A[:-1] + ("0" if USCC_A[-1] != "0" else "1")


ACCOUNTS = [
    ACCOUNT_HEADER,
    f"cf-legacy,上海长风示范科技有限公司,{USCC_A},13912345678,hr@example.com,普陀区总工会",
    f"jd-legacy,上海示范机电有限公司,{USCC_B},,,未建会",
]
CODES = [
    CODE_HEADER,
    f"0072J3,上海长风示范科技有限公司,{USCC_A}",
    "09000x,上海示范机电有限公司,",
]
UNITS = [
    UNIT_HEADER,
    f"0072J3,上海长风示范科技有限公司,{USCC_A},企业,上海市普陀区长风路1号,200062,021-52345678,120",
    "0072J3,上海长风示范科技有限公司第一分公司,,企业,上海市普陀区长风路3号,200062,,30",
    "09000X,上海示范机电有限公司,,事业单位,上海市黄浦区南京东路5号,200001,,45",
]


def write(tmp_path, name, lines, encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))
    return path


def run(**files):
    """call_command with the given files; (stdout lines, stderr lines)."""
    out, err = io.StringIO(), io.StringIO()
    arguments = []
    for kind, path in files.items():
        if kind == "dry_run":
            arguments.append("--dry-run")
        else:
            arguments += [f"--{kind}", str(path)]
    call_command("import_legacy", *arguments, stdout=out, stderr=err)
    return out.getvalue().splitlines(), err.getvalue().splitlines()


@pytest.fixture
def files(tmp_path, union_organisations):
    return {
        "accounts": write(tmp_path, "accounts.csv", ACCOUNTS),
        "codes": write(tmp_path, "codes.csv", CODES),
        "units": write(tmp_path, "units.csv", UNITS),
    }


def test_it_creates_accounts_codes_and_units(files):
    out, err = run(**files)

    assert err == []
    assert out == [
        "账号文件（accounts.csv）：读取 2 行，新增 2，更新 0，错误 0",
        "参保编码文件（codes.csv）：读取 2 行，新增 2，更新 0，错误 0",
        "参保单位文件（units.csv）：读取 3 行，新增 3，更新 0，错误 0",
    ]
    changfeng = User.objects.get(username="cf-legacy")
    assert changfeng.is_unit_admin and changfeng.is_active and not changfeng.is_staff
    assert not changfeng.has_usable_password()  # reset through the union or by e-mail (SPEC ACC-3)
    assert (changfeng.unit_name, changfeng.uscc, changfeng.mobile) == ("上海长风示范科技有限公司", USCC_A, "13912345678")
    assert changfeng.union_organisation == UnionOrganisation.objects.get(name="普陀区总工会")
    assert changfeng.email == "hr@example.com" and changfeng.email_confirmed
    jidian = User.objects.get(username="jd-legacy")
    assert jidian.union_organisation is None and jidian.email == "" and not jidian.email_confirmed

    # SPEC CODE-5: imported codes belong to no account until their first use.
    code = EnrollmentCode.objects.get(code="0072J3")
    assert code.source == EnrollmentCode.Source.IMPORTED and code.account is None and code.bound_at is None
    assert code.name_key == unit_name_key("上海长风示范科技有限公司") and code.uscc == USCC_A
    assert EnrollmentCode.objects.get(code="09000X").unit_name == "上海示范机电有限公司"

    # SPEC CODE-6: the first unit of a code is its lead unit.
    units = {unit.name: unit for unit in Unit.objects.filter(code=code)}
    assert units["上海长风示范科技有限公司"].is_lead and not units["上海长风示范科技有限公司第一分公司"].is_lead
    lead = units["上海长风示范科技有限公司"]
    assert (lead.nature, lead.address, lead.postcode, lead.phone, lead.headcount) == (
        "企业", "上海市普陀区长风路1号", "200062", "021-52345678", 120,
    )
    assert lead.name_key == unit_name_key(lead.name)
    assert Unit.objects.get(code__code="09000X").is_lead


def test_bad_lines_are_reported_with_line_number_and_reason_and_the_good_ones_imported(tmp_path, union_organisations):
    accounts = write(tmp_path, "accounts.csv", [
        ACCOUNT_HEADER,
        f"good-one,上海好单位有限公司,{USCC_A},13912345678,a@example.com,未建会",
        f"bad-uscc,上海坏代码有限公司,{BAD_USCC},,,未建会",
        "bad-union,上海某单位,,,,不存在的工会",
        "GOOD-ONE,上海重复有限公司,,,,未建会",
        "bad-mobile,上海某单位二,,1391234,,未建会",
        "no-union,上海某单位三,,,,",
    ])
    codes = write(tmp_path, "codes.csv", [
        CODE_HEADER,
        "0072J3,上海好单位有限公司,",
        "72J3,格式不对,",
        "0072j3,重复的编码,",
        "ABC123,,",
    ])
    units = write(tmp_path, "units.csv", [
        UNIT_HEADER,
        "0072J3,上海好单位有限公司,,企业,地址,200000,,10",
        "ZZZZZZ,无此编码的单位,,,,,,",
        "0072J3,人数不对的单位,,,,,,0",
        "0072J3,性质不对的单位,,公司,,,,",
        "0072J3,上海好单位有限公司,,,,,,",
    ])

    out, err = run(accounts=accounts, codes=codes, units=units)

    expected_uscc = uscc_check_character(USCC_A[:17])
    assert err == [
        f"账号文件 第 3 行：统一社会信用代码校验位错误（应为 {expected_uscc}），请核对。",
        "账号文件 第 4 行：上级工会“不存在的工会”不存在或已停用（请填写工会组织全称或“未建会”）",
        "账号文件 第 5 行：账号“GOOD-ONE”与第 2 行重复",
        "账号文件 第 6 行：请输入11位手机号码。",
        "账号文件 第 7 行：上级工会为空（没有工会的单位请填“未建会”）",
        "参保编码文件 第 3 行：参保编码“72J3”格式不正确（应为6位数字或大写字母）",
        "参保编码文件 第 4 行：参保编码 0072J3 与第 2 行重复",
        "参保编码文件 第 5 行：单位名称为空",
        "参保单位文件 第 3 行：参保编码 ZZZZZZ 不存在（请先导入参保编码）",
        "参保单位文件 第 4 行：在职人数“0”须为大于0的整数",
        "参保单位文件 第 5 行：单位性质“公司”不在列表中（企业、机关、事业单位、社会团体、民办非企业单位、其他）",
        "参保单位文件 第 6 行：与第 2 行重复（同一参保编码下的同名单位）",
    ]
    assert out == [
        "账号文件（accounts.csv）：读取 6 行，新增 1，更新 0，错误 5",
        "参保编码文件（codes.csv）：读取 4 行，新增 1，更新 0，错误 3",
        "参保单位文件（units.csv）：读取 5 行，新增 1，更新 0，错误 4",
    ]
    assert list(User.objects.values_list("username", flat=True)) == ["good-one"]
    assert list(EnrollmentCode.objects.values_list("code", flat=True)) == ["0072J3"]
    assert list(Unit.objects.values_list("name", flat=True)) == ["上海好单位有限公司"]


def test_running_twice_changes_nothing_and_a_changed_row_is_updated(tmp_path, files):
    run(**files)
    counts = (User.objects.count(), EnrollmentCode.objects.count(), Unit.objects.count())

    out, err = run(**files)

    assert err == []
    assert out == [
        "账号文件（accounts.csv）：读取 2 行，新增 0，更新 0，错误 0",
        "参保编码文件（codes.csv）：读取 2 行，新增 0，更新 0，错误 0",
        "参保单位文件（units.csv）：读取 3 行，新增 0，更新 0，错误 0",
    ]
    assert (User.objects.count(), EnrollmentCode.objects.count(), Unit.objects.count()) == counts

    # A corrected file updates the rows it changes, and only those.
    changed_units = write(tmp_path, "units.csv", [UNITS[0], UNITS[1].replace("长风路1号", "长风路8号"), *UNITS[2:]])
    changed_accounts = write(tmp_path, "accounts.csv", [ACCOUNTS[0], ACCOUNTS[1].replace("hr@example.com", "new@example.com"), ACCOUNTS[2]])
    out, _ = run(accounts=changed_accounts, units=changed_units)
    assert out == [
        "账号文件（accounts.csv）：读取 2 行，新增 0，更新 1，错误 0",
        "参保单位文件（units.csv）：读取 3 行，新增 0，更新 1，错误 0",
    ]
    assert Unit.objects.get(name="上海长风示范科技有限公司").address == "上海市普陀区长风路8号"
    assert User.objects.get(username="cf-legacy").email == "new@example.com"
    assert (User.objects.count(), EnrollmentCode.objects.count(), Unit.objects.count()) == counts


def test_the_first_unit_of_a_code_in_the_file_becomes_the_lead(tmp_path, files):
    run(**files)
    reordered = write(tmp_path, "units.csv", [UNITS[0], UNITS[2], UNITS[1], UNITS[3]])
    out, _ = run(units=reordered)
    assert out == ["参保单位文件（units.csv）：读取 3 行，新增 0，更新 2，错误 0"]
    leads = list(Unit.objects.filter(code__code="0072J3", is_lead=True).values_list("name", flat=True))
    assert leads == ["上海长风示范科技有限公司第一分公司"]


@pytest.mark.parametrize("encoding", ["gb18030", "utf-8-sig", "utf-8"])
def test_gb18030_and_utf8_with_or_without_bom_are_read(tmp_path, union_organisations, encoding):
    accounts = write(tmp_path, "accounts.csv", ACCOUNTS, encoding=encoding)
    codes = write(tmp_path, "codes.csv", CODES, encoding=encoding)
    if encoding == "utf-8-sig":
        assert accounts.read_bytes().startswith(b"\xef\xbb\xbf")

    out, err = run(accounts=accounts, codes=codes)

    assert err == [] and out[0].endswith("新增 2，更新 0，错误 0")
    assert User.objects.get(username="cf-legacy").unit_name == "上海长风示范科技有限公司"
    assert User.objects.get(username="cf-legacy").union_organisation.name == "普陀区总工会"
    assert EnrollmentCode.objects.get(code="09000X").unit_name == "上海示范机电有限公司"


def test_a_file_without_a_required_column_stops_everything_before_anything_is_written(tmp_path, files):
    broken_units = write(tmp_path, "units.csv", ["参保编码,单位名称", "0072J3,上海长风示范科技有限公司"])
    with pytest.raises(CommandError, match="缺少列 统一社会信用代码、单位性质"):
        run(accounts=files["accounts"], codes=files["codes"], units=broken_units)
    assert not User.objects.filter(username="cf-legacy").exists() and not EnrollmentCode.objects.exists()


def test_no_file_is_an_error():
    with pytest.raises(CommandError, match="请至少指定"):
        call_command("import_legacy", stdout=io.StringIO(), stderr=io.StringIO())


def test_a_dry_run_reports_and_writes_nothing(files):
    out, _ = run(dry_run=True, **files)
    assert out[0] == "账号文件（accounts.csv）：读取 2 行，新增 2，更新 0，错误 0（试运行，未写入）"
    assert not User.objects.filter(username="cf-legacy").exists()
    assert not EnrollmentCode.objects.exists() and not LogEntry.objects.filter(object_pk="import_legacy").exists()


def test_each_file_is_audited_as_one_event_with_its_counts(files):
    """SPEC X-2: a bulk import is one audit event with its counts (bulk writes bypass save())."""
    before = LogEntry.objects.count()
    run(**files)
    entries = list(LogEntry.objects.filter(object_pk="import_legacy").order_by("pk"))
    assert [entry.object_repr for entry in entries] == [
        "原平台数据导入：accounts.csv", "原平台数据导入：codes.csv", "原平台数据导入：units.csv",
    ]
    assert LogEntry.objects.count() == before + 3  # nothing per row
    accounts_entry = entries[0]
    assert accounts_entry.content_type.model_class() is User
    assert accounts_entry.additional_data["新增"] == 2 and accounts_entry.additional_data["错误"] == 0
    assert len(accounts_entry.additional_data["sha256"]) == 64
    assert accounts_entry.changes_text == "账号文件（accounts.csv）：读取 2 行，新增 2，更新 0，错误 0"


def test_rows_of_the_portal_are_not_overwritten(tmp_path, files):
    UserFactory(username="CF-LEGACY", role="reviewer")
    EnrollmentCode.objects.create(code="0072J3", unit_name="平台申请的单位", source="approved", account=UserFactory())
    out, err = run(accounts=files["accounts"], codes=files["codes"], units=files["units"])
    assert "账号文件 第 2 行：账号“CF-LEGACY”已存在，且不是单位账号，未修改" in err
    assert "参保编码文件 第 2 行：参保编码 0072J3 为平台在线申请所得，不能由导入修改" in err
    assert "参保单位文件 第 2 行：参保编码 0072J3 为平台在线申请所得，不能由导入修改" in err
    assert EnrollmentCode.objects.get(code="0072J3").unit_name == "平台申请的单位"


def test_an_existing_unit_account_with_another_uscc_is_not_overwritten(files):
    UserFactory(username="cf-legacy", uscc=USCC_B, unit_name="另一家单位")
    _, err = run(accounts=files["accounts"])
    assert err == [f"账号文件 第 2 行：账号“cf-legacy”已存在，但统一社会信用代码不同（{USCC_B}），未修改"]
    assert User.objects.get(username="cf-legacy").unit_name == "另一家单位"


def test_large_files_take_a_constant_number_of_queries(tmp_path, union_organisations, django_assert_max_num_queries):
    """STYLE.md §6: set-based look-ups and bulk writes, no query per row (SQLite's 999 parameters cut
    an insert into batches of about 50 rows; PostgreSQL takes 500)."""
    lines = [ACCOUNT_HEADER] + [f"unit{number:04d},上海单位{number}有限公司,,,,未建会" for number in range(600)]
    accounts = write(tmp_path, "accounts.csv", lines)
    codes = write(tmp_path, "codes.csv", [CODE_HEADER] + [f"{number:06d},上海单位{number}有限公司," for number in range(600)])
    with django_assert_max_num_queries(50):  # 1,200 rows
        out, _ = run(accounts=accounts, codes=codes)
    assert out[0].endswith("新增 600，更新 0，错误 0") and out[1].endswith("新增 600，更新 0，错误 0")


# --- CODE-5: an imported code is bound at first use ----------------------------------------------------


def test_an_imported_code_is_bound_at_first_use_and_refused_to_another_account(files):
    run(codes=files["codes"])
    first, second = UserFactory(username="first-unit"), UserFactory(username="second-unit")

    with pytest.raises(EnrollmentError, match="单位名称与参保编码登记的单位名称不一致"):
        code_bind(code="0072J3", unit_name="别的单位", account=first)
    bound = code_bind(code=" 0072j3 ", unit_name="上海长风示范科技有限公司", account=first)

    assert bound.account == first and bound.bound_at is not None
    assert code_bind(code="0072J3", unit_name="上海长风示范科技有限公司", account=first) == bound  # again: fine
    with pytest.raises(EnrollmentError) as refused:
        code_bind(code="0072J3", unit_name="上海长风示范科技有限公司", account=second)
    assert refused.value.message == "该参保编码已在其他平台账号中使用"
    # Re-running the import keeps the binding.
    out, _ = run(codes=files["codes"])
    assert out == ["参保编码文件（codes.csv）：读取 2 行，新增 0，更新 0，错误 0"]
    assert EnrollmentCode.objects.get(code="0072J3").account == first


def test_an_imported_account_can_reset_its_password_by_email(client, files):
    from django.core import mail

    run(accounts=files["accounts"])
    client.post(reverse("accounts:password_reset"), {"email": "hr@example.com"})
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["hr@example.com"]
