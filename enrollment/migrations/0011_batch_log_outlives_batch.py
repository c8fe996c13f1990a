"""SPEC SEC-9, BAT-5: a batch's 操作日志 outlives the batch. The rows hold the batch's number as text,
and their `batch` column loses its foreign-key constraint (no CASCADE, no SET_NULL: the log is
append-only, enrollment 0012)."""
import django.db.models.deletion
from django.db import migrations, models


def copy_batch_numbers(apps, schema_editor):
    BatchLog = apps.get_model("enrollment", "BatchLog")
    Batch = apps.get_model("enrollment", "Batch")
    BatchLog.objects.using(schema_editor.connection.alias).update(
        batch_number=models.Subquery(Batch.objects.filter(pk=models.OuterRef("batch_id")).values("number")[:1])
    )


class Migration(migrations.Migration):
    dependencies = [
        ("enrollment", "0010_handler_drop_plain_mobile"),
    ]

    operations = [
        migrations.AddField(
            model_name="batchlog",
            name="batch_number",
            field=models.CharField(default="", editable=False, max_length=12, verbose_name="参保批次号"),
            preserve_default=False,
        ),
        migrations.RunPython(copy_batch_numbers, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="batchlog",
            name="batch",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="log",
                to="enrollment.batch",
                verbose_name="参保批次",
            ),
        ),
        migrations.AlterField(
            model_name="batchlog",
            name="to_state",
            field=models.CharField(
                blank=True,
                choices=[
                    ("draft", "清册待校验"),
                    ("validating", "清册校验中"),
                    ("invalid", "清册校验不通过"),
                    ("in_review", "职保会待审核"),
                    ("review_rejected", "职保会审核不通过"),
                    ("roster_approved", "清册校验通过"),
                    ("review_approved", "职保会审核通过"),
                    ("awaiting_payment", "缴费凭证待上传"),
                    ("payment_review", "缴费凭证待审核"),
                    ("payment_rejected", "缴费凭证审核不通过"),
                    ("completed", "参保已完成"),
                    ("cancelled", "已作废"),
                ],
                max_length=20,
                verbose_name="新状态",
            ),
        ),
    ]
