"""The public verification page a receipt's QR code points to (SPEC RCP-2): number, title, amount,
date and whether the receipt is valid — nothing about the people enrolled (X-1)."""
from django.contrib.auth.decorators import login_not_required
from django.shortcuts import get_object_or_404, render
from django.urls import path
from django.views.decorators.http import require_GET

from ..models import Receipt


@require_GET
@login_not_required
def verify(request, token: str):
    receipt = get_object_or_404(
        Receipt.objects.select_related("replaced_by"),
        verification=token,
        status__in=(Receipt.Status.ISSUED, Receipt.Status.VOIDED),
    )
    return render(request, "receipts/verify.html", {"receipt": receipt})


urlpatterns = [path("receipts/verify/<str:token>/", verify, name="verify")]
