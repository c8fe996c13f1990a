"""参保批次人员管理 through its pages (SPEC ROS-5, ROS-6, ROS-7, ROS-8, VAL-2, BAT-3, BAT-8, X-1, X-4)."""
import datetime as dt
import io
import re
from urllib.parse import quote

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.template import Context, Template
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import load_workbook

from enrollment.models import Batch
from enrollment.states import BatchKind, BatchState
from rosters.models import IdType, RosterEntry, Sex, WorkStatus
from rosters.selectors import roster_masked_id
from tests.mutualaid.export_helpers import export_download
from tests.factories import UserFactory, make_batch, make_entry, resident_id, roster_audit_events

pytestmark = pytest.mark.django_db

FOOTER = "显示第 {start} 到第 {end} 条记录，总共 {total} 条记录 每页显示 15 条记录"


@pytest.fixture
def batch(handbook_year):
    return make_batch(year=handbook_year)


@pytest.fixture
def client_of(client, batch):
    client.force_login(batch.account)
    return client


def roster_url(batch, **query) -> str:
    url = reverse("rosters:roster", kwargs={"number": batch.number})
    if query:
        url += "?" + "&".join(f"{key}={quote(str(value))}" for key, value in query.items())
    return url


def url(name, batch, entry=None) -> str:
    kwargs = {"number": batch.number}
    if entry is not None:
        kwargs["entry_id"] = entry.pk
    return reverse(f"rosters:{name}", kwargs=kwargs)


def page_text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def shown_names(response) -> list[str]:
    return re.findall(r'<td class="cell-name" data-label="姓名">([^<]*)</td>', response.content.decode())


def flash(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


# --- the list: columns, masks, search, filters, footer (SPEC ROS-6, X-1) --------------------------------


def test_columns_and_masked_ids(client_of, batch):
    number = resident_id(dt.date(1985, 3, 14), 427)
    make_entry(batch, name="胡庆庆", id_number=number, work_status=WorkStatus.ACTIVE, has_social_security=True, is_suggested=True)
    make_entry(batch, name="张贺", id_type=IdType.OTHER, id_number="31AB99917X", birth_date=dt.date(1990, 1, 1))

    response = client_of.get(roster_url(batch))

    assert response.status_code == 200
    html = response.content.decode()
    text = page_text(response)
    for header in ("姓名", "证件号码", "证件类型", "是否建议名单", "职退状态", "是否有社保", "起保日期", "终保日期", "操作"):
        assert f">{header}</th>" in html
    assert number not in html and "31AB99917X" not in html  # SPEC X-1: never the full number
    assert f"{number[:4]}*****{number[-4:]}" in html
    assert "31*****17X" in html
    assert "胡庆庆 " + f"{number[:4]}*****{number[-4:]} 身份证 是 在职 是 - - 查看" in text
    assert "张贺 31*****17X 非身份证 否 - 否 - - 查看 编辑 设置在职 删除" in text
    # the heading: batch number, unit, state badge, people count
    assert batch.number in text and batch.unit_name in text and "清册待校验" in text
    assert "参保人数 2 人" in text
    assert "参保批次人员管理" in text


def test_empty_roster_says_so(client_of, batch):
    response = client_of.get(roster_url(batch))
    assert "没有找到匹配的记录" in page_text(response)
    assert "总共 0 条记录 每页显示 15 条记录" in page_text(response)


def test_search_by_name_full_id_and_ss_unit_code(client_of, batch):
    number = resident_id(dt.date(1979, 11, 2), 333)
    make_entry(batch, name="王小梅", id_number=number, ss_unit_code="00108537")
    make_entry(batch, name="王大梅", ss_unit_code="00108538")
    make_entry(batch, name="李雷", ss_unit_code="00108537")

    assert shown_names(client_of.get(roster_url(batch, name="梅"))) == ["王小梅", "王大梅"]
    # 证件号: the full number, exact, through the hash; typed in lower case or with spaces it still matches.
    assert shown_names(client_of.get(roster_url(batch, id_number=f" {number.lower()} "))) == ["王小梅"]
    assert shown_names(client_of.get(roster_url(batch, id_number=number[:14]))) == []
    assert shown_names(client_of.get(roster_url(batch, ss_unit_code="00108537"))) == ["王小梅", "李雷"]
    response = client_of.get(roster_url(batch, name="梅", ss_unit_code="00108538"))
    assert shown_names(response) == ["王大梅"]
    assert "参保人数 3 人" in page_text(response)  # the heading counts the whole roster
    assert 'value="梅"' in response.content.decode()  # the search stays in the form


def test_filter_by_work_status(client_of, batch):
    make_entry(batch, name="在职甲", work_status=WorkStatus.ACTIVE)
    make_entry(batch, name="退休乙", work_status=WorkStatus.RETIRED)
    make_entry(batch, name="未知丙", work_status=WorkStatus.UNKNOWN)

    assert shown_names(client_of.get(roster_url(batch, work_status="在职"))) == ["在职甲"]
    assert shown_names(client_of.get(roster_url(batch, work_status="退休"))) == ["退休乙"]
    assert shown_names(client_of.get(roster_url(batch, work_status="-"))) == ["未知丙"]
    assert shown_names(client_of.get(roster_url(batch, work_status=""))) == ["在职甲", "退休乙", "未知丙"]
    # a hand-edited URL counts as 全部, not an error page
    assert shown_names(client_of.get(roster_url(batch, work_status="bogus"))) == ["在职甲", "退休乙", "未知丙"]


def test_over_age_filter_centralised(client_of, batch):
    # SPEC VAL-2: on 2023-07-01 women of 55 and men of 60 are over age; a day younger is not.
    make_entry(batch, name="女满55", sex=Sex.FEMALE, birth_date=dt.date(1968, 7, 1))
    make_entry(batch, name="女差一天", sex=Sex.FEMALE, birth_date=dt.date(1968, 7, 2))
    make_entry(batch, name="男满60", sex=Sex.MALE, birth_date=dt.date(1963, 7, 1))
    make_entry(batch, name="男差一天", sex=Sex.MALE, birth_date=dt.date(1963, 7, 2))

    over = client_of.get(roster_url(batch, over_age="over"))
    assert shown_names(over) == ["女满55", "男满60"]
    assert "2023年7月1日" in page_text(over)
    assert shown_names(client_of.get(roster_url(batch, over_age="under"))) == ["女差一天", "男差一天"]


def test_over_age_filter_instant_counts_on_tomorrow(client, handbook_year, time_machine):
    time_machine.move_to(dt.datetime(2023, 9, 14, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8))), tick=False)
    batch = make_batch(year=handbook_year, kind=BatchKind.INSTANT)
    make_entry(batch, name="明天满60", sex=Sex.MALE, birth_date=dt.date(1963, 9, 15))
    make_entry(batch, name="后天满60", sex=Sex.MALE, birth_date=dt.date(1963, 9, 16))
    client.force_login(batch.account)

    response = client.get(roster_url(batch, over_age="over"))
    assert shown_names(response) == ["明天满60"]
    assert "2023年9月15日" in page_text(response)


