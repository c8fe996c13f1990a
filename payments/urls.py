"""缴费凭证管理 (SPEC PAY-2): the unit's voucher pages (views/vouchers.py)."""
from .views import vouchers

app_name = "payments"

urlpatterns = vouchers.urlpatterns
