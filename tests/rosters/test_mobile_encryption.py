"""SPEC SEC-4: roster and handler mobiles are encrypted at rest like ID numbers, and shown masked as
before (X-1). The database columns are read with raw SQL, so nothing here goes through the models'
properties when it checks what is stored."""
import datetime as dt
import json

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse

from accounts.models import UnionOrganisation
from enrollment.models import ChangeRequest, HandlerInfo
from enrollment.services import change_request_approve
from mutualaid import sms
from mutualaid.pii import pii_decrypt, pii_encrypt
from rosters.importer import roster_import_start
from rosters.models import IdType, RosterEntry
from rosters.selectors import roster_export_rows
from tests.enrollment.handler_helpers import MOBILE, handler_data, make_code, send_code
from tests.enrollment.queue_helpers import change_page, make_change_request
from tests.enrollment.queue_helpers import make_code as make_backoffice_code
from tests.factories import IMPORT_CODE, UserFactory, make_batch, make_entry
from tests.rosters.importfiles import resident_id, row, template_xlsx, upload

ENTRY_MOBILE = "13987654321"


def stored_row(model, pk) -> dict:
    """The row as the database holds it (column → value), read without the model."""
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table} WHERE id = %s", [pk])
        names = [column[0] for column in cursor.description]
        return dict(zip(names, cursor.fetchone()))


def holds_no(mobile: str, row: dict) -> bool:
    return all(mobile not in str(value) for value in row.values())


# --- roster entries ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_roster_entry_keeps_only_the_cipher_of_its_mobile(handbook_year):
    """SPEC SEC-4: no plain mobile column, and no column holding the digits."""
    entry = make_entry(make_batch(year=handbook_year), id_type=IdType.OTHER, id_number="E12345678", mobile=ENTRY_MOBILE)

    stored = stored_row(RosterEntry, entry.pk)

    assert "mobile" not in stored and holds_no(ENTRY_MOBILE, stored)
    assert pii_decrypt(stored["mobile_cipher"]) == ENTRY_MOBILE
    assert RosterEntry.objects.get(pk=entry.pk).mobile == ENTRY_MOBILE
    # Two entries with the same mobile do not share a cipher (a fresh nonce each time).
    other = make_entry(entry.batch, id_type=IdType.OTHER, id_number="E87654321", mobile=ENTRY_MOBILE)
    assert stored_row(RosterEntry, other.pk)["mobile_cipher"] != stored["mobile_cipher"]


@pytest.mark.django_db
def test_an_entry_without_a_mobile_stores_an_empty_cipher(handbook_year):
    entry = make_entry(make_batch(year=handbook_year))
    assert stored_row(RosterEntry, entry.pk)["mobile_cipher"] == ""
    assert RosterEntry.objects.get(pk=entry.pk).mobile == ""


def test_only_a_canonical_mobile_is_encrypted():
    """SPEC SEC-1: ciphers are made from the canonical form only (mutualaid.identifiers.canonical_mobile)."""
    entry = RosterEntry()
    for disguised in ("139-8765-4321", "１３９８７６５４３２１", " 13987654321"):
        with pytest.raises(ValueError):
            entry.mobile = disguised
    entry.mobile = ENTRY_MOBILE
    assert pii_decrypt(entry.mobile_cipher) == ENTRY_MOBILE
    with pytest.raises(ValueError):
        HandlerInfo().handler_mobile = "139 8765 4321"


@pytest.mark.django_db
def test_the_entry_page_and_the_export_still_show_the_mobile_masked(client, handbook_year):
    """SPEC SEC-4 with X-1: 查看 and 【导出】 decrypt and mask (139****4321), never the whole number."""
    batch = make_batch(year=handbook_year)
    number = resident_id("19850314", 427)
    entry = make_entry(batch, name="胡庆庆", id_number=number, mobile=ENTRY_MOBILE)
    client.force_login(batch.account)

    html = client.get(reverse("rosters:roster_entry", kwargs={"number": batch.number, "entry_id": entry.pk})).content.decode()

    assert "139****4321" in html and ENTRY_MOBILE not in html
    [exported] = list(roster_export_rows(batch=batch))
    assert "139****4321" in exported and ENTRY_MOBILE not in exported


@pytest.mark.django_db
def test_editing_an_entry_stores_the_new_mobile_encrypted(client, handbook_year):
    """【编辑】 (SPEC ROS-7) saves the mobile through its cipher column."""
    batch = make_batch(year=handbook_year)
    entry = make_entry(batch, name="KIM", id_type=IdType.OTHER, id_number="E99887766", mobile=ENTRY_MOBILE, birth_date=dt.date(1980, 1, 2))
    client.force_login(batch.account)

    response = client.post(
        reverse("rosters:roster_entry_edit", kwargs={"number": batch.number, "entry_id": entry.pk}),
        {"name": "KIM", "birth_date": "1980-01-02", "sex": "男", "mobile": "13700001111", "has_social_security": "True"},
    )

    assert response.status_code == 302
    stored = stored_row(RosterEntry, entry.pk)
    assert holds_no("13700001111", stored) and pii_decrypt(stored["mobile_cipher"]) == "13700001111"