def test_pagination_footer(client_of, batch):
    for index in range(17):
        make_entry(batch, name=f"人员{index:02d}")

    first = client_of.get(roster_url(batch))
    assert FOOTER.format(start=1, end=15, total=17) in page_text(first)
    assert len(shown_names(first)) == 15
    second = client_of.get(roster_url(batch, work_status="-", page=2))
    assert FOOTER.format(start=16, end=17, total=17) in page_text(second)
    assert shown_names(second) == ["人员15", "人员16"]
    assert "?work_status=-&amp;page=1" in second.content.decode()  # the pages keep the filters


def test_name_mismatch_banner(client_of, batch):
    entry = make_entry(batch, name="王梅")
    assert "姓名匹配异常，请人工确认" not in client_of.get(roster_url(batch)).content.decode()
    RosterEntry.objects.filter(pk=entry.pk).update(name_mismatch=True, member_name="王梅晓")
    html = client_of.get(roster_url(batch)).content.decode()
    assert "姓名匹配异常，请人工确认" in html
    assert url("roster_names", batch) in html


def test_query_count_does_not_grow_with_the_roster(client_of, batch, django_assert_max_num_queries):
    RosterEntry.objects.bulk_create(
        RosterEntry(
            batch=batch,
            id_type=IdType.RESIDENT,
            id_number=resident_id(dt.date(1970, 1, 1) + dt.timedelta(days=index), 101),
            name=f"人员{index}",
            birth_date=dt.date(1970, 1, 1) + dt.timedelta(days=index),
            sex=Sex.MALE,
        )
        for index in range(400)
    )
    # goal (issue 6): at most 15 queries, whatever the size and the filters
    with django_assert_max_num_queries(15):
        response = client_of.get(roster_url(batch))
    assert len(shown_names(response)) == 15
    with django_assert_max_num_queries(15):
        response = client_of.get(roster_url(batch, name="人员1", work_status="-", over_age="under", page=3))
    assert response.status_code == 200


# The table row as the list template wrote it with {% url %} and filters, before rosters.views.roster
# _list_rows made the rows in Python: the reference they must match character for character.
REFERENCE_ROWS = Template(
    """{% for row in rows %}{% with entry=row.entry %}
          <tr>
            <td class="cell-check"{% if editable %} data-label="选择"{% endif %}>{% if editable %}<input class="form-check-input roster-check" type="checkbox" name="entry_ids" value="{{ entry.pk }}" form="roster-bulk-form" aria-label="选择 {{ entry.name }}">{% endif %}</td>
            <td class="cell-name" data-label="姓名">{{ entry.name }}</td>
            <td class="cell-id" data-label="证件号码">{{ row.masked_id }}</td>
            <td data-label="证件类型">{{ entry.id_type }}</td>
            <td data-label="是否建议名单">{{ entry.is_suggested|yesno:"是,否" }}</td>
            <td class="cell-work-status" data-label="职退状态">{{ entry.work_status }}</td>
            <td class="cell-social-security" data-label="是否有社保">{{ entry.has_social_security|yesno:"是,否" }}</td>
            <td data-label="起保日期">{{ entry.coverage_start|date:"Y-m-d"|default:"-" }}</td>
            <td data-label="终保日期">{{ entry.coverage_end|date:"Y-m-d"|default:"-" }}</td>
            <td class="cell-actions" data-label="操作">
              <a class="btn btn-link btn-sm px-1" href="{% url 'rosters:roster_entry' batch.number entry.pk %}{% if return_query %}?{{ return_field }}={{ return_query|urlencode }}{% endif %}">查看</a>
              {% if row.actions.edit %}<a class="btn btn-link btn-sm px-1" href="{% url 'rosters:roster_entry_edit' batch.number entry.pk %}{% if return_query %}?{{ return_field }}={{ return_query|urlencode }}{% endif %}">{{ row.actions.edit_label }}</a>{% endif %}
              {% if row.actions.set_active %}<button type="button" class="btn btn-link btn-sm px-1" data-row-action="{% url 'rosters:roster_entry_set_active' batch.number entry.pk %}" data-confirm="确认该职工在职且正常缴纳社保?">设置在职</button>{% endif %}
              {% if row.actions.delete %}<button type="button" class="btn btn-link btn-sm px-1 text-danger" data-row-action="{% url 'rosters:roster_entry_delete' batch.number entry.pk %}" data-confirm="确认删除“{{ entry.name }}”?">删除</button>{% endif %}
            </td>
          </tr>
          {% endwith %}{% endfor %}"""
)


