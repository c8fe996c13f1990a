"""SPEC SEC-4: roster mobiles are encrypted like ID numbers. The cipher column is added and filled
here; 0014 drops the plain column (a migration of its own: PostgreSQL refuses to alter a table with
pending trigger events in the transaction that updated it)."""
from django.db import migrations, models

from mutualaid.pii import pii_column_decrypt, pii_column_encrypt


def encrypt_mobiles(apps, schema_editor):
    pii_column_encrypt(apps.get_model("rosters", "RosterEntry"), plain_field="mobile", cipher_field="mobile_cipher")


def decrypt_mobiles(apps, schema_editor):
    pii_column_decrypt(apps.get_model("rosters", "RosterEntry"), cipher_field="mobile_cipher", plain_field="mobile")


class Migration(migrations.Migration):

    dependencies = [
        ("rosters", "0012_import_remote_addr"),
    ]

    operations = [
        migrations.AddField(
            model_name="rosterentry",
            name="mobile_cipher",
            field=models.TextField(blank=True, editable=False, verbose_name="手机号（密文）"),
        ),
        migrations.RunPython(encrypt_mobiles, decrypt_mobiles, elidable=False),
    ]
