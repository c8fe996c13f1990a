"""SPEC SEC-4: the handler's mobile is encrypted like ID numbers, in HandlerInfo and in the 原信息 /
新修改信息 of change requests (ChangeRequest.ENCRYPTED_ITEMS). The cipher column is added and filled
here; 0010 drops the plain column (a migration of its own: PostgreSQL refuses to alter a table with
pending trigger events in the transaction that updated it)."""
from django.db import migrations, models

from mutualaid.pii import (
    pii_column_decrypt,
    pii_column_encrypt,
    pii_decrypt,
    pii_encrypt,
)

ITEM = "handler_mobile"  # ChangeRequest.Item.HANDLER_MOBILE


def _change_requests_convert(apps, convert) -> None:
    ChangeRequest = apps.get_model("enrollment", "ChangeRequest")
    for change in ChangeRequest.objects.order_by("pk").iterator(chunk_size=2000):
        fields = []
        for name in ("original_values", "new_values"):
            values = getattr(change, name)
            if isinstance(values, dict) and values.get(ITEM):
                values[ITEM] = convert(values[ITEM])
                fields.append(name)
        if fields:
            change.save(update_fields=fields)


def encrypt_mobiles(apps, schema_editor):
    pii_column_encrypt(apps.get_model("enrollment", "HandlerInfo"), plain_field="handler_mobile", cipher_field="handler_mobile_cipher")
    _change_requests_convert(apps, pii_encrypt)


def decrypt_mobiles(apps, schema_editor):
    pii_column_decrypt(apps.get_model("enrollment", "HandlerInfo"), cipher_field="handler_mobile_cipher", plain_field="handler_mobile")
    _change_requests_convert(apps, pii_decrypt)


class Migration(migrations.Migration):

    dependencies = [
        ("enrollment", "0008_queue_assignment"),
    ]

    operations = [
        migrations.AddField(
            model_name="handlerinfo",
            name="handler_mobile_cipher",
            field=models.TextField(default="", editable=False, verbose_name="经办人电话（密文）"),
            preserve_default=False,
        ),
        migrations.RunPython(encrypt_mobiles, decrypt_mobiles, elidable=False),
    ]
