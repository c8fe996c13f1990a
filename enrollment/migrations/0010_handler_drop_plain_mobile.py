"""SPEC SEC-4: the plain handler mobile column goes, 0009 having encrypted it into handler_mobile_cipher.
It is given a default first (no SQL) so that migrating back can add it again to existing rows."""
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("enrollment", "0009_handler_mobile_cipher"),
    ]

    operations = [
        migrations.AlterField(
            model_name="handlerinfo",
            name="handler_mobile",
            field=models.CharField(default="", help_text="手机号码，用于接收验证码", max_length=11, verbose_name="经办人电话"),
        ),
        migrations.RemoveField(model_name="handlerinfo", name="handler_mobile"),
    ]
