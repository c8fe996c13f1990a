"""清册校验 for the unit through its pages (SPEC BAT-4, VAL-1…VAL-6, ROS-5, X-1, X-4): 【清册校验】, the
progress while 清册校验中, 清册校验结果 with its tabs and actions, and the services behind the ticks and
confirmations (社保尚在缴金, 人员确认) and the batch's attachments.

The scenario (the handbook's 2023 year, centralised: ages on 2023-07-01): a continuing unit that enrolled
10 people last year and now has 5 — 胡庆庆 (fine), 陈美珠 (退休), 王建国 (male, 63, 在职 with 社保: over age),
李大爷 (male, 65, no 社保, no SS unit code: over age and unmatched), 张贺 (non-resident ID, no SS unit code:
unmatched). Headcount −50 % → the ratio applies: 3 matched people / 50 paying → 6 %, so 情况说明 is required.
"""
import datetime as dt
import io
import re

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from PIL import Image

from enrollment.models import Batch
from enrollment.states import BatchKind, BatchState
from mutualaid.attachments import attachments_of
from rosters.models import IdType, RosterEntry, Sex, ValidationRun, WorkStatus
from rosters.errors import RosterError
from rosters.rules import KIND_SITUATION, KIND_SS_FORM
from rosters.services import (
    batch_attachment_add,
    batch_attachment_remove,
    roster_still_contributing_set,
    roster_unmatched_confirm,
)
from rosters.validation import validation_latest, validation_start
from rosters.views.validation import SUBMIT_LETTER, UNMATCHED_LETTER
from tests.factories import UserFactory, make_batch, make_entry, resident_id, roster_audit_events
from tests.rosters.validation_data import enrolled_last_year, ss_unit
from mutualaid.jobs import JobStatus

pytestmark = pytest.mark.django_db

SS_CODE = "00108537"
RETIRED_ID = resident_id(dt.date(1960, 5, 2), 100)
OVER_AGE_ID = resident_id(dt.date(1960, 1, 1), 101)
NOT_INSURED_ID = resident_id(dt.date(1958, 2, 3), 103)


def build_roster(batch) -> dict[str, RosterEntry]:
    enrolled_last_year(batch, 10)
    ss_unit(batch, SS_CODE, 50)
    suggested = {"work_status": WorkStatus.ACTIVE, "has_social_security": True, "is_suggested": True, "ss_unit_code": SS_CODE}
    return {
        "fine": make_entry(batch, name="胡庆庆", birth_date=dt.date(1985, 3, 14), personal_ss_number="S001", **suggested),
        "retired": make_entry(
            batch, name="陈美珠", sex=Sex.FEMALE, birth_date=dt.date(1960, 5, 2), id_number=RETIRED_ID,
            work_status=WorkStatus.RETIRED, is_suggested=True, ss_unit_code=SS_CODE,
        ),
        "over_age": make_entry(batch, name="王建国", birth_date=dt.date(1960, 1, 1), id_number=OVER_AGE_ID, personal_ss_number="S0099", **suggested),
        "not_insured": make_entry(batch, name="李大爷", birth_date=dt.date(1958, 2, 3), id_number=NOT_INSURED_ID),
        "unmatched": make_entry(
            batch, name="张贺", sex=Sex.FEMALE, id_type=IdType.OTHER, id_number="31AB99917X", birth_date=dt.date(1990, 1, 1)
        ),
    }


@pytest.fixture
def batch(handbook_year):
    return make_batch(year=handbook_year)


@pytest.fixture
def people(batch):
    return build_roster(batch)


@pytest.fixture
def client_of(client, batch):
    client.force_login(batch.account)
    return client


@pytest.fixture
def validated(batch, people, django_capture_on_commit_callbacks):
    """【清册校验】 run as the demo runs it (the task eagerly, once the start commits)."""
    with django_capture_on_commit_callbacks(execute=True):
        validation_start(batch=batch, acting_user=batch.account)
    batch.refresh_from_db()
    return validation_latest(batch=batch)


def url(name: str, batch, **kwargs) -> str:
    return reverse(f"rosters:{name}", kwargs={"number": batch.number, **kwargs})


def result(client, batch, **query):
    address = url("validation_result", batch)
    if query:
        address += "?" + "&".join(f"{key}={value}" for key, value in query.items())
    return client.get(address)


def page_text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def pane(response, name: str) -> str:
    """The HTML of one tab pane of 清册校验结果."""
    html = response.content.decode()
    start = html.index(f'id="pane-{name}"')
    end = html.find('<div class="tab-pane', start + 1)
    return html[start : end if end > 0 else len(html)]


