"""The 2023 plan items as the handbook prints them (SPEC PLAN-1). Self-contained: a migration must not
import code that may change later (plans/catalogue.py holds the same table for new years)."""
from decimal import Decimal

from django.db import migrations

ITEMS = [
    ("A0", Decimal("120"), "≤10万元\n统筹：住院60%；门诊大病50%；家庭病床60%\n附加：住院70%；门诊大病50%；家庭病床70%\n疾病身故1万元"),
    ("B0", Decimal("55"), "22类重病1万元（含原位癌）\n女性癌+1万元（含原位癌）"),
    ("C0", Decimal("15"), "意外伤残≤2万元\n意外身故2万元"),
    ("A1", Decimal("135"), "天数：100元/天（最高1.8万元）\n起付线：≤1000元"),
    ("B1", Decimal("100"), "22类重大疾病2万元（含原位癌）\n女性癌+1万元（含原位癌）"),
    ("C1", Decimal("40"), "意外伤残≤5万元\n意外身故5万元"),
    ("A2", Decimal("230"), "天数：200元/天（最高3.6万元）\n起付线：≤1200元"),
    ("B2", Decimal("235"), "22类重病5万元（原位癌2万元）\n女性癌+3万元（女性原位癌+1万）"),
    ("C2", Decimal("75"), "意外伤残≤10万元\n意外身故10万元"),
    ("A3", Decimal("330"), "天数：300元/天（最高5.4万元）\n起付线：≤1500元"),
    ("B3", Decimal("460"), "22类重病10万元（原位癌2万元）\n女性癌+5万元（女性原位癌+1万）"),
    ("C3", Decimal("225"), "意外伤残≤30万元\n意外身故30万元"),
]


def create_2023_items(apps, schema_editor):
    CoverageYear = apps.get_model("enrollment", "CoverageYear")
    PlanItem = apps.get_model("plans", "PlanItem")
    year = CoverageYear.objects.filter(year=2023).first()
    if year is None:
        return
    for code, price, benefits in ITEMS:
        PlanItem.objects.get_or_create(
            coverage_year=year, code=code,
            defaults=dict(series=code[0], layer=int(code[1]), price=price, benefits=benefits),
        )


class Migration(migrations.Migration):
    dependencies = [("plans", "0001_initial"), ("enrollment", "0002_coverage_year_2023")]
    operations = [migrations.RunPython(create_2023_items, migrations.RunPython.noop)]
