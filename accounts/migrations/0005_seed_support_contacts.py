"""The contacts of the handbook's last page (SPEC ACC-6): 线上操作咨询 陶老师 17358071263, 郭老师
18119618417; 热线咨询 12351. Reviewers maintain the list in the back office from here on."""
from django.db import migrations

HANDBOOK_CONTACTS = [
    # (role, name, phone, sort order)
    ("热线咨询", "服务热线", "12351", 10),
    ("线上操作咨询", "陶老师", "17358071263", 20),
    ("线上操作咨询", "郭老师", "18119618417", 30),
]


def seed(apps, schema_editor):
    SupportContact = apps.get_model("accounts", "SupportContact")
    for role, name, phone, sort_order in HANDBOOK_CONTACTS:
        SupportContact.objects.get_or_create(role=role, name=name, defaults={"phone": phone, "sort_order": sort_order})


def unseed(apps, schema_editor):
    SupportContact = apps.get_model("accounts", "SupportContact")
    for role, name, phone, _ in HANDBOOK_CONTACTS:
        SupportContact.objects.filter(role=role, name=name, phone=phone).delete()


class Migration(migrations.Migration):
    dependencies = [("accounts", "0004_support_contacts")]

    operations = [migrations.RunPython(seed, unseed)]
