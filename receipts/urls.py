"""Receipt pages: the public verification page (views/verify.py)."""
from .views import verify

app_name = "receipts"

urlpatterns = verify.urlpatterns