@pytest.mark.django_db
def test_the_import_writes_the_mobiles_encrypted(handbook_year):
    """SPEC SEC-4: the importer's bulk write (COPY on PostgreSQL, json_each on SQLite) stores ciphers;
    a later file without the mobile keeps the cipher it had (ROS-4)."""
    account = UserFactory(username="cf-unit", first_name="丁一")
    batch = make_batch(account, year=handbook_year, code=IMPORT_CODE)
    alice, betty = resident_id("19900101", 101), resident_id("19850615", 202)

    roster_import_start(
        batch=batch,
        upload=upload(template_xlsx([row("王豆豆", number=alice, mobile=ENTRY_MOBILE), row("李梅", number=betty)])),
        acting_user=account,
    )

    by_number = {entry.id_number: entry for entry in RosterEntry.objects.filter(batch=batch)}
    alice_row = stored_row(RosterEntry, by_number[alice].pk)
    assert holds_no(ENTRY_MOBILE, alice_row) and pii_decrypt(alice_row["mobile_cipher"]) == ENTRY_MOBILE
    assert stored_row(RosterEntry, by_number[betty].pk)["mobile_cipher"] == ""
    assert by_number[alice].mobile == ENTRY_MOBILE

    roster_import_start(batch=batch, upload=upload(template_xlsx([row("王豆豆", number=alice)])), acting_user=account)
    assert stored_row(RosterEntry, by_number[alice].pk)["mobile_cipher"] == alice_row["mobile_cipher"]


# --- the handler's mobile ------------------------------------------------------------------------------


@pytest.fixture
def changfeng(union_organisations):
    return UnionOrganisation.objects.get(name="普陀区长风新村街道总工会")


@pytest.fixture
def code(changfeng):
    """A code of its own account with its lead unit (tests/enrollment/handler_helpers.py's make_code)."""
    return make_code(UserFactory(username="cf-unit", first_name="丁一", mobile=MOBILE, email="hr@example.com"), committee=changfeng)


def test_the_handler_gets_the_sms_and_the_saved_mobile_is_encrypted(client, code, changfeng, django_capture_on_commit_callbacks):
    """SPEC HND-1, SEC-4: the SMS code goes to 经办人电话, which is then kept as a cipher only."""
    sms.outbox.clear()
    client.force_login(code.account)
    unit_client = client
    sms_code = send_code(unit_client, django_capture_on_commit_callbacks)  # asserts the outbox got MOBILE
    assert sms.outbox[-1][0] == MOBILE

    response = unit_client.post(reverse("enrollment:handler"), handler_data(changfeng.parent, changfeng, sms_code=sms_code))

    assert response.status_code == 302
    info = HandlerInfo.objects.get(code=code)
    stored = stored_row(HandlerInfo, info.pk)
    assert "handler_mobile" not in stored and holds_no(MOBILE, stored)
    assert pii_decrypt(stored["handler_mobile_cipher"]) == MOBILE and info.handler_mobile == MOBILE
    # The page after the first save shows it (read only) as it did before.
    assert f'value="{MOBILE}"' in unit_client.get(reverse("enrollment:handler")).content.decode()


def test_a_change_of_the_handler_mobile_is_encrypted_in_the_request_and_applied(code):
    """SPEC HND-2, SEC-4: 原信息 and 新修改信息 keep the mobiles as ciphers; approving stores the new one."""
    HandlerInfo.objects.create(
        code=code, handler_name="丁一", handler_mobile=MOBILE, handler_email="dingyi@example.com", economic_type="私营",
        address="上海市普陀区长风路1号", industry="I", headcount=85,
    )
    change = make_change_request(code, ["handler_mobile", "address"], {"handler_mobile": "13800001111", "address": "新地址"})

    stored = stored_row(ChangeRequest, change.pk)
    assert holds_no(MOBILE, stored) and holds_no("13800001111", stored)
    new_values = json.loads(stored["new_values"]) if isinstance(stored["new_values"], str) else stored["new_values"]
    assert new_values["address"] == "新地址"  # the other items stay in clear
    assert (change.original_value("handler_mobile"), change.new_value("handler_mobile")) == (MOBILE, "13800001111")

    change_request_approve(change_request=change, acting_user=UserFactory(role="reviewer"))

    info = HandlerInfo.objects.get(code=code)
    assert info.handler_mobile == "13800001111" and holds_no("13800001111", stored_row(HandlerInfo, info.pk))


