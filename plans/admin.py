"""Plan items and confirmed premiums in the back office (SPEC PLAN-1, YEAR-1, PREM-3).

- 保障项目: the twelve items of each coverage year (编号, 保障类别, 档次, 保障费, 待遇), one year at a time (the
  list opens on the current year). Reviewers change 保障费 and 待遇; code, series and layer are the
  handbook's and stay. A year without items gets them when the list is first opened
  (plans.services.plan_items_of copies the closest earlier year, or the handbook's 2023 table).
- 保障费 is locked once a batch of the year has confirmed its premium (plans.services.
  plan_item_price_locked): changing it then would make two units of one year pay different prices for
  the same item. The field is shown read only with a note saying why, and the lock is checked again
  when the form is saved (a page opened before the first confirmation cannot change it afterwards).
  A confirmed premium keeps its own snapshot of the prices (BatchPremium.prices), so it never changes.
- 保费信息: the confirmed premiums with their lines, read only (view permission only).

Who may do what comes from accounts/roles.py: reviewers view and change plan items and view premiums;
nobody adds or deletes items here. Without the permission every page answers 403.
"""
from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.utils.html import format_html

from enrollment.review_admin import BackOfficeAdmin, ReadOnlyAdmin
from enrollment.models import CoverageYear
from enrollment.selectors import coverage_year_current

from .models import BatchPremium, PlanItem, PremiumLine
from .premiums import code_sort_key, yuan_text
from .services import plan_item_price_locked, plan_items_of

PRICE_LOCKED = (
    "本保障年度已有参保批次提交确认保费，保障费已锁定，不能再修改"
    "（改价会使同一年度的单位按不同价格缴费）。待遇说明仍可修改。"
)


def _price_locked(item: PlanItem) -> bool:
    return item.pk is not None and plan_item_price_locked(coverage_year=item.coverage_year)


class PlanItemForm(forms.ModelForm):
    """Checks the price lock when the form is saved, not only when the page was drawn: the price may
    have been locked in between (a unit confirmed its premium while the page was open)."""

    class Meta:
        model = PlanItem
        fields = ("price", "benefits")

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk is None or not _price_locked(self.instance):
            return cleaned
        stored = PlanItem.objects.values_list("price", flat=True).get(pk=self.instance.pk)
        posted = cleaned.get("price") if "price" in self.fields else _posted_price(self.data.get("price"))
        if posted is not None and posted != stored:
            raise forms.ValidationError(PRICE_LOCKED, code="price_locked")
        return cleaned


def _posted_price(value) -> Decimal | None:
    """The price a stale page posted although the field is read only now (None when it sent none)."""
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value).replace(",", "").strip())
    except ArithmeticError:
        return None


class CoverageYearFilter(admin.SimpleListFilter):
    """保障年度, one year at a time: the list shows a year's twelve items, the current year's by default
    (a list of every year's items mixed would only confuse which price applies)."""

    title = "保障年度"
    parameter_name = "year"

    def lookups(self, request, model_admin):
        return [(str(year), f"{year}年度") for year in CoverageYear.objects.order_by("-year").values_list("year", flat=True)]

    def default_year(self) -> int | None:
        current = coverage_year_current() or CoverageYear.objects.order_by("-year").first()
        return current.year if current else None

    def value(self):
        return super().value() or (str(self.default_year() or ""))

    def queryset(self, request, queryset):
        year = self.value()
        return queryset.filter(coverage_year__year=int(year)) if year.isdigit() else queryset

    def choices(self, changelist):
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }


