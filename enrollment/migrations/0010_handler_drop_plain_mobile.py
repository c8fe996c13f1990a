"""SPEC SEC-4: the plain handler mobile column goes, 0009 having encrypted it into handler_mobile_cipher."""
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("enrollment", "0009_handler_mobile_cipher"),
    ]

    operations = [
        migrations.RemoveField(model_name="handlerinfo", name="handler_mobile"),
    ]