@pytest.mark.django_db
def test_superusers_edit_the_handler_mobile_in_the_back_office(client):
    """The back office's 经办人信息 form (HandlerInfoAdminForm) shows the number in clear to superusers
    and stores a new one as a cipher; saving without changing it keeps the cipher (no audit noise)."""
    handler = HandlerInfo.objects.get(code=make_backoffice_code())
    client.force_login(UserFactory(role="reviewer", is_superuser=True, is_staff=True))
    data = {
        "code": handler.code_id, "handler_name": "王经办", "handler_mobile": "13811112222", "handler_phone": "021-62220000",
        "handler_email": "wang@changshou.example.com", "economic_type": "私营", "union_level1": "", "union_level2": "",
        "address": "上海市普陀区长寿路100号", "industry": "C", "headcount": "120", "saved_by": handler.saved_by_id,
    }
    before = stored_row(HandlerInfo, handler.pk)["handler_mobile_cipher"]

    assert client.post(change_page(handler), data).status_code == 302
    assert stored_row(HandlerInfo, handler.pk)["handler_mobile_cipher"] == before

    assert client.post(change_page(handler), {**data, "handler_mobile": "139 0000 2222"}).status_code == 302
    stored = stored_row(HandlerInfo, handler.pk)
    assert holds_no("13900002222", stored) and pii_decrypt(stored["handler_mobile_cipher"]) == "13900002222"


# --- the migrations ------------------------------------------------------------------------------------

BEFORE = [("rosters", "0012_import_remote_addr"), ("enrollment", "0008_queue_assignment")]
AFTER = [("rosters", "0014_roster_entry_drop_plain_mobile"), ("enrollment", "0010_handler_drop_plain_mobile")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_the_migrations_encrypt_existing_mobiles_and_back(handbook_year):
    """SPEC SEC-4: rows written before the change (plain columns) are encrypted by rosters 0013 and
    enrollment 0009, the plain columns dropped by 0014 and 0010; going back restores them."""
    batch = make_batch(year=handbook_year)
    code_pk = batch.code_id
    HandlerInfo.objects.filter(code_id=code_pk).delete()
    try:
        old = _migrate(BEFORE)
        OldEntry, OldHandler = old.get_model("rosters", "RosterEntry"), old.get_model("enrollment", "HandlerInfo")
        OldChange = old.get_model("enrollment", "ChangeRequest")
        plain = {"batch_id": batch.pk, "id_type": IdType.OTHER, "name": "KIM", "birth_date": dt.date(1980, 1, 2), "sex": "男"}
        with_mobile = OldEntry.objects.create(**plain, id_hash="h1", id_cipher=pii_encrypt("E1"), mobile=ENTRY_MOBILE)
        without = OldEntry.objects.create(**plain, id_hash="h2", id_cipher=pii_encrypt("E2"), mobile="")
        handler = OldHandler.objects.create(
            code_id=code_pk, handler_name="王经办", handler_mobile=MOBILE, handler_email="h@example.com",
            economic_type="私营", address="上海", industry="C", headcount=10,
        )
        change = OldChange.objects.create(
            account_id=batch.account_id, code_id=code_pk, items=["handler_mobile", "address"], contact_name="王经办",
            contact_mobile=MOBILE, original_values={"handler_mobile": MOBILE, "address": "上海"},
            new_values={"handler_mobile": "13800001111", "address": "新地址"},
        )

        _migrate(AFTER)

        entry_row = stored_row(RosterEntry, with_mobile.pk)
        assert "mobile" not in entry_row and holds_no(ENTRY_MOBILE, entry_row)
        assert RosterEntry.objects.get(pk=with_mobile.pk).mobile == ENTRY_MOBILE
        assert stored_row(RosterEntry, without.pk)["mobile_cipher"] == ""
        handler_row = stored_row(HandlerInfo, handler.pk)
        assert "handler_mobile" not in handler_row and holds_no(MOBILE, handler_row)
        assert HandlerInfo.objects.get(pk=handler.pk).handler_mobile == MOBILE
        migrated = ChangeRequest.objects.get(pk=change.pk)
        assert MOBILE not in str(migrated.original_values) and "13800001111" not in str(migrated.new_values)
        assert (migrated.original_value("handler_mobile"), migrated.new_value("handler_mobile")) == (MOBILE, "13800001111")
        assert migrated.new_values["address"] == "新地址"

        _migrate(BEFORE)  # reversible: the plain columns come back with their values

        assert stored_row(RosterEntry, with_mobile.pk)["mobile"] == ENTRY_MOBILE
        assert stored_row(RosterEntry, without.pk)["mobile"] == ""
        assert stored_row(HandlerInfo, handler.pk)["handler_mobile"] == MOBILE
        reverted = OldChange.objects.get(pk=change.pk)
        assert reverted.original_values["handler_mobile"] == MOBILE and reverted.new_values["handler_mobile"] == "13800001111"
    finally:
        _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