@pytest.mark.parametrize("state", [BatchState.DRAFT, BatchState.COMPLETED])
@pytest.mark.parametrize("return_query", ["", "name=%E7%8E%8B&page=2", "name=%3Cb%3E%26%22%27"])
def test_rows_are_the_templates_rows(handbook_year, state, return_query):
    """_list_rows writes what the template wrote: escaping, 是/否, dates, masks and every action's URL."""
    from rosters.views.roster import RETURN_FIELD, _list_rows, _row_actions

    batch = make_batch(year=handbook_year, state=state)
    make_entry(
        batch,
        name="王<b>&\"'",
        work_status=WorkStatus.UNKNOWN,
        coverage_start=dt.date(2026, 7, 1),
        coverage_end=dt.date(2027, 6, 30),
    )
    make_entry(batch, name="在职有社保", work_status=WorkStatus.ACTIVE, has_social_security=True, is_suggested=True)
    make_entry(batch, name="O'Brien", id_type=IdType.OTHER, id_number="E12345678", work_status=WorkStatus.ACTIVE)
    make_entry(batch, name="退休", work_status=WorkStatus.RETIRED)
    entries = list(RosterEntry.objects.filter(batch=batch).order_by("pk"))

    expected = REFERENCE_ROWS.render(
        Context(
            {
                "rows": [
                    {"entry": entry, "masked_id": roster_masked_id(entry), "actions": _row_actions(batch, entry)}
                    for entry in entries
                ],
                "batch": batch,
                "editable": batch.roster_editable,
                "return_query": return_query,
                "return_field": RETURN_FIELD,
            }
        )
    )
    assert "".join(_list_rows(batch, entries, return_query=return_query)) == expected


def test_the_page_shows_the_rows_in_its_table(client_of, batch):
    make_entry(batch, name="甲")
    make_entry(batch, name="乙", id_type=IdType.OTHER, id_number="E12345678")
    html = client_of.get(roster_url(batch, name="甲")).content.decode()
    assert shown_names(client_of.get(roster_url(batch))) == ["甲", "乙"]
    assert shown_names(client_of.get(roster_url(batch, name="甲"))) == ["甲"]
    # 查看 and 编辑 carry the list's query back (the query is re-encoded once more inside the link)
    assert f'href="{url("roster_entry", batch, RosterEntry.objects.get(name="甲"))}?return_query=name%3D%25E7%2594%25B2"' in html


def test_list_counts_are_the_separate_counts(batch, handbook_year):
    """roster_list_counts answers what roster_has_name_mismatch, roster_missing_mobiles and a count
    of the roster answer, for this batch only."""
    from rosters.selectors import roster_has_name_mismatch, roster_list_counts, roster_missing_mobiles

    assert roster_list_counts(batch=batch) == {"people": 0, "missing_mobiles": 0, "has_name_mismatch": False}
    make_entry(batch, name="有手机", mobile="13912345678")
    make_entry(batch, name="无手机")
    other = make_entry(make_batch(year=handbook_year), name="别的批次")
    RosterEntry.objects.filter(pk=other.pk).update(name_mismatch=True)
    assert roster_list_counts(batch=batch) == {"people": 2, "missing_mobiles": 1, "has_name_mismatch": False}
    RosterEntry.objects.filter(batch=batch, name="无手机").update(name_mismatch=True)
    counts = roster_list_counts(batch=batch)
    assert counts == {"people": 2, "missing_mobiles": 1, "has_name_mismatch": True}
    assert counts["missing_mobiles"] == roster_missing_mobiles(batch=batch)
    assert counts["has_name_mismatch"] == roster_has_name_mismatch(batch=batch)


def test_the_list_asks_few_queries(client_of, batch):
    """Unfiltered: the account, its code, the batch, the roster's counts (people, without a mobile,
    姓名匹配异常) in one pass and the page's rows; a filter adds its own count. (The session's
    queries depend on the session engine: not counted.)"""
    for index in range(20):
        make_entry(batch, name=f"人员{index}", birth_date=dt.date(1970, 1, 1) + dt.timedelta(days=index))

    def page_queries(**query) -> tuple[list[str], list[str]]:
        with CaptureQueriesContext(connection) as captured:
            names = shown_names(client_of.get(roster_url(batch, **query)))
        sql = [q["sql"] for q in captured.captured_queries]
        return names, [q for q in sql if "django_session" not in q and "SAVEPOINT" not in q]

    names, queries = page_queries(page=2)
    assert len(names) == 5 and len(queries) == 5
    names, queries = page_queries(name="人员1")
    assert len(names) == 11 and len(queries) == 6


