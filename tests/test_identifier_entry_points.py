"""SPEC SEC-1: every entry point of an identifier refuses one written with a digit of another
script, with a Chinese message naming the column, and hashes or stores nothing of it.

The issue's case: an ID number with one ARABIC-INDIC DIGIT ZERO (U+0660) in place of a "0" was
imported, validated and submitted beside the same person's plain enrolment in another unit.
"""
import io

import pytest
from django.core.management import call_command

from accounts.forms import RegistrationForm
from enrollment.forms import BatchOpenForm, CodeApplicationForm, HandlerInfoForm
from backoffice.search import backoffice_search
from rosters.forms import RosterEntryForm
from rosters.models import EnrolmentRegistry, PreviousEnrolment, RosterEntry, SuggestedPerson, UnionMember
from rosters.reference import reference_load
from rosters.selectors import roster_id_hashes
from tests.enrollment.helpers import ACCOUNT_HEADER, CODE_HEADER
from tests.factories import IMPORT_CODE, USCC, UserFactory, make_batch
from tests.rosters.importfiles import resident_id, row, template_xlsx, upload
from tests.rosters.referencefiles import MEMBERS_HEADER, PREVIOUS_HEADER, SUGGESTED_HEADER, suggested_rows, write_csv

pytestmark = pytest.mark.django_db

ARABIC_ZERO = "\u0660"
PERSON = resident_id("19900101", 101)
# The same person, one "0" written as "٠": int() and str.isdigit() take it for a zero.
PERSON_DISGUISED = PERSON.replace("0", ARABIC_ZERO, 1)
MOBILE_DISGUISED = "1391234567" + ARABIC_ZERO
USCC_DISGUISED = USCC.replace("0", ARABIC_ZERO, 1)
REFUSED = f"含有非标准字符“{ARABIC_ZERO}”"


def test_the_disguised_values_really_fool_python():
    assert PERSON_DISGUISED != PERSON and PERSON_DISGUISED.isdigit() and int(PERSON_DISGUISED) == int(PERSON)


def test_the_excel_importer_reports_the_row_and_imports_nothing(handbook_year):
    account = UserFactory(username="sec1-unit")
    batch = make_batch(account, year=handbook_year, code=IMPORT_CODE)
    from rosters.importer import roster_import_start

    result = roster_import_start(
        batch=batch,
        upload=upload(template_xlsx([row(number=PERSON_DISGUISED), row("李四", number=resident_id("19850615", 202), mobile=MOBILE_DISGUISED)])),
        acting_user=account,
    )
    assert (result.rows_read, result.rows_imported, result.rows_failed) == (2, 0, 2)
    [id_problem, mobile_problem] = result.problems
    assert id_problem["column"] == "证件号码"
    assert id_problem["reason"] == f"证件号码{REFUSED}，请使用半角数字和字母，请核对后重新导入"
    assert mobile_problem["column"] == "手机号" and f"手机号{REFUSED}" in mobile_problem["reason"]
    assert not RosterEntry.objects.exists()
    assert not EnrolmentRegistry.objects.exists()


def test_the_roster_entry_edit_refuses_the_mobile():
    form = RosterEntryForm(
        data={"name": "KIM", "birth_date": "1990-01-01", "sex": "男", "mobile": MOBILE_DISGUISED, "has_social_security": "True"}
    )
    assert not form.is_valid()
    assert form.errors["mobile"] == [f"手机号{REFUSED}，请使用半角数字和字母"]


def test_the_roster_search_hashes_nothing():
    assert roster_id_hashes(PERSON_DISGUISED) == []  # filter(id_hash__in=[]) matches no row
    assert roster_id_hashes(PERSON.lower()) == roster_id_hashes(PERSON)


def test_the_handler_information_refuses_the_mobile(union_organisations):
    form = HandlerInfoForm(data={"handler_name": "王五", "handler_mobile": MOBILE_DISGUISED})
    assert not form.is_valid()
    assert form.errors["handler_mobile"] == [f"经办人电话{REFUSED}，请使用半角数字和字母"]


def test_a_code_application_refuses_the_uscc_and_the_mobile(union_organisations):
    form = CodeApplicationForm(data={"uscc": USCC_DISGUISED, "contact_mobile": MOBILE_DISGUISED})
    assert not form.is_valid()
    assert form.errors["uscc"] == [f"统一社会信用代码{REFUSED}，请使用半角数字和字母"]
    assert form.errors["contact_mobile"] == [f"联系人手机{REFUSED}，请使用半角数字和字母"]


