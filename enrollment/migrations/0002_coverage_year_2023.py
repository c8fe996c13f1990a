"""The 2023 coverage year as the handbook prints it (SPEC YEAR-1, PAY-1). Kept self-contained: the
values are the handbook's, not read from code that may change later."""
import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db import migrations

SHANGHAI = ZoneInfo("Asia/Shanghai")


def create_2023(apps, schema_editor):
    CoverageYear = apps.get_model("enrollment", "CoverageYear")
    CoverageYear.objects.get_or_create(
        year=2023,
        defaults=dict(
            centralised_opens_at=dt.datetime(2023, 6, 1, tzinfo=SHANGHAI),
            centralised_closes_at=dt.datetime(2023, 7, 1, tzinfo=SHANGHAI),  # 6月30日24时
            instant_opens_at=dt.datetime(2023, 7, 1, tzinfo=SHANGHAI),
            coverage_start=dt.date(2023, 7, 1),
            coverage_end=dt.date(2024, 6, 30),
            half_year_price_from=dt.date(2024, 1, 1),
            female_age_limit=55,
            male_age_limit=60,
            headcount_change_percent=Decimal("10"),
            ss_ratio_min_percent=Decimal("75"),
            ss_ratio_max_percent=Decimal("100"),
            small_unit_threshold=10,
            waiting_days_a=30,
            waiting_days_b=60,
            waiting_days_c=0,
            payment_deadline_days=15,
            code_review_working_days=1,
            batch_review_working_days=2,
            voucher_review_working_days=10,
            account_reset_working_days=3,
            bank_account_name="上海市职工保障互助会",
            bank_account_number="31602300008022150",
            bank_name="上海银行人民广场支行",
        ),
    )


class Migration(migrations.Migration):
    dependencies = [("enrollment", "0001_initial")]
    operations = [migrations.RunPython(create_2023, migrations.RunPython.noop)]
