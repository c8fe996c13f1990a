"""Receipt pages: the public verification page (views/verify.py) and the unit's 专用收据填报 with its
PDFs (views/unit.py)."""
from .views import unit, verify

app_name = "receipts"

urlpatterns = verify.urlpatterns + unit.urlpatterns
