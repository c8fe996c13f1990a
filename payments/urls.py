"""缴费凭证管理 (SPEC PAY-2): filled in by issue 9's views."""
app_name = "payments"

urlpatterns: list = []