# --- actions per state (SPEC BAT-3, BAT-8, ROS-7, ROS-8) ---------------------------------------------------


def test_actions_shown_while_editable(client_of, batch):
    make_entry(batch, name="身份证未知", work_status=WorkStatus.UNKNOWN)
    make_entry(batch, name="身份证在职有社保", work_status=WorkStatus.ACTIVE, has_social_security=True)
    make_entry(batch, name="护照在职无社保", id_type=IdType.OTHER, work_status=WorkStatus.ACTIVE)
    make_entry(batch, name="退休", work_status=WorkStatus.RETIRED)

    text = page_text(client_of.get(roster_url(batch)))

    # ROS-7: 【编辑】 for 非身份证 entries only; [departure] (LOOK-1): 【修改手机号】 for 身份证 ones.
    assert re.search(r"身份证未知 .*? 查看 修改手机号 设置在职 删除 ", text)
    assert re.search(r"身份证在职有社保 .*? 是 - - 查看 修改手机号 删除 ", text)
    assert re.search(r"护照在职无社保 .*? 查看 编辑 设置在职 删除 ", text)
    assert re.search(r"退休 .*? 退休 否 - - 查看 修改手机号 删除 ", text)  # ROS-12: removed, not set 在职
    assert not re.search(r"身份证未知 .*? 编辑 ", text.split("护照在职无社保")[0])
    for button in ("批量设置为在职", "批量删除", "导出"):
        assert button in text
    html = client_of.get(roster_url(batch)).content.decode()
    assert "确认该职工在职且正常缴纳社保?" in html
    assert "确认批量设置在职?" in html and "确认删除选中的N位人员?" in html


@pytest.mark.parametrize("state", [BatchState.IN_REVIEW, BatchState.ROSTER_APPROVED, BatchState.AWAITING_PAYMENT, BatchState.COMPLETED])
def test_a_locked_roster_shows_no_edit_actions(client, handbook_year, state):
    batch = make_batch(year=handbook_year, state=state)
    make_entry(batch, name="护照", id_type=IdType.OTHER)
    client.force_login(batch.account)

    response = client.get(roster_url(batch))

    text = page_text(response)
    assert response.status_code == 200
    assert "护照" in text and "查看" in text
    for hidden in ("编辑", "设置在职", "删除", "批量删除", "批量设置为在职", "添加参保人员"):
        assert hidden not in text
    assert "参保清册只能查看" in text
    assert "导出" in text


@pytest.mark.parametrize("state", [BatchState.IN_REVIEW, BatchState.PAYMENT_REVIEW])
def test_a_locked_roster_refuses_posted_actions(client, handbook_year, state):
    # The buttons are hidden, and a hand-made POST is refused by the service too.
    batch = make_batch(year=handbook_year, state=state)
    entry = make_entry(batch, name="护照", id_type=IdType.OTHER)
    client.force_login(batch.account)

    for name in ("roster_entry_set_active", "roster_entry_delete"):
        response = client.post(url(name, batch, entry))
        assert response.status_code == 302
        assert any("参保清册不能修改" in message for message in flash(response))
    for name in ("roster_bulk_set_active", "roster_bulk_delete"):
        response = client.post(url(name, batch), {"entry_ids": [entry.pk]})
        assert any("参保清册不能修改" in message for message in flash(response))
    response = client.post(url("roster_entry_edit", batch, entry), {"name": "改", "birth_date": "1990-01-01", "sex": "男", "has_social_security": "True"})
    assert response.status_code == 302
    entry.refresh_from_db()
    assert (entry.name, entry.work_status) == ("护照", WorkStatus.UNKNOWN)
    assert RosterEntry.objects.filter(pk=entry.pk).exists()


def test_validating_batch_sends_back_with_a_message(client, handbook_year):
    batch = make_batch(year=handbook_year, state=BatchState.VALIDATING)
    client.force_login(batch.account)
    response = client.get(roster_url(batch))
    # 清册校验中 shows progress only (BAT-3): back to 参保批次管理 with a word why.
    assert response["Location"] == reverse("enrollment:batches")
    assert flash(response) == ["批次当前状态为“清册校验中”，暂不能查看参保清册，请稍后再试。"]


# --- 查看 and 编辑 (SPEC ROS-6, ROS-7) -----------------------------------------------------------------------


def test_view_shows_every_field_masked(client_of, batch):
    number = resident_id(dt.date(1985, 3, 14), 427)
    entry = make_entry(batch, name="胡庆庆", id_number=number, mobile="13912345678", ss_unit_code="00108537", personal_ss_number="P123")

    response = client_of.get(url("roster_entry", batch, entry))

    html, text = response.content.decode(), page_text(response)
    assert number not in html and "13912345678" not in html and "1985-03-14" not in html
    for shown in ("胡庆庆", f"{number[:4]}*****{number[-4:]}", "139****5678", "00108537", "P123", "1985年**月**日", "男"):
        assert shown in text
    assert "修改手机号" in text and "编辑" not in text  # ROS-7: no 【编辑】; [departure]: 【修改手机号】