def flash(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def masked(number: str) -> str:
    return f"{number[:4]}*****{number[-4:]}"


def png_upload(name="情况说明.png"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), "white").save(buffer, "PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


# --- the services: ticks and confirmations (SPEC VAL-2, VAL-5) --------------------------------------------


def test_still_contributing_ticks_only_over_age_people_with_social_security(batch, people):
    # SPEC VAL-2: only an over-age person with 社保 can be ticked; the others are ignored, and so is an id
    # of another batch. A tick is no roster change: roster_version stays (the result stays current).
    other = make_entry(make_batch(year=batch.coverage_year), name="外单位", birth_date=dt.date(1950, 1, 1), has_social_security=True)
    ids = [entry.pk for entry in people.values()] + [other.pk]

    changed = roster_still_contributing_set(batch=batch, entry_ids=ids, value=True, acting_user=batch.account)

    assert changed == 1
    assert set(RosterEntry.objects.filter(still_contributing=True).values_list("name", flat=True)) == {"王建国"}
    assert Batch.objects.get(pk=batch.pk).roster_version == batch.roster_version
    assert roster_audit_events(batch) == [["社保尚在缴金", "updated=1"]]  # SPEC X-2: one event

    # Again: nothing changes, nothing is audited. Unticking is the same service.
    assert roster_still_contributing_set(batch=batch, entry_ids=ids, value=True, acting_user=batch.account) == 0
    assert roster_still_contributing_set(batch=batch, entry_ids=[people["over_age"].pk], value=False, acting_user=batch.account) == 1
    assert not RosterEntry.objects.filter(still_contributing=True).exists()
    assert roster_audit_events(batch)[-1] == ["取消社保尚在缴金", "updated=1"]


def test_unmatched_confirm_marks_every_unmatched_person_once(batch, people):
    # SPEC VAL-5: every person without an SS unit code (retired ones are VAL-1's) is confirmed at once.
    assert roster_unmatched_confirm(batch=batch, acting_user=batch.account) == 2
    assert set(RosterEntry.objects.filter(unmatched_confirmed=True).values_list("name", flat=True)) == {"李大爷", "张贺"}
    assert roster_unmatched_confirm(batch=batch, acting_user=batch.account) == 0
    assert Batch.objects.get(pk=batch.pk).roster_version == batch.roster_version
    assert roster_audit_events(batch) == [["无单位社保编码人员确认", "confirmed=2"]]


@pytest.mark.parametrize("state", [BatchState.DRAFT, BatchState.INVALID, BatchState.REVIEW_REJECTED])
def test_ticks_and_confirmations_in_the_states_that_edit_the_roster(batch, people, state):
    Batch.objects.filter(pk=batch.pk).update(state=state)
    assert roster_still_contributing_set(batch=batch, entry_ids=[people["over_age"].pk], value=True, acting_user=batch.account) == 1
    assert roster_unmatched_confirm(batch=batch, acting_user=batch.account) == 2


@pytest.mark.parametrize("state", [BatchState.VALIDATING, BatchState.IN_REVIEW, BatchState.ROSTER_APPROVED])
def test_ticks_confirmations_and_attachments_refused_by_the_state(batch, people, state):
    # SPEC BAT-3: not just the buttons; the services refuse, naming the state.
    Batch.objects.filter(pk=batch.pk).update(state=state)
    label = BatchState(state).label
    for call in (
        lambda: roster_still_contributing_set(batch=batch, entry_ids=[people["over_age"].pk], value=True, acting_user=batch.account),
        lambda: roster_unmatched_confirm(batch=batch, acting_user=batch.account),
        lambda: batch_attachment_add(batch=batch, upload=png_upload(), kind=KIND_SITUATION.value, acting_user=batch.account),
    ):
        with pytest.raises(RosterError, match=f"批次当前状态为“{label}”"):
            call()
    assert not RosterEntry.objects.filter(still_contributing=True).exists()
    assert not RosterEntry.objects.filter(unmatched_confirmed=True).exists()
    assert not attachments_of(batch).exists()


def test_batch_attachments_need_a_known_kind_and_can_be_removed(batch):
    with pytest.raises(RosterError, match="请选择附件类型"):
        batch_attachment_add(batch=batch, upload=png_upload(), kind="营业执照", acting_user=batch.account)
    attachment = batch_attachment_add(batch=batch, upload=png_upload(), kind=KIND_SITUATION.value, acting_user=batch.account)
    assert list(attachments_of(batch).values_list("kind", flat=True)) == [KIND_SITUATION.value]
    assert attachment.original_name == "情况说明.png"

    assert batch_attachment_remove(batch=batch, attachment_id=attachment.pk, acting_user=batch.account) is True
    assert batch_attachment_remove(batch=batch, attachment_id=attachment.pk, acting_user=batch.account) is False
    assert not attachments_of(batch).exists()



# --- 【清册校验】 and its progress (SPEC BAT-4; UI.md "Long work") -------------------------------------------


def test_validate_page_shows_the_rules_and_the_button(client_of, batch, people):
    response = client_of.get(url("validate", batch))
    assert response.status_code == 200
    text = page_text(response)
    assert "校验规则" in text and "女性未满 55 周岁、男性未满 60 周岁" in text
    assert "±10%" in text and "75%" in text
    assert f'action="{url("validate", batch)}"' in response.content.decode()
    # the handbook's three tabs, as links
    for label in ("参保批次人员管理", "校验参保清册", "清册校验结果"):
        assert label in text


def test_validate_post_runs_the_rules_and_lands_on_the_result(client_of, batch, people, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client_of.post(url("validate", batch))
    assert response.status_code == 302 and response.url == url("validation_progress", batch)
    batch.refresh_from_db()
    assert batch.state == BatchState.INVALID  # blocking findings (SPEC BAT-4)
    # The run has ended: the progress page sends the unit to the result.
    response = client_of.get(url("validation_progress", batch))
    assert response.status_code == 302 and response.url == url("validation_result", batch)
    response = client_of.get(url("validation_progress", batch), HTTP_HX_REQUEST="true")
    assert response["HX-Redirect"] == url("validation_result", batch)


def test_a_second_click_while_validating_goes_to_the_same_progress(client_of, batch, people):
    client_of.post(url("validate", batch))  # the task waits for the commit: still 清册校验中
    batch.refresh_from_db()
    assert batch.state == BatchState.VALIDATING
    response = client_of.post(url("validate", batch))
    assert response.status_code == 302 and response.url == url("validation_progress", batch)
    assert ValidationRun.objects.filter(batch=batch).count() == 1
    # The batch list's 【清册校验】 link and the result page lead to the progress too.
    assert client_of.get(url("validate", batch)).url == url("validation_progress", batch)
    assert client_of.get(url("validation_result", batch)).url == url("validation_progress", batch)


def test_progress_page_shows_the_steps_and_polls(client_of, batch, people):
    client_of.post(url("validate", batch))
    ValidationRun.objects.filter(batch=batch).update(status=JobStatus.RUNNING, steps_done=3, steps_total=7)

    response = client_of.get(url("validation_progress", batch))
    assert response.status_code == 200
    html = response.content.decode()
    assert "已完成 3 / 7 项" in page_text(response)
    assert f'data-hx-get="{url("validation_progress", batch)}"' in html and 'data-hx-trigger="every 1s"' in html
    assert '<progress class="validation-progress-bar" aria-label="校验进度" max="7" value="3">' in html

    polled = client_of.get(url("validation_progress", batch), HTTP_HX_REQUEST="true")
    assert polled.status_code == 200 and "<html" not in polled.content.decode()
    assert "已完成 3 / 7 项" in page_text(polled)


def test_the_progress_poll_does_not_count_the_roster(client_of, batch, people):
    # The htmx poll answers the progress block alone: the heading's 参保人数 is not read for it.
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client_of.post(url("validate", batch))
    with CaptureQueriesContext(connection) as captured:
        polled = client_of.get(url("validation_progress", batch), HTTP_HX_REQUEST="true")
    assert polled.status_code == 200 and "已完成 0 / " in page_text(polled)
    assert not [query for query in captured if "rosters_rosterentry" in query["sql"]]
    assert "参保人数" in page_text(client_of.get(url("validation_progress", batch)))


def test_progress_page_while_queued(client_of, batch, people):
    client_of.post(url("validate", batch))
    ValidationRun.objects.filter(batch=batch).update(steps_total=0)
    assert "排队中，等待后台开始校验" in page_text(client_of.get(url("validation_progress", batch)))


def test_validate_refused_by_the_state_says_why(client_of, batch, people):
    Batch.objects.filter(pk=batch.pk).update(state=BatchState.IN_REVIEW)
    response = client_of.get(url("validate", batch))
    assert "批次当前状态为“职保会待审核”，不能进行清册校验。" in page_text(response)
    response = client_of.post(url("validate", batch))
    assert response.status_code == 302 and response.url == url("validate", batch)
    assert flash(response) and "职保会待审核" in flash(response)[0]
    assert not ValidationRun.objects.filter(batch=batch).exists()


def test_failed_run_shows_its_message(client_of, batch, people):
    ValidationRun.objects.create(
        batch=batch, roster_version=0, status=JobStatus.FAILED, error="清册校验失败：系统处理时出错", started_by=batch.account
    )
    text = page_text(result(client_of, batch))
    assert "清册校验未完成：清册校验失败：系统处理时出错" in text
    assert 'action="' + url("validate", batch) in result(client_of, batch).content.decode()


# --- 清册校验结果: what the outcome says (SPEC VAL-1…VAL-6, X-1) ----------------------------------------------


def test_result_without_a_run_offers_validation(client_of, batch, people):
    response = result(client_of, batch)
    assert response.status_code == 200
    assert "本批次尚未进行清册校验。请点击【清册校验】。" in page_text(response)
    assert f'action="{url("validate", batch)}"' in response.content.decode()


def test_retired_people_listed_masked_with_remove(client_of, batch, people, validated):
    # SPEC VAL-1: `以下有N位人员,请移除!` 姓名, 证件号码 (masked, X-1), 证件类型, 性别, 错误原因 退休, 【移除】.
    response = result(client_of, batch)
    html = response.content.decode()
    assert RETIRED_ID not in html and OVER_AGE_ID not in html and "31AB99917X" not in html
    # The handbook's dialog 清册校验结果, open on load; the page behind says it in words and reopens it.
    assert "参保清册中有1位退休人员，须全部移除后才能清册提交。 查看需移除人员" in page_text(response)
    assert 'data-bs-toggle="modal" data-bs-target="#retired-dialog"' in html
    start = html.index('<div class="modal fade retired-dialog" id="retired-dialog"')
    dialog = html[start : html.index('class="modal-footer"', start)]
    assert 'role="dialog" aria-labelledby="retired-dialog-title"' in dialog and "data-show-on-load" in dialog
    assert '<h2 class="modal-title fs-5" id="retired-dialog-title">清册校验结果</h2>' in dialog
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", dialog))
    assert "以下有1位人员,请移除!" in text
    assert f"陈美珠 {masked(RETIRED_ID)} 身份证 女 退休 移除 确认移除“陈美珠”? 确定移除 取消" in text
    # 【移除】 confirms in its row: a plain form posting the person to the removal view, no second dialog.
    remove = url("validation_remove", batch)
    row_form = f'<form method="post" action="{remove}?tab=over_age" class="collapse retired-confirm" id="retired-confirm-{people["retired"].pk}">'
    assert row_form in dialog
    assert f'<input type="hidden" name="entry_ids" value="{people["retired"].pk}">' in dialog
    assert "全部移除 确认移除全部1位退休人员? 确定移除 取消" in text
    assert '<input type="hidden" name="all_retired" value="1">' in dialog
    assert "data-row-action" not in dialog


def test_the_retired_dialog_posts_to_the_removal_view(client_of, batch, people, validated):
    # SPEC VAL-1: what the row's 【确定移除】 posts (entry_ids) removes the person; the page comes back
    # without the dialog once nobody retired is left.
    response = client_of.post(url("validation_remove", batch) + "?tab=over_age", {"entry_ids": people["retired"].pk})
    assert response.status_code == 302 and response["Location"] == url("validation_result", batch) + "?tab=over_age"
    assert flash(response) == ["已移除“陈美珠”。"]
    html = result(client_of, batch).content.decode()
    assert "retired-dialog" not in html and "data-show-on-load" not in html and "查看需移除人员" not in html


def test_over_age_tab(client_of, batch, people, validated):
    # SPEC VAL-2: 姓名, 证件号码, 证件类型, 个人社保登记号, 是否可参保 否(超龄), 社保尚在缴金 (only with 社保), 【移除】.
    section = pane(result(client_of, batch, tab="over_age"), "over_age")
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", section))
    assert "即医保享受在职待遇" in text
    assert f"王建国 {masked(OVER_AGE_ID)} 身份证 S0099 否(超龄)" in text
    assert f"李大爷 {masked(NOT_INSURED_ID)} 身份证 - 否(超龄) 无社保，须移除 移除" in text
    assert f'name="ticked" value="{people["over_age"].pk}"' in section
    assert f'name="ticked" value="{people["not_insured"].pk}"' not in section
    assert "胡庆庆" not in section and "陈美珠" not in section  # under age; retired is VAL-1's


def test_over_age_and_unmatched_rows_escape_what_the_unit_typed(client_of, batch, people, validated):
    # The rows are written in Python (rosters.views.validation._over_age_row, _unmatched_row): names and
    # numbers are escaped as the templates escaped them, in the cells and in the attributes.
    RosterEntry.objects.filter(pk=people["over_age"].pk).update(name='王<b>"&\'', personal_ss_number="<S1>")
    RosterEntry.objects.filter(pk=people["unmatched"].pk).update(name="张<i>")
    html = pane(result(client_of, batch, tab="over_age"), "over_age")
    pk = people["over_age"].pk
    assert '<td class="cell-name">王&lt;b&gt;&quot;&amp;&#x27;</td>' in html
    assert "<td>&lt;S1&gt;</td>" in html
    assert f'id="still-contributing-{pk}" aria-label="王&lt;b&gt;&quot;&amp;&#x27; 社保尚在缴金">' in html
    remove = url("validation_remove", batch)
    assert f'data-row-action="{remove}?entry={pk}&amp;tab=over_age" data-confirm="确认移除“王&lt;b&gt;&quot;&amp;&#x27;”?">移除</button>' in html
    assert "<b>" not in html
    listed = pane(result(client_of, batch, tab="unmatched", unmatched=1), "unmatched")
    assert '<td class="cell-name">张&lt;i&gt;</td>' in listed and "<i>" not in listed.replace('<i class="', "")


def test_over_age_rows_as_the_template_wrote_them(client_of, batch, people, validated):
    # The exact markup of a row with 社保 (ticked) and of one without, editable.
    RosterEntry.objects.filter(pk=people["over_age"].pk).update(still_contributing=True)
    html = pane(result(client_of, batch, tab="over_age"), "over_age")
    insured, uninsured, remove = people["over_age"], people["not_insured"], url("validation_remove", batch)
    assert (
        "\n          <tr>"
        '\n            <td class="cell-name">王建国</td>'
        f'\n            <td class="cell-id">{masked(OVER_AGE_ID)}</td>'
        "\n            <td>身份证</td>"
        "\n            <td>S0099</td>"
        '\n            <td class="text-danger">否(超龄)</td>'
        '\n            <td class="cell-tick">\n              '
        f'\n              <input type="hidden" name="shown" value="{insured.pk}">'
        f'\n              <input class="form-check-input" type="checkbox" name="ticked" value="{insured.pk}" '
        f'id="still-contributing-{insured.pk}" checked aria-label="王建国 社保尚在缴金">'
        "\n              \n            </td>"
        f'\n            <td><button type="button" class="btn btn-link btn-sm px-1 text-danger" data-row-action="{remove}'
        f'?entry={insured.pk}&amp;tab=over_age" data-confirm="确认移除“王建国”?">移除</button></td>'
        "\n          </tr>\n          "
    ) in html
    assert (
        '\n            <td class="cell-tick">\n              '
        '\n              <span class="small text-danger">无社保，须移除</span>'
        "\n              \n            </td>"
        f'\n            <td><button type="button" class="btn btn-link btn-sm px-1 text-danger" data-row-action="{remove}'
        f'?entry={uninsured.pk}&amp;tab=over_age" data-confirm="确认移除“李大爷”?">移除</button></td>'
    ) in html


def test_headcount_tab(client_of, batch, people, validated):
    # SPEC VAL-3: last year 10, this year 5: (10 − 5) / 10 = 50 % → outside ±10 %.
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", pane(result(client_of, batch), "headcount")))
    assert "2022年度参保人数 10" in text and "2023年拟参保人数 5" in text and "增减幅度 50.00%" in text
    assert "清册人数增减幅度在±10%以内:否" in text


def test_headcount_within_the_band(client_of, batch, handbook_year, django_capture_on_commit_callbacks):
    enrolled_last_year(batch, 1)
    make_entry(batch, name="胡庆庆", work_status=WorkStatus.ACTIVE, has_social_security=True, is_suggested=True, ss_unit_code=SS_CODE)
    ss_unit(batch, SS_CODE, 1)
    with django_capture_on_commit_callbacks(execute=True):
        validation_start(batch=batch, acting_user=batch.account)
    response = result(client_of, batch)
    assert "清册人数增减幅度在±10%以内:是" in page_text(response)
    assert "无需进行单位社保比例校验" in page_text(response)


def test_unmatched_tab_count_list_and_confirmation(client_of, batch, people, validated):
    # SPEC VAL-5: `无单位社保编码 N`, clickable for the (paginated) list, 【人员确认】 with its 承诺书.
    section = pane(result(client_of, batch, tab="unmatched"), "unmatched")
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", section))
    assert "无单位社保编码 2 未确认 2 人 人员确认" in text
    assert 'href="?tab=unmatched&amp;unmatched=1#unmatched-list"' in section
    assert "张贺" not in section  # the list opens on a click

    listed = pane(result(client_of, batch, tab="unmatched", unmatched=1), "unmatched")
    listed_text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", listed))
    assert f"李大爷 {masked(NOT_INSURED_ID)} 身份证 男 否 未确认" in listed_text
    assert "张贺 31*****17X 非身份证 女 否 未确认" in listed_text
    assert "显示第 1 到第 2 条记录，总共 2 条记录" in listed_text

    response = result(client_of, batch)
    html = response.content.decode()
    assert UNMATCHED_LETTER in html
    assert f'action="{url("validation_confirm_unmatched", batch)}"' in html


def test_unmatched_list_is_paginated(client_of, batch, people, validated):
    for index in range(15):
        make_entry(batch, name=f"未匹配{index:02d}", birth_date=dt.date(1990, 1, 1 + index))
    second = pane(result(client_of, batch, tab="unmatched", unmatched=1, unmatched_page=2), "unmatched")
    assert "显示第 16 到第 17 条记录，总共 17 条记录" in re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", second))
    assert "未匹配14" in second and "李大爷" not in second


def test_ratio_tab(client_of, batch, people, validated):
    # SPEC VAL-4: the three totals and a row per SS unit code; VAL-6: *非上传附件 before any upload.
    section = pane(result(client_of, batch, tab="ratio"), "ratio")
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", section))
    assert "3 拟参保人数 50 社保编码的缴费人数之和 6.00% 校验比例结果" in text
    assert "00108537 上海卓远人力资源发展有限公司 3 50 6.00%" in text
    assert "比例在75%到100%之间的默认通过" in text
    assert "*非上传附件" in text and "需上传：情况说明（加盖公章）" in text
    assert "请上传情况说明（加盖公章）" in text  # the upload dialog's first line
    # The type drop-down: the required one first, with the handbook's 使用情况 as help.
    options = re.findall(r'<option value="([^"]+)" data-help="([^"]*)"', section)
    assert options[0][0] == KIND_SITUATION.value
    assert ("任命书", "社保关系在其他单位，实际在本单位任职") in options
    assert len(options) == 6


def test_a_new_unit_is_asked_for_the_social_security_form(client_of, batch, django_capture_on_commit_callbacks):
    # SPEC VAL-6: a new unit (no previous year) uploads 《社会保险费缴费申报表》或《单位参加城镇社会保险基本情况》.
    make_entry(batch, name="胡庆庆", work_status=WorkStatus.ACTIVE, has_social_security=True, is_suggested=True, ss_unit_code=SS_CODE)
    ss_unit(batch, SS_CODE, 1)
    with django_capture_on_commit_callbacks(execute=True):
        validation_start(batch=batch, acting_user=batch.account)
    section = pane(result(client_of, batch, tab="ratio"), "ratio")
    assert "请上传《社会保险费缴费申报表》或《单位参加城镇社会保险基本情况》" in section
    assert re.findall(r'<option value="([^"]+)"', section)[0] == KIND_SS_FORM.value
    assert "清册人数增减幅度在±10%以内:否" in page_text(result(client_of, batch))


# --- actions: ticks, 移除, 人员确认, attachments ----------------------------------------------------------------


def test_ticks_persist_and_do_not_make_the_result_stale(client_of, batch, people, validated):
    over_age = people["over_age"]
    response = client_of.post(
        url("validation_still_contributing", batch),
        {"shown": [over_age.pk], "ticked": [over_age.pk]},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="over-age-saved"' in html and "已保存" in html and 'data-hx-swap-oob="true"' in html
    assert "<html" not in html
    over_age.refresh_from_db()
    assert over_age.still_contributing is True

    page = result(client_of, batch, tab="over_age")
    assert f'value="{over_age.pk}" id="still-contributing-{over_age.pk}" checked' in page.content.decode()
    text = page_text(page)
    assert "参保清册已变动" not in text  # SPEC VAL preamble: a tick keeps the result current
    assert "1人未勾选" not in text

    # Unticking with 【保存】 (no htmx): the box left unticked among the shown ones is saved as such.
    response = client_of.post(url("validation_still_contributing", batch), {"shown": [over_age.pk]})
    assert response.status_code == 302 and response.url == url("validation_result", batch) + "?tab=over_age"
    over_age.refresh_from_db()
    assert over_age.still_contributing is False


def test_tick_refused_by_the_state(client_of, batch, people, validated):
    Batch.objects.filter(pk=batch.pk).update(state=BatchState.IN_REVIEW)
    over_age = people["over_age"]
    response = client_of.post(
        url("validation_still_contributing", batch), {"shown": [over_age.pk], "ticked": [over_age.pk]}, HTTP_HX_REQUEST="true"
    )
    assert "批次当前状态为“职保会待审核”，参保清册不能修改。" in response.content.decode()
    over_age.refresh_from_db()
    assert over_age.still_contributing is False


def test_removing_a_listed_person_keeps_the_result_current(client_of, batch, people, validated):
    # SPEC VAL-1, VAL-2, BAT-4: 【移除】 of a person the result lists (退休, 在职超龄) is the unit acting on
    # the result: it stays current, and the page goes on towards 【清册提交】, not back to 【清册校验】.
    response = client_of.post(url("validation_remove", batch) + f"?entry={people['retired'].pk}")
    assert response.status_code == 302
    assert flash(response) == ["已移除“陈美珠”。"]
    assert not RosterEntry.objects.filter(pk=people["retired"].pk).exists()

    page = result(client_of, batch)
    text = page_text(page)
    assert "参保清册已变动" not in text
    assert "以下有" not in text and "退休人员不能参保" not in text  # the live list: the removed person is gone
    assert "清册校验不通过。清册提交前，请先处理以下问题：" in text  # what is left, as the badge says
    assert "校验时参保人数 5 人" in text and "参保人数 4 人" in text

    # A second click finds nobody and says so.
    again = client_of.post(url("validation_remove", batch) + f"?entry={people['retired'].pk}")
    assert flash(again) == ["该人员已不在参保清册中。"]


def test_removing_someone_the_result_did_not_list_makes_it_stale(client_of, batch, people, validated):
    # SPEC VAL preamble: removing people makes the result stale, unless the result listed them.
    response = client_of.post(url("validation_remove", batch) + f"?entry={people['fine'].pk}")
    assert flash(response) == ["已移除“胡庆庆”。参保清册已变动，请重新进行清册校验。"]
    page = result(client_of, batch)
    assert "参保清册已变动，请重新进行清册校验" in page_text(page)
    html = page.content.decode()
    assert f'action="{url("validate", batch)}"' in html
    assert 'data-bs-target="#submit-dialog"' not in html


def test_badge_and_status_agree_once_an_invalid_result_is_dealt_with(client_of, batch, people, validated):
    # SPEC BAT-3, BAT-4: 清册校验不通过 stays the state until 【清册提交】 (the FAQ: fix, then 清册提交). Once
    # everything the result found is dealt with — the retired and the uninsured over-age person removed,
    # the other ticked, the unmatched confirmed, 情况说明 uploaded — the line under the badge says so in
    # the badge's terms (never "符合校验规则" beside 清册校验不通过) and 【清册提交】 is offered.
    assert batch.state == BatchState.INVALID
    for key in ("retired", "not_insured"):
        client_of.post(url("validation_remove", batch) + f"?entry={people[key].pk}&tab=over_age")
    roster_still_contributing_set(batch=batch, entry_ids=[people["over_age"].pk], value=True, acting_user=batch.account)
    roster_unmatched_confirm(batch=batch, acting_user=batch.account)
    batch_attachment_add(batch=batch, upload=png_upload(), kind=KIND_SITUATION.value, acting_user=batch.account)

    page = result(client_of, batch)

    text, html = page_text(page), page.content.decode()
    assert Batch.objects.get(pk=batch.pk).state == BatchState.INVALID
    assert '<span class="badge badge-state-rejected">清册校验不通过</span>' in html
    assert "参保清册符合校验规则" not in text and "validation-passed" not in html
    assert "批次状态为“清册校验不通过”，校验结果中需处理的问题均已处理，请点击【清册提交】：提交时将按当前参保清册重新校验" in text
    assert 'data-bs-target="#submit-dialog"' in html and "参保清册已变动" not in text


def test_a_passed_result_says_the_roster_meets_the_rules(client_of, handbook_year, django_capture_on_commit_callbacks):
    # SPEC BAT-4: nothing blocks → the batch stays 清册待校验 with its result and 【清册提交】.
    batch = make_batch(year=handbook_year)
    enrolled_last_year(batch, 1)
    ss_unit(batch, SS_CODE, 1)
    make_entry(batch, name="胡庆庆", birth_date=dt.date(1985, 3, 14), work_status=WorkStatus.ACTIVE,
               has_social_security=True, is_suggested=True, ss_unit_code=SS_CODE)
    with django_capture_on_commit_callbacks(execute=True):
        validation_start(batch=batch, acting_user=batch.account)
    client_of.force_login(batch.account)
    page = result(client_of, batch)
    assert Batch.objects.get(pk=batch.pk).state == BatchState.DRAFT
    assert "参保清册符合校验规则，请点击【清册提交】。" in page_text(page)
    assert "validation-fixed" not in page.content.decode()


def test_remove_all_retired(client_of, batch, people, validated):
    make_entry(batch, name="唐淑芳", sex=Sex.FEMALE, birth_date=dt.date(1962, 1, 1), work_status=WorkStatus.RETIRED)
    response = client_of.post(url("validation_remove", batch) + "?all_retired=1")
    assert flash(response) == ["已移除2位人员。"]  # only people the result lists: it stays current
    assert not RosterEntry.objects.filter(batch=batch, work_status=WorkStatus.RETIRED).exists()
    assert RosterEntry.objects.filter(batch=batch).count() == 4


def test_remove_ignores_another_batchs_person(client_of, batch, people, validated):
    other = make_entry(make_batch(year=batch.coverage_year), name="外单位")
    response = client_of.post(url("validation_remove", batch) + f"?entry={other.pk}")
    assert flash(response) == ["该人员已不在参保清册中。"]
    assert RosterEntry.objects.filter(pk=other.pk).exists()


def test_confirm_unmatched_needs_the_agreement(client_of, batch, people, validated):
    response = client_of.post(url("validation_confirm_unmatched", batch))
    assert flash(response) == ["请先阅读人员确认承诺书，并勾选【我已阅读并同意】。"]
    assert not RosterEntry.objects.filter(unmatched_confirmed=True).exists()

    response = client_of.post(url("validation_confirm_unmatched", batch), {"agreed": "1"})
    assert response.url == url("validation_result", batch) + "?tab=unmatched"
    assert flash(response)[-1] == "已确认2位无单位社保编码人员。"
    text = page_text(result(client_of, batch, tab="unmatched"))
    assert "无单位社保编码 2 已确认" in text
    assert "参保清册已变动" not in text


def test_attachment_upload_show_and_remove(client_of, batch, people, validated):
    response = client_of.post(
        url("validation_attachment_upload", batch),
        {"file": png_upload(), "kind": KIND_SITUATION.value, "draft_token": ""},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    attachment = attachments_of(batch).get()
    assert attachment.kind == KIND_SITUATION.value and attachment.uploaded_by == batch.account
    html = response.content.decode()
    assert url("validation_attachment", batch, attachment_pk=attachment.pk) in html
    assert "✓已上传附件" in html  # the summary line the dialog copies beside 【上传附件】

    text = page_text(result(client_of, batch, tab="ratio"))
    assert "✓已上传附件" in text and "*非上传附件" not in text
    assert "请上传附件：" not in text  # no longer blocking
    assert "参保清册已变动" not in text

    shown = client_of.get(url("validation_attachment", batch, attachment_pk=attachment.pk))
    assert shown.status_code == 200 and shown["Content-Type"] == "image/png"

    removed = client_of.post(url("validation_attachment_delete", batch, attachment_pk=attachment.pk), HTTP_HX_REQUEST="true")
    assert removed.status_code == 200 and "*非上传附件" in removed.content.decode()
    assert not attachments_of(batch).exists()


def test_attachment_refusals_are_shown_in_the_dialog(client_of, batch, people, validated):
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = client_of.post(
        url("validation_attachment_upload", batch),
        {"file": SimpleUploadedFile("说明.txt", b"hello"), "kind": KIND_SITUATION.value},
        HTTP_HX_REQUEST="true",
    )
    assert "说明.txt：仅支持 JPG、PNG 图片或 PDF 文件" in response.content.decode()
    response = client_of.post(
        url("validation_attachment_upload", batch), {"file": png_upload(), "kind": "其他"}, HTTP_HX_REQUEST="true"
    )
    assert "请选择附件类型。" in response.content.decode()
    assert not attachments_of(batch).exists()


# --- 【清册提交】: offered when nothing blocks (SPEC BAT-4) -------------------------------------------------


def submit_button(response) -> str:
    html = response.content.decode()
    start = html.index('id="validation-actions"')
    return html[start : html.index("</div>", start)]


def test_submit_disabled_while_something_blocks(client_of, batch, people, validated):
    actions = submit_button(result(client_of, batch))
    assert "清册提交" in actions and "disabled" in actions
    assert "请先处理：" in actions and "请上传附件：情况说明（加盖公章）" in actions


def test_submit_enabled_once_everything_is_dealt_with(client_of, batch, people, validated, django_capture_on_commit_callbacks):
    # The unit removes the retired and the uninsured over-age person, validates again, ticks, confirms
    # and uploads 情况说明: 【清册提交】 opens the 承诺书, posted to rosters:submit.
    client_of.post(url("validation_remove", batch) + "?all_retired=1")
    client_of.post(url("validation_remove", batch) + f"?entry={people['not_insured'].pk}")
    with django_capture_on_commit_callbacks(execute=True):
        client_of.post(url("validate", batch))
    client_of.post(url("validation_still_contributing", batch), {"shown": [people["over_age"].pk], "ticked": [people["over_age"].pk]})
    client_of.post(url("validation_confirm_unmatched", batch), {"agreed": "1"})
    assert "disabled" in submit_button(result(client_of, batch))  # the attachment is still missing
    client_of.post(url("validation_attachment_upload", batch), {"file": png_upload(), "kind": KIND_SITUATION.value})

    response = result(client_of, batch)
    actions = submit_button(response)
    assert 'data-bs-target="#submit-dialog"' in actions and "disabled" not in actions
    html = response.content.decode()
    assert SUBMIT_LETTER in html and f'action="{url("submit", batch)}"' in html
    assert 'name="agreed" value="1"' in html and "我已阅读并同意" in html
    assert "提交后由职保会审核附件，审核时间为提交申请后2个工作日" in page_text(response)


def test_read_only_states_show_the_result_without_actions(client_of, batch, people, validated):
    Batch.objects.filter(pk=batch.pk).update(state=BatchState.IN_REVIEW)
    response = result(client_of, batch)
    html = response.content.decode()
    assert "只能查看校验结果" in page_text(response)
    assert "data-row-action" not in html and "人员确认</button>" not in html and "上传附件</button>" not in html
    assert "清册提交</button>" not in html
    assert 'name="ticked" value="{}" id="still-contributing-{}" disabled'.format(people["over_age"].pk, people["over_age"].pk) in html


# --- access (SPEC X-4; STYLE.md §10) -----------------------------------------------------------------------

GET_PAGES = ("validate", "validation_result", "validation_progress")
POST_ACTIONS = (
    "validate",
    "validation_remove",
    "validation_still_contributing",
    "validation_confirm_unmatched",
    "validation_attachment_upload",
)


def all_urls(batch, attachment_pk=1):
    return [("get", url(name, batch)) for name in GET_PAGES] + [
        ("post", url(name, batch)) for name in POST_ACTIONS
    ] + [
        ("get", url("validation_attachment", batch, attachment_pk=attachment_pk)),
        ("post", url("validation_attachment_delete", batch, attachment_pk=attachment_pk)),
    ]


def test_anonymous_is_sent_to_login(client, batch):
    for method, address in all_urls(batch):
        response = getattr(client, method)(address)
        assert response.status_code == 302 and response.url.startswith(reverse("accounts:login")), address


def test_another_accounts_batch_is_404(client, batch, people):
    attachment = batch_attachment_add(batch=batch, upload=png_upload(), kind=KIND_SITUATION.value, acting_user=batch.account)
    stranger = make_batch(year=batch.coverage_year).account
    client.force_login(stranger)
    for method, address in all_urls(batch, attachment.pk):
        assert getattr(client, method)(address).status_code == 404, address
    assert attachments_of(batch).count() == 1
    assert RosterEntry.objects.filter(batch=batch).count() == 5


def test_back_office_roles_get_403(client, batch, reviewer, union_staff):
    for user in (reviewer, union_staff):
        client.force_login(user)
        for method, address in all_urls(batch):
            assert getattr(client, method)(address).status_code == 403, address


def test_another_batchs_attachment_under_this_batch_is_404(client_of, batch, handbook_year):
    mine_too = make_batch(year=handbook_year, account=batch.account, kind=BatchKind.INSTANT)
    attachment = batch_attachment_add(batch=mine_too, upload=png_upload(), kind=KIND_SITUATION.value, acting_user=batch.account)
    assert client_of.get(url("validation_attachment", batch, attachment_pk=attachment.pk)).status_code == 404
    client_of.post(url("validation_attachment_delete", batch, attachment_pk=attachment.pk))
    assert attachments_of(mine_too).count() == 1


def test_roster_page_offers_validation_when_the_state_allows_it(client_of, batch, people):
    form = f'action="{url("validate", batch)}"'
    assert form in client_of.get(url("roster", batch)).content.decode()
    Batch.objects.filter(pk=batch.pk).update(state=BatchState.REVIEW_REJECTED)  # edits, but no 清册校验 (BAT-3)
    assert form not in client_of.get(url("roster", batch)).content.decode()


QUERIES_OF_THE_RESULT_PAGE = 17  # 14 reads, and the session saved (a savepoint and an UPDATE)


def test_result_page_query_count_does_not_grow_with_the_roster(client_of, batch, people, django_capture_on_commit_callbacks):
    # Every list is counted once by the rules' aggregate and read a page at a time: 5 people or 45,
    # the same number of queries.
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries_of_the_page() -> int:
        with django_capture_on_commit_callbacks(execute=True):
            validation_start(batch=batch, acting_user=batch.account)
        with CaptureQueriesContext(connection) as captured:
            assert result(client_of, batch, unmatched=1).status_code == 200
        return len(captured)

    small = queries_of_the_page()
    # SPEC BAT-4: the live counts of VAL-1, VAL-2, VAL-5 and ROS-5 are one aggregate (rules.roster_findings),
    # the top bar's unit comes from the batch the view read (session, user, code with its 经办人填报, batch,
    # run, the counts, VAL-3's two, VAL-4's two, the attachments once for the grid and VAL-6, the three lists).
    assert small <= QUERIES_OF_THE_RESULT_PAGE
    for index in range(40):
        make_entry(
            batch, name=f"人员{index}", birth_date=dt.date(1950 + index % 2 * 40, 1, 1 + index % 28),
            work_status=[WorkStatus.RETIRED, WorkStatus.ACTIVE, WorkStatus.UNKNOWN][index % 3],
            has_social_security=index % 2 == 0, ss_unit_code=SS_CODE if index % 4 else "",
        )
    assert queries_of_the_page() == small


def test_review_rejected_resubmits_without_a_new_validation(client_of, batch, people, validated):
    # SPEC BAT-3, VAL-7: 职保会审核不通过 edits roster and attachments and offers 【清册提交】 again, but not
    # 【清册校验】: a stale result there still offers 【清册提交】, which runs the rules again anyway (BAT-4).
    RosterEntry.objects.filter(pk__in=[people["retired"].pk, people["not_insured"].pk]).delete()
    Batch.objects.filter(pk=batch.pk).update(state=BatchState.REVIEW_REJECTED, roster_version=batch.roster_version + 1)
    RosterEntry.objects.filter(pk=people["over_age"].pk).update(still_contributing=True)
    RosterEntry.objects.filter(batch=batch, ss_unit_code="").update(unmatched_confirmed=True)
    batch_attachment_add(batch=batch, upload=png_upload(), kind=KIND_SITUATION.value, acting_user=batch.account)

    response = result(client_of, batch)
    assert "参保清册已变动，以下校验结果仅供参考；点击【清册提交】时将按当前参保清册重新校验。" in page_text(response)
    actions = submit_button(response)
    assert 'data-bs-target="#submit-dialog"' in actions and "disabled" not in actions
    assert f'action="{url("validate", batch)}"' not in response.content.decode()
