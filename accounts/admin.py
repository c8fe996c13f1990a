"""The back office for platform accounts and union organisations (SPEC ACC-3, ACC-4, BO-2).

Union staff and reviewers see only the unit accounts in their scope (`accounts_in_scope`), read only,
with two actions: 【重置密码】 and 【解锁】. An account outside the scope answers 404 on every URL.
Superusers see and edit every account, and reset an account's second factor (【重置两步验证】, SEC-8).
"""
from axes.models import AccessAttempt, AccessFailureLog
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.views.decorators.cache import add_never_cache_headers
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from mutualaid.admin_pages import PAGE_CONTEXT, with_page_styles
from mutualaid.pii import mask_mobile, pii_decrypt, pii_encrypt

from .models import NO_UNION_LABEL, Role, SupportContact, UnionOrganisation, User
from .second_factor import second_factor_enabled, second_factor_reset
from .services import (
    ACCOUNT_FAILURE_LIMIT,
    ACCOUNT_FAILURE_WINDOW,
    TEMPORARY_PASSWORD_VALID_FOR,
    AccountError,
    account_reset_password,
    account_unlock,
    accounts_in_scope,
    lock_states,
)

# SPEC SEC-8: django-otp's own device pages would show a superuser every account's secret, QR code and
# backup codes; 【重置两步验证】 on an account's page is all the back office does with the devices.
# (Its admin modules load before this one: the plugins come before `accounts` in INSTALLED_APPS.)
for _device_model in (TOTPDevice, StaticDevice):
    if admin.site.is_registered(_device_model):
        admin.site.unregister(_device_model)

# The temporary password waits here, encrypted, between the reset (POST) and the result page (GET),
# which pops it: shown once, never in clear at rest, never in a URL (SPEC ACC-3 [departure]).
TEMPORARY_PASSWORD_SESSION_KEY = "accounts.temporary_password"
_FINGERPRINT_SALT = "accounts.admin.reset-password"


def _time_of_day(moment) -> str:
    return timezone.localtime(moment).strftime("%H:%M")


def _password_fingerprint(account: User) -> str:
    """Changes whenever the account's password does. The confirmation form carries it, so a double
    click or a resubmitted form resets once, not twice (UI.md: the POST is idempotent)."""
    return salted_hmac(_FINGERPRINT_SALT, account.password, algorithm="sha256").hexdigest()[:32]


def _locked_usernames() -> set[str]:
    """Every account locked now (SPEC ACC-4): candidates from two small queries, the verdict from
    lock_states, which also honours an unlock."""
    now = timezone.now()
    candidates = set(
        AccessAttempt.objects.filter(
            attempt_time__gte=now - settings.AXES_COOLOFF_TIME,
            failures_since_start__gte=settings.AXES_FAILURE_LIMIT,
        ).values_list("username", flat=True)
    )
    candidates |= set(
        AccessFailureLog.objects.filter(attempt_time__gte=now - ACCOUNT_FAILURE_WINDOW)
        .values("username")
        .annotate(failures=Count("id"))
        .filter(failures__gte=ACCOUNT_FAILURE_LIMIT)
        .values_list("username", flat=True)
    )
    return set(lock_states(usernames=sorted(candidates)))


class LockStateFilter(admin.SimpleListFilter):
    title = "锁定状态"
    parameter_name = "lock"

    def lookups(self, request, model_admin):
        return [("locked", "已锁定"), ("normal", "正常")]

    def queryset(self, request, queryset):
        if self.value() == "locked":
            return queryset.filter(username__in=_locked_usernames())
        if self.value() == "normal":
            return queryset.exclude(username__in=_locked_usernames())
        return queryset