def test_edit_a_non_resident_entry(client_of, batch):
    entry = make_entry(batch, name="JOHN SMITH", id_type=IdType.OTHER, id_number="E99887766", mobile="13912345678", birth_date=dt.date(1980, 1, 2))

    form = client_of.get(url("roster_entry_edit", batch, entry) + "?return_query=" + quote("work_status=-&page=1"))
    html = form.content.decode()
    assert form.status_code == 200
    assert "E99887766" not in html and "13912345678" not in html  # X-1, also in the form
    assert "E9*****766" in html and "139****5678" in html
    assert 'value="JOHN SMITH"' in html and 'value="1980-01-02"' in html

    response = client_of.post(
        url("roster_entry_edit", batch, entry),
        {"name": " JOHN  A SMITH ", "birth_date": "1981-02-03", "sex": "女", "mobile": "", "has_social_security": "True", "return_query": "work_status=-&page=1&next=//evil.example"},
    )

    assert response.status_code == 302
    assert response["Location"] == roster_url(batch) + "?work_status=-&page=1"  # back to the same list page, nothing else
    entry.refresh_from_db()
    assert (entry.name, entry.birth_date, entry.sex, entry.mobile, entry.has_social_security, entry.work_status) == (
        "JOHN A SMITH", dt.date(1981, 2, 3), Sex.FEMALE, "13912345678", True, WorkStatus.ACTIVE
    )


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("name", "", "请填写姓名。"),
        ("name", "名" * 51, "姓名不能超过50个字符。"),
        ("mobile", "1391234567", "请输入11位手机号码。"),
        ("mobile", "23912345678", "请输入11位手机号码。"),
        ("birth_date", "1990-02-30", "请按 1990-01-01 的格式填写出生日期。"),
        ("birth_date", "2999-01-01", "出生日期不正确，请核对。"),
        ("sex", "", "请选择性别。"),
    ],
)
def test_edit_validates_like_the_import(client_of, batch, field, value, message):
    entry = make_entry(batch, name="PAUL", id_type=IdType.OTHER)
    data = {"name": "PAUL", "birth_date": "1980-01-01", "sex": "男", "mobile": "", "has_social_security": "False", field: value}
    response = client_of.post(url("roster_entry_edit", batch, entry), data)
    assert response.status_code == 200
    assert message in response.content.decode()
    entry.refresh_from_db()
    assert entry.name == "PAUL"


# --- 手机号 of any entry (SPEC ROS-7 [departure], for 参保查询 LOOK-1; SEC-1, SEC-4, X-1, X-4) ------------


def test_edit_a_resident_entry_fills_its_mobile_only(client_of, batch):
    number = resident_id(dt.date(1985, 3, 14), 427)
    entry = make_entry(batch, name="胡庆庆", id_number=number, work_status=WorkStatus.UNKNOWN)

    form = client_of.get(url("roster_entry_edit", batch, entry))
    html, text = form.content.decode(), page_text(form)
    assert form.status_code == 200
    assert number not in html and f"{number[:4]}*****{number[-4:]}" in text and "1985年**月**日" in text
    assert 'name="mobile"' in html
    for absent in ('name="name"', 'name="birth_date"', 'name="sex"', 'name="has_social_security"'):
        assert absent not in html  # 身份证: name, birth date and sex come from the number
    assert "只能修改手机号" in text

    # Full-width digits and spaces go through SEC-1's normaliser; posted extra fields are ignored.
    response = client_of.post(
        url("roster_entry_edit", batch, entry),
        {"mobile": "１３９ 1234-5678", "name": "改名", "birth_date": "1990-01-01", "sex": "女", "has_social_security": "True"},
    )

    assert response.status_code == 302 and response["Location"] == roster_url(batch)
    assert flash(response) == ["已保存“胡庆庆”的人员信息。"]
    entry.refresh_from_db()
    assert entry.mobile == "13912345678"
    assert (entry.name, entry.birth_date, entry.sex, entry.has_social_security, entry.work_status) == (
        "胡庆庆", dt.date(1985, 3, 14), Sex.MALE, False, WorkStatus.UNKNOWN
    )
    assert entry.id_type == IdType.RESIDENT and entry.id_number == number
    assert roster_audit_events(batch) == [["编辑参保人员", "edited=1, fields=手机号"]]

    # Changed later; the form shows the current one masked, never in full.
    html = client_of.get(url("roster_entry_edit", batch, entry)).content.decode()
    assert "139****5678" in html and "13912345678" not in html
    client_of.post(url("roster_entry_edit", batch, entry), {"mobile": "13700001111"})
    entry.refresh_from_db()
    assert entry.mobile == "13700001111"


def test_an_empty_mobile_keeps_the_one_on_file(client_of, batch):
    entry = make_entry(batch, name="胡庆庆", mobile="13912345678")
    response = client_of.post(url("roster_entry_edit", batch, entry), {"mobile": ""})
    assert response.status_code == 302
    assert flash(response) == ["未填写新的手机号，“胡庆庆”的人员信息未修改。"]
    entry.refresh_from_db()
    assert entry.mobile == "13912345678"
    assert roster_audit_events(batch) == []


