from django.utils import timezone

from .models import CoverageYear


def coverage_year_current(*, at=None) -> CoverageYear | None:
    """The coverage year a unit works in now: the latest whose centralised window has opened."""
    at = at or timezone.now()
    return CoverageYear.objects.filter(centralised_opens_at__lte=at).order_by("-year").first()
