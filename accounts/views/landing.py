"""Where a unit lands after login (SPEC ACC-5): units with a union go through 【业务工作台】 to
【在职职工互助保障】; units without one (未建会) see 【在职职工互助保障】 at once."""
from django.shortcuts import redirect, render


def landing(request):
    if not request.user.is_unit_admin:
        return redirect("admin:index")
    return render(request, "accounts/landing.html")


def workbench(request):
    if not request.user.is_unit_admin:
        return redirect("admin:index")
    if not request.user.has_union:
        return redirect("accounts:landing")
    return render(request, "accounts/workbench.html")
