from django.shortcuts import redirect, render

from ..selectors import coverage_year_current


def home(request):
    """The unit's workspace 在职职工互助保障 (SPEC ACC-5); back-office accounts go to the back office."""
    if not request.user.is_unit_admin:
        return redirect("admin:index")
    return render(request, "portal/home.html", {"coverage_year": coverage_year_current()})
