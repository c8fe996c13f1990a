"""The plan and premium pages of a batch (SPEC PLAN, PREM, COV-2, BAT-6): 保障项目选择 with
生成保费信息 / 提交确认保费 and 批次撤回 (views/selection.py), 保费一览表 (views/price_table.py),
保费详细 with its export and each person's items (views/detail.py)."""
from .views import detail, price_table, selection

app_name = "plans"

urlpatterns = selection.urlpatterns + price_table.urlpatterns + detail.urlpatterns