@pytest.mark.parametrize(
    "value, message",
    [
        ("1391234567", "请输入11位手机号码。"),
        ("23912345678", "请输入11位手机号码。"),
        ("139123456789", "请输入11位手机号码。"),
        ("139一二三45678", "手机号"),  # SEC-1: not digits → refused with a message, never a server error
    ],
)
def test_a_bad_mobile_is_a_field_error_and_nothing_is_saved(client_of, batch, value, message):
    entry = make_entry(batch, name="胡庆庆", mobile="13912345678")

    response = client_of.post(url("roster_entry_edit", batch, entry), {"mobile": value})

    assert response.status_code == 200
    html = response.content.decode()
    assert re.search(r'<div class="invalid-feedback d-block">[^<]*' + re.escape(message), html)
    entry.refresh_from_db()
    assert entry.mobile == "13912345678"
    assert roster_audit_events(batch) == []


def test_another_accounts_entry_cannot_be_edited(client, batch, handbook_year):
    """SPEC X-4: another account's entry answers 404, under its own batch or under ours."""
    theirs = make_batch(UserFactory(username="other-unit"), year=handbook_year, number="2023J900999")
    entry = make_entry(theirs, name="外人")
    client.force_login(batch.account)

    assert client.get(url("roster_entry_edit", theirs, entry)).status_code == 404
    assert client.post(url("roster_entry_edit", theirs, entry), {"mobile": "13912345678"}).status_code == 404
    assert client.post(url("roster_entry_edit", batch, entry), {"mobile": "13912345678"}).status_code == 404
    entry.refresh_from_db()
    assert entry.mobile == ""


@pytest.mark.parametrize("state", [BatchState.IN_REVIEW, BatchState.COMPLETED])
def test_a_locked_roster_refuses_a_mobile(client, handbook_year, state):
    """SPEC ROS-7, BAT-3, BAT-8: the mobile changes only while the state allows editing the roster."""
    batch = make_batch(year=handbook_year, state=state)
    entry = make_entry(batch, name="胡庆庆")
    client.force_login(batch.account)

    response = client.post(url("roster_entry_edit", batch, entry), {"mobile": "13912345678"})

    assert response.status_code == 302
    assert any("参保清册不能修改" in message for message in flash(response))
    entry.refresh_from_db()
    assert entry.mobile == ""


def test_the_roster_page_counts_the_people_without_a_mobile(client_of, batch, django_assert_num_queries):
    """SPEC ROS-7 [departure], LOOK-1: the unit sees how many people cannot use 参保查询, and why."""
    make_entry(batch, name="有手机", mobile="13912345678")
    make_entry(batch, name="无手机甲")
    make_entry(batch, name="无手机乙", id_type=IdType.OTHER, id_number="E12345678")

    text = page_text(client_of.get(roster_url(batch)))
    assert "有2人未登记手机号：未登记的人员无法通过【参保查询】查看本人参保情况。可通过【修改手机号】或重新导入" in text
    # The count is the whole roster's, whatever the filter shows.
    assert "有2人未登记手机号" in page_text(client_of.get(roster_url(batch, name="有手机")))

    RosterEntry.objects.filter(batch=batch).exclude(name="有手机").delete()
    assert "未登记手机号" not in page_text(client_of.get(roster_url(batch)))


def test_a_locked_roster_counts_them_without_offering_the_edit(client, handbook_year):
    batch = make_batch(year=handbook_year, state=BatchState.COMPLETED)
    make_entry(batch, name="无手机")
    client.force_login(batch.account)
    text = page_text(client.get(roster_url(batch)))
    assert "有1人未登记手机号：未登记的人员无法通过【参保查询】查看本人参保情况。" in text and "编辑" not in text


# --- 设置在职, 删除 and the bulk actions (SPEC ROS-6, ROS-7, ROS-8) -----------------------------------------


def test_set_active_one_row(client_of, batch):
    entry = make_entry(batch, name="未知", work_status=WorkStatus.UNKNOWN)
    response = client_of.post(url("roster_entry_set_active", batch, entry), {"return_query": "work_status=-"})
    assert response["Location"] == roster_url(batch) + "?work_status=-"
    entry.refresh_from_db()
    assert (entry.work_status, entry.has_social_security) == (WorkStatus.ACTIVE, True)
    assert "已将“未知”设置为在职（有社保）。" in flash(response)
    # a double click does nothing twice
    again = client_of.post(url("roster_entry_set_active", batch, entry))
    assert "“未知”已是在职（有社保），无需设置。" in flash(again)
    assert roster_audit_events(batch) == [["设置在职", "updated=1"]]


def test_set_active_refuses_a_retired_person(client_of, batch):
    entry = make_entry(batch, name="老王", work_status=WorkStatus.RETIRED)
    response = client_of.post(url("roster_entry_set_active", batch, entry))
    assert any("退休" in message for message in flash(response))
    entry.refresh_from_db()
    assert entry.work_status == WorkStatus.RETIRED


def test_delete_one_row(client_of, batch):
    entry = make_entry(batch, name="删我")
    response = client_of.post(url("roster_entry_delete", batch, entry))
    assert response.status_code == 302
    assert not RosterEntry.objects.filter(pk=entry.pk).exists()
    assert "已删除“删我”。" in flash(response)
    again = client_of.post(url("roster_entry_delete", batch, entry))  # double click
    assert "该人员已不在参保清册中。" in flash(again)


