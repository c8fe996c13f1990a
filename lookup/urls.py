from django.urls import path

from . import views

app_name = "lookup"

# 参保查询 (SPEC LOOK-1, LOOK-2), under /lookup/: public, no account.
urlpatterns = [
    path("", views.lookup_start, name="start"),
    path("code/", views.lookup_code, name="code"),
    path("result/", views.lookup_result, name="result"),
    path("result/proof.pdf", views.lookup_proof_pdf, name="proof_pdf"),
    path("proof/<str:token>/", views.proof_verify, name="proof"),
]