@admin.register(PlanItem)
class PlanItemAdmin(BackOfficeAdmin):
    form = PlanItemForm
    list_display = ("code", "series", "layer", "price_column", "benefits_column")
    list_display_links = ("code",)
    list_filter = (CoverageYearFilter,)
    fields = ("coverage_year", "code", "series", "layer", "price", "benefits")
    actions = None

    def get_list_note(self, request) -> str:
        return "各保障年度的12个保障项目（SPEC PLAN-1）。某年度已有批次提交确认保费后，该年度的保障费不能再修改。"

    # --- permissions: the items come from plan_items_of; nobody adds or deletes one here ----------

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    # --- the list, one year at a time --------------------------------------------------------------

    def get_ordering(self, request):
        return ("-coverage_year__year", "layer", "series")

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_or_change_permission(request):
            return super().changelist_view(request, extra_context)  # the admin's 403
        # A year without items gets them on first view (SPEC YEAR-1), as the unit's pages do.
        for year in CoverageYear.objects.filter(plan_items__isnull=True):
            plan_items_of(coverage_year=year)
        return super().changelist_view(request, extra_context)

    @admin.display(description="保障费（元/人/年）", ordering="price")
    def price_column(self, item):
        return item.price

    @admin.display(description="待遇")
    def benefits_column(self, item):
        lines = [line.strip() for line in item.benefits.splitlines() if line.strip()]
        return format_html("<br>".join(["{}"] * len(lines)), *lines) if lines else "-"

    # --- the change page ---------------------------------------------------------------------------

    def get_readonly_fields(self, request, obj=None):
        readonly = ["coverage_year", "code", "series", "layer"]
        if obj is not None and _price_locked(obj):
            readonly.append("price")
        return readonly

    def get_fieldsets(self, request, obj=None):
        description = PRICE_LOCKED if obj is not None and _price_locked(obj) else (
            "保障费为全年费用标准；即时参保起保日期在半年保费起始日及以后的，按其一半收取（SPEC PREM-2）。"
        )
        return ((None, {"fields": self.fields, "description": description}),)

    def save_model(self, request, obj, form, change):
        """Saved under the row's lock with the price lock checked once more: between the form's check
        and this write a unit may just have confirmed a premium of the year."""
        with transaction.atomic():
            stored = PlanItem.objects.select_for_update().get(pk=obj.pk)
            if obj.price != stored.price and plan_item_price_locked(coverage_year=stored.coverage_year):
                obj.price = stored.price
                messages.error(request, PRICE_LOCKED)
            super().save_model(request, obj, form, change)


def yuan_column(model, field_name: str):
    """A read-only column of yuan written as everywhere else (plans.premiums.yuan_text: 12,000.00),
    not as the admin writes a DecimalField (12000.00)."""

    @admin.display(description=model._meta.get_field(field_name).verbose_name, ordering=field_name)
    def column(self, obj):
        return yuan_text(getattr(obj, field_name))

    return column


class PremiumLineInline(admin.TabularInline):
    model = PremiumLine
    fields = (
        "label", "standard_column", "discount_column", "social_security_people", "social_security_amount_column",
        "other_people", "other_amount_column", "amount_column",
    )
    standard_column = yuan_column(PremiumLine, "standard")
    discount_column = yuan_column(PremiumLine, "discount")
    social_security_amount_column = yuan_column(PremiumLine, "social_security_amount")
    other_amount_column = yuan_column(PremiumLine, "other_amount")
    amount_column = yuan_column(PremiumLine, "amount")
    readonly_fields = fields
    extra = 0
    can_delete = False

    # The lines belong to their premium: whoever may see the premium sees them.
    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("plans.view_batchpremium")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(BatchPremium)
class BatchPremiumAdmin(ReadOnlyAdmin):
    """保费信息 as 【提交确认保费】 fixed it (SPEC PREM-3), read only: changed only by the services."""

    list_display = (
        "batch", "unit_name", "coverage_year", "codes_column", "people_column", "total_column", "confirmed_at", "payment_due",
    )
    list_filter = ("batch__coverage_year", "full_year")
    search_fields = ("batch__number", "batch__unit_name", "batch__code__code")
    list_select_related = ("batch", "batch__coverage_year")
    ordering = ("-confirmed_at",)
    inlines = (PremiumLineInline,)
    actions = None
    fields = (
        "batch", "codes", "full_year", "prices_column", "bundle_discount_column", "social_security_people", "other_people",
        "total_column", "approved_state", "confirmed_at", "confirmed_by", "payment_due",
    )
    readonly_fields = fields
    bundle_discount_column = yuan_column(BatchPremium, "bundle_discount")
    total_column = yuan_column(BatchPremium, "total")

    def get_list_note(self, request) -> str:
        return "各参保批次【提交确认保费】时确认的保费信息（只读）。"

    @admin.display(description="单位名称", ordering="batch__unit_name")
    def unit_name(self, premium):
        return premium.batch.unit_name

    @admin.display(description="保障年度", ordering="batch__coverage_year__year")
    def coverage_year(self, premium):
        return premium.batch.coverage_year.year

    @admin.display(description="参保人数")
    def people_column(self, premium):
        return premium.people

    @admin.display(description="保障项目")
    def codes_column(self, premium):
        return premium.codes

    @admin.display(description="全年费用标准（元/人）")
    def prices_column(self, premium):
        prices = sorted(premium.prices.items(), key=lambda pair: code_sort_key(pair[0]))
        return "，".join(f"{code} {price}" for code, price in prices)