class UnionFilter(admin.SimpleListFilter):
    """上级工会, offered only where there is a choice: a level-1 organisation's staff pick its own
    units (直属) or one of its level-2 organisations; superusers a level-1 organisation (with its
    level-2 ones, as union staff see them) or 未建会."""

    title = "上级工会"
    parameter_name = "union"

    def lookups(self, request, model_admin):
        user = request.user
        if user.is_superuser:
            organisations = UnionOrganisation.objects.filter(level=UnionOrganisation.Level.FIRST)
            return [(str(o.pk), o.name) for o in organisations] + [("none", NO_UNION_LABEL)]
        own = user.union_organisation if user.role == Role.UNION_STAFF else None
        if own is None or own.level != UnionOrganisation.Level.FIRST:
            return []
        return [(str(own.pk), f"{own.name}（直属）")] + [(str(o.pk), o.name) for o in own.children.all()]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "none":
            return queryset.filter(union_organisation__isnull=True)
        organisation = UnionOrganisation.objects.filter(pk=int(value)).first() if value and value.isdigit() else None
        if organisation is None:
            return queryset
        # The queryset is already the user's scope, so another organisation's id finds nothing.
        ids = organisation.scope_ids() if request.user.is_superuser else [organisation.pk]
        return queryset.filter(union_organisation_id__in=ids)


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = (
        "account",
        "unit_name",
        "union_column",
        "masked_mobile",
        "email_column",
        "lock_state",
        "last_login_column",
        "actions_column",
    )
    list_display_links = ("account",)
    list_filter = (LockStateFilter, UnionFilter)
    list_per_page = 15  # UI.md
    list_select_related = ("union_organisation",)
    # Facet counts would run the lock look-up once per choice on every page.
    show_facets = admin.ShowFacets.NEVER
    show_full_result_count = False  # SPEC OPS-3: as the other back-office lists (a city's accounts)
    # The mobile only as a whole number: a partial search would reveal the digits the mask hides.
    search_fields = ("username", "unit_name", "uscc", "=mobile")
    search_help_text = "可按账号、单位名称、统一社会信用代码或联系人手机（完整11位）搜索"
    ordering = ("username",)
    change_form_template = "admin/accounts/user/change_form.html"
    change_list_template = "admin/accounts/user/change_list.html"
    # Plain multiple selects with their labels: the admin's two-box filter widget writes markup the Nu
    # Html Checker and axe refuse (SPEC X-5).
    filter_horizontal = ()

    # Superusers edit everything; is_staff is not offered, it follows the role (User.save).
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("单位信息", {"fields": ("unit_name", "uscc", "mobile", "email", "email_confirmed_at", "union_organisation")}),
        ("联系人", {"fields": ("first_name", "last_name")}),
        ("角色与权限", {"fields": ("role", "is_active", "is_superuser", "groups", "user_permissions")}),
        (
            "密码与锁定",
            {
                "fields": (
                    "must_change_password",
                    "temporary_password_expires_at",
                    "temporary_password_used_at",
                    "failures_cleared_at",
                )
            },
        ),
        ("重要日期", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = DjangoUserAdmin.add_fieldsets + (("角色", {"fields": ("role", "union_organisation")}),)
    # What union staff and reviewers see: read only, the mobile masked (SPEC X-1).
    scoped_fieldsets = (
        (
            "账号",
            {
                "fields": (
                    "account",
                    "lock_state",
                    "active_column",
                    "must_change_password",
                    "last_login_column",
                    "date_joined",
                )
            },
        ),
        (
            "单位信息",
            {"fields": ("unit_name", "uscc", "union_column", "masked_mobile", "email_column", "email_confirmed_at")},
        ),
    )
    scoped_readonly_fields = (
        "account",
        "lock_state",
        "active_column",
        "last_login_column",
        "union_column",
        "masked_mobile",
        "email_column",
    )

    def has_delete_permission(self, request, obj=None):
        # SPEC SEC-9: accounts are deactivated (有效 unticked), never deleted, not even by a superuser;
        # User.delete refuses too.
        return False

    # --- scope ----------------------------------------------------------------------------------

    def get_queryset(self, request):
        if request.user.is_superuser:
            return super().get_queryset(request).select_related("union_organisation")
        # SPEC BO-2: union staff their organisation's units, reviewers the units without a union.
        queryset = accounts_in_scope(acting_user=request.user).select_related("union_organisation")
        return queryset.order_by(*(self.get_ordering(request) or ()))

    def get_object(self, request, object_id, from_field=None):
        # The admin would redirect to its index for an object outside the queryset; an account
        # outside the scope is simply not there (SPEC X-4 style 404), on the change, history and
        # password pages alike.
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404("没有找到该账号。")
        return obj

    def _account_in_scope(self, request, object_id) -> User:
        """The unit account `object_id` if request.user may reset or unlock it, else 404."""
        try:
            account = accounts_in_scope(acting_user=request.user).filter(pk=unquote(object_id)).first()
        except (ValueError, ValidationError):
            account = None
        if account is None:
            raise Http404("没有找到该账号。")
        if not self.has_view_permission(request, account):
            raise PermissionDenied
        return account

    # --- list -----------------------------------------------------------------------------------

    def get_list_display(self, request):
        if request.user.is_superuser:
            columns = list(self.list_display)
            columns.insert(3, "role")
            columns.insert(-2, "is_active")
            return columns
        return self.list_display

    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        # One lock query for the page, not one per row; the objects are the ones the table shows
        # (the page's queryset keeps its results).
        accounts = list(changelist.result_list)
        states = lock_states(usernames=[account.username for account in accounts])
        preserved = self.get_preserved_filters(request)
        for account in accounts:
            account.locked_until = states.get(account.username)
            account.preserved_filters = preserved
        # For the footer UI.md asks for: 显示第 1 到第 15 条记录，总共 N 条记录.
        changelist.first_row = (changelist.page_num - 1) * changelist.list_per_page + 1 if accounts else 0
        changelist.last_row = changelist.first_row + len(accounts) - 1 if accounts else 0
        return changelist

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            **PAGE_CONTEXT,
            "title": self.opts.verbose_name_plural,
            "scope_label": self._scope_label(request.user),
        }
        return with_page_styles(super().changelist_view(request, extra_context))

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), **PAGE_CONTEXT}
        return with_page_styles(super().changeform_view(request, object_id, form_url, extra_context))

    @staticmethod
    def _scope_label(user: User) -> str:
        if user.is_superuser:
            return ""
        if user.role == Role.UNION_STAFF and user.union_organisation_id:
            organisation = user.union_organisation
            if organisation.level == UnionOrganisation.Level.FIRST:
                return f"{organisation.name}及其下属二级工会组织的单位账号"
            return f"{organisation.name}的单位账号"
        if user.role == Role.REVIEWER:
            return f"{NO_UNION_LABEL}单位的账号"
        return "无（您的账号未设置所属工会组织，请联系管理员）"

    @admin.display(description="账号", ordering="username")
    def account(self, obj):
        return obj.username

    @admin.display(description="上级工会", ordering="union_organisation__name")
    def union_column(self, obj):
        if not obj.is_unit_admin and not obj.union_organisation_id:
            return "-"  # a back-office account without an organisation is not a unit 未建会
        return obj.union_label

    @admin.display(description="联系人手机")
    def masked_mobile(self, obj):
        return mask_mobile(obj.mobile) if obj.mobile else "-"

    @admin.display(description="邮箱", ordering="email")
    def email_column(self, obj):
        if not obj.email:
            return "-"
        # Break a long address after the @ rather than anywhere.
        local, _, domain = obj.email.partition("@")
        return format_html("{}@<wbr>{}", local, domain) if domain else obj.email

    @admin.display(description="账号状态")
    def active_column(self, obj):
        return "正常使用" if obj.is_active else "已停用"

    @admin.display(description="最后登录", ordering="last_login")
    def last_login_column(self, obj):
        if obj.last_login is None:
            return "从未登录"
        return timezone.localtime(obj.last_login).strftime("%Y-%m-%d %H:%M")

    @staticmethod
    def _locked_until(obj):
        if not hasattr(obj, "locked_until"):  # the change page: one account
            obj.locked_until = lock_states(usernames=[obj.username]).get(obj.username)
        return obj.locked_until

    @admin.display(description="锁定状态")
    def lock_state(self, obj):
        until = self._locked_until(obj)
        if until is None:
            return mark_safe('<span class="lock-badge normal">正常</span>')
        return format_html('<span class="lock-badge locked">已锁定（至 {}）</span>', _time_of_day(until))

    @admin.display(description="操作")
    def actions_column(self, obj):
        if not obj.is_unit_admin:  # superusers' list: back-office accounts are managed by hand
            return ""
        query = getattr(obj, "preserved_filters", "")
        links = [(self._url("reset_password", obj, query), "button", "重置密码")]
        if self._locked_until(obj):
            links.append((self._url("unlock", obj, query), "button default", "解锁"))
        return format_html_join(" ", '<a href="{}" class="{}">{}</a>', links)

    def _url(self, action: str, account: User, preserved_filters: str = "") -> str:
        url = reverse(f"admin:accounts_user_{action}", args=[account.pk], current_app=self.admin_site.name)
        return f"{url}?{preserved_filters}" if preserved_filters else url

    # --- the change page -----------------------------------------------------------------------

    def get_fieldsets(self, request, obj=None):
        if obj is not None and not request.user.is_superuser:
            return self.scoped_fieldsets
        return super().get_fieldsets(request, obj)

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and not request.user.is_superuser:
            return self.scoped_readonly_fields
        return super().get_readonly_fields(request, obj)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and obj.is_unit_admin:
            context["account_actions"] = {
                "reset_url": self._url("reset_password", obj),
                "unlock_url": self._url("unlock", obj) if self._locked_until(obj) else "",
            }
        if obj is not None and request.user.is_superuser and second_factor_enabled(obj):
            context["second_factor_reset_url"] = self._url("second_factor_reset", obj)
        return super().render_change_form(request, context, add, change, form_url, obj)

    # --- 【重置密码】 and 【解锁】 (SPEC ACC-3, ACC-4) ------------------------------------------

    def get_urls(self):
        # admin_view: staff only (unit administrators are sent away), CSRF-checked, never cached.
        wrap = self.admin_site.admin_view
        return [
            path(
                "<path:object_id>/reset-password/",
                wrap(self.reset_password_view),
                name="accounts_user_reset_password",
            ),
            path(
                "<path:object_id>/reset-password/done/",
                wrap(self.reset_password_done_view),
                name="accounts_user_reset_password_done",
            ),
            path("<path:object_id>/unlock/", wrap(self.unlock_view), name="accounts_user_unlock"),
            path(
                "<path:object_id>/second-factor-reset/",
                wrap(self.second_factor_reset_view),
                name="accounts_user_second_factor_reset",
            ),
        ] + super().get_urls()

    def _context(self, request, account: User, title: str, **extra):
        return {
            **self.admin_site.each_context(request),
            **PAGE_CONTEXT,
            "opts": self.opts,
            "title": title,
            "account": account,
            "changelist_url": self._changelist_url(request),
            "preserved_filters": self.get_preserved_filters(request),
            **extra,
        }

    def _changelist_url(self, request) -> str:
        url = reverse("admin:accounts_user_changelist", current_app=self.admin_site.name)
        preserved = request.GET.get("_changelist_filters")
        return f"{url}?{preserved}" if preserved else url

    def reset_password_view(self, request, object_id):
        account = self._account_in_scope(request, object_id)
        if request.method == "POST":
            with transaction.atomic():
                current = User.objects.select_for_update().get(pk=account.pk)
                if not constant_time_compare(request.POST.get("fingerprint", ""), _password_fingerprint(current)):
                    messages.warning(
                        request,
                        "该账号的密码在您确认前已发生变化（可能刚刚已被重置，临时密码只显示一次）。如仍需重置，请再次确认。",
                    )
                    return redirect(request.get_full_path())
                try:
                    password = account_reset_password(account=current, acting_user=request.user)
                except AccountError as error:
                    messages.error(request, error.message)
                    return redirect(self._changelist_url(request))
                # The audit trail (django-auditlog) has the change; this puts it on the account's 历史 page.
                self.log_change(request, current, "重置密码（发放临时密码）")
            request.session[TEMPORARY_PASSWORD_SESSION_KEY] = {
                "account": account.pk,
                "password": pii_encrypt(password),
            }
            done = self._url("reset_password_done", account, request.GET.urlencode())
            return redirect(done)
        context = self._context(
            request,
            account,
            "重置密码",
            fingerprint=_password_fingerprint(account),
            valid_days=TEMPORARY_PASSWORD_VALID_FOR.days,
            locked_until=self._locked_until(account),
        )
        return with_page_styles(TemplateResponse(request, "admin/accounts/user/reset_password.html", context))

    def reset_password_done_view(self, request, object_id):
        account = self._account_in_scope(request, object_id)
        password = None
        stored = request.session.get(TEMPORARY_PASSWORD_SESSION_KEY)
        if stored and stored.get("account") == account.pk:
            del request.session[TEMPORARY_PASSWORD_SESSION_KEY]  # shown once: a reload finds nothing
            password = pii_decrypt(stored["password"])
        context = self._context(request, account, "临时密码", password=password)
        response = TemplateResponse(request, "admin/accounts/user/reset_password_done.html", context)
        add_never_cache_headers(response)  # no-store: the password stays out of every cache
        return with_page_styles(response)

    def unlock_view(self, request, object_id):
        account = self._account_in_scope(request, object_id)
        if request.method == "POST":
            try:
                account_unlock(account=account, acting_user=request.user)
            except AccountError as error:
                messages.error(request, error.message)
            else:
                self.log_change(request, account, "解锁")
                messages.success(request, f"账号 {account.username} 已解锁，经办人现在可以重新登录。")
            return redirect(self._changelist_url(request))
        pairs = AccessAttempt.objects.filter(
            username=account.username,
            attempt_time__gte=timezone.now() - settings.AXES_COOLOFF_TIME,
            failures_since_start__gte=settings.AXES_FAILURE_LIMIT,
        ).order_by("-attempt_time")
        context = self._context(
            request,
            account,
            "解锁账号",
            locked_until=self._locked_until(account),
            locked_pairs=[
                {"ip_address": pair.ip_address, "until": pair.attempt_time + settings.AXES_COOLOFF_TIME}
                for pair in pairs
            ],
        )
        return with_page_styles(TemplateResponse(request, "admin/accounts/user/unlock.html", context))

    def second_factor_reset_view(self, request, object_id):
        """【重置两步验证】 (SPEC SEC-8): superusers only, for any account with a device (a staff member or
        a unit administrator who lost the phone); confirmed on this page, then audited."""
        if not request.user.is_superuser:
            raise PermissionDenied
        account = self.get_object(request, object_id)
        change_url = reverse("admin:accounts_user_change", args=[account.pk], current_app=self.admin_site.name)
        if request.method == "POST":
            try:
                second_factor_reset(account=account, acting_user=request.user)
            except AccountError as error:
                messages.error(request, error.message)
            else:
                self.log_change(request, account, "重置两步验证")
                next_login = "需重新绑定身份验证器" if account.is_staff else "只需密码，可在【两步验证】页面重新开启"
                messages.success(request, f"账号 {account.username} 的两步验证已重置，该账号下次登录时{next_login}。")
            return redirect(change_url)
        context = self._context(
            request, account, "重置两步验证", change_url=change_url, enabled=second_factor_enabled(account)
        )
        return with_page_styles(TemplateResponse(request, "admin/accounts/user/second_factor_reset.html", context))


