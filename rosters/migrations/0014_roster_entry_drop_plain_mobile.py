"""SPEC SEC-4: the plain mobile column goes, 0013 having encrypted it into mobile_cipher."""
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("rosters", "0013_roster_entry_mobile_cipher"),
    ]

    operations = [
        migrations.RemoveField(model_name="rosterentry", name="mobile"),
    ]
