"""The back office for the 【技术支持】 contacts (SPEC ACC-6): reviewers keep them up to date."""
from django.contrib import admin

from .models import SupportContact


@admin.register(SupportContact)
class SupportContactAdmin(admin.ModelAdmin):
    list_display = ("name", "role", "phone", "email", "sort_order", "is_active")
    list_display_links = ("name",)
    list_editable = ("sort_order", "is_active")
    list_filter = ("is_active", "role")
    search_fields = ("name", "role", "phone", "email")
    fields = ("role", "name", "phone", "email", "sort_order", "is_active")