def test_opening_a_batch_refuses_the_enrollment_code():
    form = BatchOpenForm(data={"kind": "instant", "code": "0072J" + "\u0663", "unit_name": "某单位"})
    assert not form.is_valid()
    assert form.errors["code"] == ["参保编码含有非标准字符“\u0663”，请使用半角数字和字母"]


def test_registration_refuses_the_uscc_and_the_mobile(union_organisations):
    form = RegistrationForm(data={"uscc": USCC_DISGUISED, "mobile": MOBILE_DISGUISED})
    assert not form.is_valid()
    assert form.errors["uscc"] == [f"统一社会信用代码{REFUSED}，请使用半角数字和字母"]
    assert form.errors["mobile"] == [f"联系人手机{REFUSED}，请使用半角数字和字母"]


def test_the_back_office_search_says_why_and_looks_nobody_up(reviewer):
    result = backoffice_search(query=PERSON_DISGUISED, user=reviewer)
    assert result.problem == f"证件号码{REFUSED}，请使用半角数字和字母"
    assert not result.person and result.empty
    # A unit name is no identifier and is still searched by name.
    assert backoffice_search(query="上海某公司", user=reviewer).problem == ""


def test_the_back_office_search_page_shows_the_message(client, reviewer):
    client.force_login(reviewer)
    response = client.post("/backoffice/search/", {"q": PERSON_DISGUISED})
    assert response.status_code == 200
    assert f"证件号码{REFUSED}" in response.content.decode()


@pytest.mark.parametrize(
    "kind,header,bad_row,good_row,model",
    [
        # SPEC REF-1 through the loader's fast path for ASCII rows (the good one) and its slow path.
        ("suggested", SUGGESTED_HEADER, suggested_rows(PERSON_DISGUISED)[0], suggested_rows(PERSON)[0], SuggestedPerson),
        ("members", MEMBERS_HEADER, ["0072J3", "", "张三", PERSON_DISGUISED], ["0072J3", "", "张三", PERSON], UnionMember),
        ("members", MEMBERS_HEADER, ["", USCC_DISGUISED, "张三", PERSON], ["0072J3", "", "张三", PERSON], UnionMember),
        ("previous", PREVIOUS_HEADER, ["0072J3", "张三", PERSON_DISGUISED, "身份证"], ["0072J3", "张三", PERSON, "身份证"], PreviousEnrolment),
        ("previous", PREVIOUS_HEADER, ["0072J3", "KIM", "E12" + ARABIC_ZERO + "4567", "非身份证"], ["0072J3", "张三", PERSON, "身份证"], PreviousEnrolment),
        ("previous", PREVIOUS_HEADER, ["0072J" + ARABIC_ZERO, "张三", PERSON, "身份证"], ["0072J3", "张三", PERSON, "身份证"], PreviousEnrolment),
    ],
)
def test_reference_loads_reject_the_row(tmp_path, kind, header, bad_row, good_row, model):
    result = reference_load(kind=kind, path=write_csv(tmp_path / "load.csv", header, [good_row, bad_row]), year=2025)
    assert (result.read, result.loaded, result.rejected) == (2, 1, 1)
    [(line, reason, _raw)] = result.rejected_rows
    assert line == 3 and REFUSED in reason
    assert model.objects.filter(year=2025).count() == 1


def test_import_legacy_reports_the_lines(tmp_path, union_organisations):
    accounts = tmp_path / "accounts.csv"
    accounts.write_text("\r\n".join([
        ACCOUNT_HEADER,
        f"sec1-a,上海某单位,{USCC_DISGUISED},,,未建会",
        f"sec1-b,上海某单位二,,{MOBILE_DISGUISED},,未建会",
    ]) + "\r\n", encoding="utf-8")
    codes = tmp_path / "codes.csv"
    codes.write_text("\r\n".join([CODE_HEADER, "0072J" + ARABIC_ZERO + ",上海某单位,"]) + "\r\n", encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    call_command("import_legacy", "--accounts", str(accounts), "--codes", str(codes), stdout=out, stderr=err)
    report = out.getvalue() + err.getvalue()
    assert f"统一社会信用代码{REFUSED}" in report
    assert f"联系人手机{REFUSED}" in report
    assert f"参保编码{REFUSED}" in report
