"""Template helpers of the plan and premium pages: money in yuan as the handbook prints totals
("4,780"), and the payment deadline's countdown (SPEC PAY-1), which the batch detail page shows too
(its view belongs to enrollment, which must not import plans: the include computes it here)."""
import datetime as dt
from decimal import Decimal, InvalidOperation

from django import template
from django.utils import timezone

from ..premiums import money, yuan_text

register = template.Library()


@register.filter
def yuan(value) -> str:
    """premiums.yuan_text of an amount rounded half up to the cent (SPEC PREM-5: Decimal only); empty
    for None, the text itself for what is not a number."""
    if value is None or value == "":
        return ""
    try:
        amount = money(value if isinstance(value, Decimal) else Decimal(str(value)))
    except (InvalidOperation, TypeError, ValueError):
        return str(value)
    return yuan_text(amount)


def payment_countdown(*, due: dt.date, today: dt.date) -> dict:
    """SPEC PAY-1: the days left until `due` (0 on the day itself), or how many days it is overdue."""
    days = (due - today).days
    return {"due": due, "days_left": max(days, 0), "overdue_days": max(-days, 0), "due_today": days == 0}


@register.simple_tag
def payment_deadline(premium) -> dict:
    """The countdown of a confirmed premium's payment deadline, counted in Shanghai days."""
    today = timezone.localdate(timezone.now(), timezone.get_default_timezone())
    return payment_countdown(due=premium.payment_due, today=today)