def test_bulk_set_active_and_bulk_delete_ignore_other_batches(client_of, batch, handbook_year):
    other = make_entry(make_batch(year=handbook_year), name="外单位")
    first, second, third = (make_entry(batch, name=name) for name in ("甲", "乙", "丙"))

    response = client_of.post(url("roster_bulk_set_active", batch), {"entry_ids": [first.pk, second.pk, other.pk]})
    assert response.status_code == 302
    assert set(RosterEntry.objects.filter(batch=batch, work_status=WorkStatus.ACTIVE).values_list("name", flat=True)) == {"甲", "乙"}
    other.refresh_from_db()
    assert other.work_status == WorkStatus.UNKNOWN

    response = client_of.post(url("roster_bulk_delete", batch), {"entry_ids": [first.pk, third.pk, other.pk, "x"]})
    assert "已删除2位人员。" in flash(response)
    assert list(RosterEntry.objects.filter(batch=batch).values_list("name", flat=True)) == ["乙"]
    assert RosterEntry.objects.filter(pk=other.pk).exists()


def test_bulk_actions_without_ticks_say_so(client_of, batch):
    make_entry(batch)
    assert "请先勾选要删除的人员。" in flash(client_of.post(url("roster_bulk_delete", batch)))
    assert "请先勾选要设置在职的人员。" in flash(client_of.post(url("roster_bulk_set_active", batch)))
    assert RosterEntry.objects.filter(batch=batch).count() == 1


def test_actions_answer_post_only(client_of, batch):
    entry = make_entry(batch)
    for name in ("roster_entry_set_active", "roster_entry_delete"):
        assert client_of.get(url(name, batch, entry)).status_code == 405
    for name in ("roster_bulk_set_active", "roster_bulk_delete"):
        assert client_of.get(url(name, batch)).status_code == 405


# --- 姓名匹配异常 (SPEC ROS-5) ---------------------------------------------------------------------------------


def test_names_page_and_confirmation(client_of, batch):
    number = resident_id(dt.date(1981, 4, 5), 124)
    wang = make_entry(batch, name="王梅", id_number=number, imported_name="王梅晓", member_name="王梅", name_mismatch=True)
    li = make_entry(batch, name="李雷", imported_name="李雷", previous_name="李蕾", name_mismatch=True)
    make_entry(batch, name="没问题")

    page = client_of.get(url("roster_names", batch))

    html, text = page.content.decode(), page_text(page)
    assert "证件号 上年度建议清册姓名 会员库姓名 本地导入姓名" in text
    assert "勾选完成后，请点击“确认”按钮" in text
    assert ">确认</button>" in html
    assert number not in html and f"{number[:4]}*****{number[-4:]}" in html
    # Nothing is preselected: the unit chooses every row (the 会员库 name was ticked without a reason).
    assert re.search(rf'name="name_{wang.pk}"[^>]*value="王梅"[ >]', html)
    assert re.search(rf'name="name_{wang.pk}"[^>]*value="王梅晓"[ >]', html)
    assert " checked" not in html.split('<table', 1)[1]
    assert "没问题" not in text

    response = client_of.post(url("roster_names", batch), {f"name_{wang.pk}": "王梅晓", f"name_{li.pk}": "李雷"})

    assert response["Location"] == roster_url(batch)  # nothing left to confirm: back to the list
    wang.refresh_from_db(), li.refresh_from_db()
    assert (wang.name, wang.name_mismatch, li.name, li.name_mismatch) == ("王梅晓", False, "李雷", False)
    assert "已确认2位人员的姓名。" in flash(response)


def test_names_confirmation_without_a_choice_is_refused_at_the_row(client_of, batch):
    # SPEC ROS-5, X-3: a row left without a choice refuses the page: nothing is saved, the message is at
    # that row and the choices made are kept.
    wang = make_entry(batch, name="王梅", imported_name="王梅晓", member_name="王梅", name_mismatch=True)
    li = make_entry(batch, name="李雷", imported_name="李雷", previous_name="李蕾", name_mismatch=True)

    response = client_of.post(url("roster_names", batch), {"shown": [wang.pk, li.pk], f"name_{li.pk}": "李蕾"})

    assert response.status_code == 200
    html, text = response.content.decode(), page_text(response)
    assert "还有1位人员未选择姓名：请在每行点击正确姓名前的圆圈，全部选择后再点击【确认】。" in text
    row_of = lambda entry: html[html.index(f'name="shown" value="{entry.pk}"'):].split("</tr>", 1)[0]  # noqa: E731
    assert "请选择该人员的正确姓名" in row_of(wang) and "请选择该人员的正确姓名" not in row_of(li)
    assert re.search(rf'name="name_{li.pk}"[^>]*value="李蕾" checked', html)  # the choice made is kept
    wang.refresh_from_db(), li.refresh_from_db()
    assert (wang.name_mismatch, li.name, li.name_mismatch) == (True, "李雷", True)  # nothing saved

    done = client_of.post(url("roster_names", batch), {"shown": [wang.pk, li.pk], f"name_{wang.pk}": "王梅晓", f"name_{li.pk}": "李蕾"})
    assert done["Location"] == roster_url(batch)
    li.refresh_from_db()
    assert (li.name, li.name_mismatch) == ("李蕾", False)


