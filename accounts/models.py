from django.contrib.auth.models import AbstractUser
from django.db import models


class Role(models.TextChoices):
    UNIT_ADMIN = "unit_admin", "单位经办人"
    REVIEWER = "reviewer", "职保会审核员"
    UNION_STAFF = "union_staff", "工会工作人员"


BACK_OFFICE_ROLES = {Role.REVIEWER, Role.UNION_STAFF}


class User(AbstractUser):
    """A platform account (申工通账号). Unit administrators use the portal; reviewers and union staff
    the back office. A superuser is any account with is_superuser, whatever its role."""

    role = models.CharField("角色", max_length=20, choices=Role.choices, default=Role.UNIT_ADMIN)

    class Meta:
        verbose_name = "平台账号"
        verbose_name_plural = "平台账号"

    def save(self, *args, **kwargs):
        # Back-office access follows the role, so nobody has to remember to tick is_staff.
        self.is_staff = self.is_superuser or self.role in BACK_OFFICE_ROLES
        super().save(*args, **kwargs)

    @property
    def is_unit_admin(self) -> bool:
        return self.role == Role.UNIT_ADMIN and not self.is_superuser

    @property
    def is_reviewer(self) -> bool:
        return self.role == Role.REVIEWER

    @property
    def is_union_staff(self) -> bool:
        return self.role == Role.UNION_STAFF
