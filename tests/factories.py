"""factory-boy factories shared by the suite (STYLE.md §10)."""
import datetime as dt
from zoneinfo import ZoneInfo

import factory

from accounts.models import Role, User

SHANGHAI = ZoneInfo("Asia/Shanghai")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n:04d}")
    first_name = factory.Sequence(lambda n: f"经办人{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    role = Role.UNIT_ADMIN
    password = factory.django.Password("Portal#2026")


class CoverageYearFactory(factory.django.DjangoModelFactory):
    """A coverage year shaped like the handbook's 2023 one (SPEC YEAR-1), shifted to `year`:
    the centralised window opens on 1 June, closes at 6月30日24时, coverage runs 1 July to 30 June.
    The migration already holds 2023, so the sequence starts after it."""

    class Meta:
        model = "enrollment.CoverageYear"

    year = factory.Sequence(lambda n: 2024 + n)
    centralised_opens_at = factory.LazyAttribute(lambda o: dt.datetime(o.year, 6, 1, tzinfo=SHANGHAI))
    centralised_closes_at = factory.LazyAttribute(lambda o: dt.datetime(o.year, 7, 1, tzinfo=SHANGHAI))
    instant_opens_at = factory.LazyAttribute(lambda o: dt.datetime(o.year, 7, 1, tzinfo=SHANGHAI))
    coverage_start = factory.LazyAttribute(lambda o: dt.date(o.year, 7, 1))
    coverage_end = factory.LazyAttribute(lambda o: dt.date(o.year + 1, 6, 30))
    half_year_price_from = factory.LazyAttribute(lambda o: dt.date(o.year + 1, 1, 1))
    bank_account_name = "上海市职工保障互助会"
    bank_account_number = "31602300008022150"
    bank_name = "上海银行人民广场支行"

