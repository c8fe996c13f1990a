from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from .models import Role, User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ("username", "first_name", "email", "role", "is_active", "last_login")
    list_filter = ("role", "is_active")
    fieldsets = DjangoUserAdmin.fieldsets + (("角色", {"fields": ("role",)}),)
    add_fieldsets = DjangoUserAdmin.add_fieldsets + (("角色", {"fields": ("role",)}),)

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        # Union staff and reviewers look after units' accounts, not each other's.
        return queryset.filter(role=Role.UNIT_ADMIN, is_superuser=False)

from . import admin_help  # noqa: E402,F401