def test_names_confirmation_in_a_read_only_state_says_the_state(client_of, batch):
    # SPEC BAT-3: once submitted the roster cannot change; the state is the reason given, not the choice.
    entry = make_entry(batch, name="王梅", imported_name="王梅晓", member_name="王梅", name_mismatch=True)
    Batch.objects.filter(pk=batch.pk).update(state=BatchState.IN_REVIEW)
    response = client_of.post(url("roster_names", batch), {"shown": [entry.pk]})
    assert response.status_code == 302
    assert flash(response) == ["批次当前状态为“职保会待审核”，参保清册不能修改。"]
    entry.refresh_from_db()
    assert entry.name_mismatch is True


def test_names_confirmation_refuses_a_made_up_name(client_of, batch):
    entry = make_entry(batch, name="王梅", imported_name="王梅晓", member_name="王梅", name_mismatch=True)
    response = client_of.post(url("roster_names", batch), {f"name_{entry.pk}": "随便"})
    assert response["Location"] == url("roster_names", batch)
    assert any("候选姓名" in message for message in flash(response))
    entry.refresh_from_db()
    assert (entry.name, entry.name_mismatch) == ("王梅", True)


# --- 导出 (SPEC ROS-6, X-1) ---------------------------------------------------------------------------------


def test_export_is_masked_with_a_chinese_file_name(client_of, batch, time_machine):
    time_machine.move_to(dt.datetime(2023, 6, 15, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8))), tick=False)
    number = resident_id(dt.date(1985, 3, 14), 427)
    make_entry(batch, name="胡庆庆", id_number=number, mobile="13912345678")
    make_entry(batch, name="张贺", id_type=IdType.OTHER, id_number="31AB99917X")

    # A background export (mutualaid.exports): the button leads to the job's page, which ends on the file.
    response = export_download(client_of, url("roster_export", batch))

    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    name = f"参保清册_{batch.number}_20230615.xlsx"
    assert response["Content-Disposition"] == (
        f"attachment; filename=\"roster_{batch.number}_20230615.xlsx\"; filename*=UTF-8''{quote(name)}"
    )
    content = b"".join(response.streaming_content)
    sheet = load_workbook(io.BytesIO(content), read_only=True).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:6] == ("姓名", "证件号码", "证件类型", "性别", "出生日期", "手机号")
    assert rows[1][:3] == ("胡庆庆", f"{number[:4]}*****{number[-4:]}", "身份证")
    assert rows[1][5] == "139****5678"
    assert rows[2][:2] == ("张贺", "31*****17X")
    flat = repr(rows)
    assert number not in flat and "13912345678" not in flat and "31AB99917X" not in flat


# --- access (SPEC X-4) ---------------------------------------------------------------------------------------

GET_PAGES = ["roster", "roster_names", "roster_export"]
GET_ENTRY_PAGES = ["roster_entry", "roster_entry_edit"]
POST_PAGES = ["roster_bulk_delete", "roster_bulk_set_active", "roster_names"]  # 【确认】 of 姓名匹配异常 too
POST_ENTRY_PAGES = ["roster_entry_set_active", "roster_entry_delete"]


def _all_requests(batch, entry):
    for name in GET_PAGES:
        yield "get", url(name, batch)
    for name in GET_ENTRY_PAGES:
        yield "get", url(name, batch, entry)
    for name in POST_PAGES:
        yield "post", url(name, batch)
    for name in POST_ENTRY_PAGES:
        yield "post", url(name, batch, entry)


def test_anonymous_goes_to_login(client, batch):
    entry = make_entry(batch, id_type=IdType.OTHER)
    for method, address in _all_requests(batch, entry):
        response = getattr(client, method)(address)
        assert response.status_code == 302, address
        assert response["Location"].startswith(reverse("accounts:login")), address
    assert RosterEntry.objects.filter(pk=entry.pk).exists()


def test_another_units_batch_is_404(client, batch, handbook_year):
    entry = make_entry(batch, id_type=IdType.OTHER)
    stranger = make_batch(year=handbook_year, unit_name="别的单位").account
    client.force_login(stranger)
    for method, address in _all_requests(batch, entry):
        response = getattr(client, method)(address, {"entry_ids": [entry.pk]} if method == "post" else None)
        assert response.status_code == 404, address
    assert RosterEntry.objects.filter(pk=entry.pk, work_status=WorkStatus.UNKNOWN).exists()


def test_another_units_entry_under_my_batch_is_404(client_of, batch, handbook_year):
    foreign = make_entry(make_batch(year=handbook_year, unit_name="别的单位"), id_type=IdType.OTHER)
    for name in GET_ENTRY_PAGES:
        assert client_of.get(url(name, batch, foreign)).status_code == 404
    assert client_of.post(url("roster_entry_set_active", batch, foreign)).status_code == 404
    client_of.post(url("roster_entry_delete", batch, foreign))
    foreign.refresh_from_db()  # still there, unchanged
    assert foreign.work_status == WorkStatus.UNKNOWN


@pytest.mark.parametrize("role", ["reviewer", "union_staff"])
def test_back_office_roles_get_403(client, batch, role):
    entry = make_entry(batch, id_type=IdType.OTHER)
    client.force_login(UserFactory(role=role))
    for method, address in _all_requests(batch, entry):
        assert getattr(client, method)(address).status_code == 403, address
