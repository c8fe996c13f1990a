from django.contrib.auth.models import AbstractUser, UserManager
from django.core.exceptions import PermissionDenied
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Lower


class Role(models.TextChoices):
    UNIT_ADMIN = "unit_admin", "单位经办人"
    REVIEWER = "reviewer", "职保会审核员"
    UNION_STAFF = "union_staff", "工会工作人员"


BACK_OFFICE_ROLES = {Role.REVIEWER, Role.UNION_STAFF}


class UnionOrganisation(models.Model):
    """A union organisation (上级工会): level 1 (a district union or an industry union) or level 2
    under a level-1 one. Units without a union (未建会) have none. Union staff belong to one and
    look after the units under it (SPEC ACC-3, BO-2)."""

    class Level(models.IntegerChoices):
        FIRST = 1, "一级工会组织"
        SECOND = 2, "二级工会组织"

    name = models.CharField("名称", max_length=100, unique=True)
    short_name = models.CharField("工委名称", max_length=50, blank=True, help_text="如：普陀区、机电")
    level = models.PositiveSmallIntegerField("级别", choices=Level.choices)
    parent = models.ForeignKey(
        "self",
        verbose_name="上级组织",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
        limit_choices_to={"level": 1},
    )
    sort_order = models.PositiveIntegerField("排序", default=0)
    is_active = models.BooleanField("启用", default=True)

    class Meta:
        verbose_name = "工会组织"
        verbose_name_plural = "工会组织"
        ordering = ["level", "sort_order", "name"]
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(level=1, parent__isnull=True) | models.Q(level=2, parent__isnull=False)),
                name="union_organisation_level_parent",
            )
        ]

    def __str__(self):
        return self.name

    def clean(self):
        from django.core.exceptions import ValidationError

        if self.level == self.Level.FIRST and self.parent_id:
            raise ValidationError({"parent": "一级工会组织没有上级组织"})
        if self.level == self.Level.SECOND and not self.parent_id:
            raise ValidationError({"parent": "二级工会组织须选择所属一级工会组织"})

    def scope_ids(self) -> list[int]:
        """This organisation and, for a level-1 one, every level-2 organisation under it."""
        if self.level == self.Level.FIRST:
            return [self.pk, *self.children.values_list("pk", flat=True)]
        return [self.pk]


NO_UNION_LABEL = "未建会"


ACCOUNT_NOT_DELETED = "平台账号不能删除，请停用该账号（取消“有效”）。"


class UserQuerySet(models.QuerySet):
    def delete(self):
        # SPEC SEC-9: see User.delete; a bulk delete (the admin's 删除所选) is refused the same way.
        raise PermissionDenied(ACCOUNT_NOT_DELETED)


class AccountManager(UserManager.from_queryset(UserQuerySet)):
    pass


class User(AbstractUser):
    """A platform account (申工通账号). Unit administrators use the portal; reviewers and union staff
    the back office. A superuser is any account with is_superuser, whatever its role."""

    role = models.CharField("角色", max_length=20, choices=Role.choices, default=Role.UNIT_ADMIN)
    union_organisation = models.ForeignKey(
        UnionOrganisation,
        verbose_name="工会组织",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="accounts",
        help_text="单位账号：上级工会（空为未建会）；工会工作人员：所属工会组织",
    )
    # What a unit gives at registration (SPEC ACC-2); the unit itself comes with its code (CODE).
    unit_name = models.CharField("单位名称", max_length=200, blank=True)
    uscc = models.CharField("统一社会信用代码", max_length=18, blank=True)
    mobile = models.CharField("联系人手机", max_length=11, blank=True)
    email_confirmed_at = models.DateTimeField("邮箱确认时间", null=True, blank=True)
    # A temporary password from a reset (SPEC ACC-3 [departure]): one login, then a forced change.
    must_change_password = models.BooleanField("须修改密码", default=False)
    temporary_password_expires_at = models.DateTimeField("临时密码有效期至", null=True, blank=True)
    temporary_password_used_at = models.DateTimeField("临时密码使用时间", null=True, blank=True)
    # Failed logins before this moment no longer count towards the account-wide lock (unlock).
    failures_cleared_at = models.DateTimeField("解锁时间", null=True, blank=True)

    objects = AccountManager()

    class Meta:
        verbose_name = "平台账号"
        verbose_name_plural = "平台账号"
        constraints = [
            # "Abc" and "abc" are the same account name to a clerk on the phone (registration).
            models.UniqueConstraint(Lower("username"), name="user_username_case_insensitive_unique"),
        ]

    def save(self, *args, **kwargs):
        # Back-office access follows the role, so nobody has to remember to tick is_staff.
        self.is_staff = self.is_superuser or self.role in BACK_OFFICE_ROLES
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        # SPEC SEC-9: an account is deactivated (is_active), never deleted: the audit trail, the
        # batches' 操作日志 and the batches themselves name it, and the trail cannot be rewritten.
        raise PermissionDenied(ACCOUNT_NOT_DELETED)

    @property
    def email_confirmed(self) -> bool:
        return self.email_confirmed_at is not None

    @property
    def has_union(self) -> bool:
        return self.union_organisation_id is not None

    @property
    def union_label(self) -> str:
        return str(self.union_organisation) if self.union_organisation_id else NO_UNION_LABEL

    @property
    def is_unit_admin(self) -> bool:
        return self.role == Role.UNIT_ADMIN and not self.is_superuser

    @property
    def is_reviewer(self) -> bool:
        return self.role == Role.REVIEWER

    @property
    def is_union_staff(self) -> bool:
        return self.role == Role.UNION_STAFF


class SupportContact(models.Model):
    """A contact on the 【技术支持】 page (SPEC ACC-6): the hotline 12351 and the people who answer
    questions about the portal. Reviewers keep the list up to date in the back office; an inactive
    contact stays on record but is no longer shown."""

    name = models.CharField("联系人", max_length=50, help_text="如：陶老师、服务热线")
    role = models.CharField("咨询类别", max_length=50, help_text="如：线上操作咨询、热线咨询；同一类别的联系人显示在一起")
    phone = models.CharField(
        "电话",
        max_length=20,
        blank=True,
        validators=[
            RegexValidator(r"^\d[\d-]{2,19}$", "请填写电话号码，只含数字和“-”，如 12351、021-63619921、17358071263")
        ],
    )
    email = models.EmailField("电子邮箱", blank=True)
    sort_order = models.PositiveIntegerField("排序", default=0, help_text="数字小的排在前面")
    is_active = models.BooleanField("显示", default=True, help_text="取消勾选后不再在【技术支持】页面显示")

    class Meta:
        verbose_name = "技术支持联系人"
        verbose_name_plural = "技术支持联系人"
        ordering = ["sort_order", "pk"]
        constraints = [
            # A contact nobody can reach is of no use on the page.
            models.CheckConstraint(
                condition=~(models.Q(phone="") & models.Q(email="")), name="support_contact_phone_or_email"
            )
        ]

    def __str__(self):
        return f"{self.role}：{self.name}"

    def clean(self):
        from django.core.exceptions import ValidationError

        if not self.phone and not self.email:
            raise ValidationError("电话和电子邮箱至少填写一项")