@admin.register(UnionOrganisation)
class UnionOrganisationAdmin(admin.ModelAdmin):
    """Superusers and reviewers keep the list of union organisations units choose from (SPEC ACC-2)."""

    list_display = ("name", "short_name", "level", "parent", "unit_count", "sort_order", "is_active")
    list_filter = ("level", ("parent", admin.RelatedOnlyFieldListFilter), "is_active")
    list_select_related = ("parent",)
    list_per_page = 15
    search_fields = ("name", "short_name")
    fields = ("name", "short_name", "level", "parent", "sort_order", "is_active")

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(
            unit_count=Count("accounts", filter=Q(accounts__role=Role.UNIT_ADMIN, accounts__is_superuser=False))
        )

    @admin.display(description="单位账号数", ordering="unit_count")
    def unit_count(self, obj):
        return obj.unit_count


# The 【技术支持】 contacts (SPEC ACC-6): reviewers keep them up to date.
@admin.register(SupportContact)
class SupportContactAdmin(admin.ModelAdmin):
    list_display = ("name", "role", "phone", "email", "sort_order", "is_active")
    list_display_links = ("name",)
    list_editable = ("sort_order", "is_active")
    list_filter = ("is_active", "role")
    search_fields = ("name", "role", "phone", "email")
    fields = ("role", "name", "phone", "email", "sort_order", "is_active")
