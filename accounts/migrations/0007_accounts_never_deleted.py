"""SPEC SEC-9: accounts are deactivated, never deleted; the manager's querysets refuse a bulk delete."""

import accounts.models
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0006_username_case_insensitive'),
    ]

    operations = [
        migrations.AlterModelManagers(
            name='user',
            managers=[
                ('objects', accounts.models.AccountManager()),
            ],
        ),
    ]
