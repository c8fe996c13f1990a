from django.contrib import admin

from .models import CoverageYear


@admin.register(CoverageYear)
class CoverageYearAdmin(admin.ModelAdmin):
    list_display = ("year", "centralised_opens_at", "centralised_closes_at", "coverage_start", "coverage_end", "updated_at")
    fieldsets = (
        (None, {"fields": ("year",)}),
        ("参保时间", {"fields": ("centralised_opens_at", "centralised_closes_at", "instant_opens_at")}),
        ("保障期限", {"fields": ("coverage_start", "coverage_end", "half_year_price_from")}),
        (
            "清册校验规则",
            {
                "fields": (
                    "female_age_limit",
                    "male_age_limit",
                    "headcount_change_percent",
                    "ss_ratio_min_percent",
                    "ss_ratio_max_percent",
                    "small_unit_threshold",
                )
            },
        ),
        ("免责期", {"fields": ("waiting_days_a", "waiting_days_b", "waiting_days_c")}),
        (
            "期限",
            {
                "fields": (
                    "payment_deadline_days",
                    "code_review_working_days",
                    "batch_review_working_days",
                    "voucher_review_working_days",
                    "account_reset_working_days",
                )
            },
        ),
        ("收款账户", {"fields": ("bank_account_name", "bank_account_number", "bank_name")}),
    )
