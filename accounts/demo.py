"""Demo accounts. The passwords are printed and written in README.md: demo only, never production."""
from django.utils import timezone

from .models import Role, UnionOrganisation, User

# username, password, role, display name, union organisation (None: 未建会), unit name
DEMO_ACCOUNTS = [
    ("demo", "Demo#2026", Role.UNIT_ADMIN, "演示单位经办人", "普陀区长寿路街道总工会", "上海演示科技有限公司"),
    ("demo-nounion", "NoUnion#2026", Role.UNIT_ADMIN, "未建会单位经办人", None, "上海未建会演示商贸有限公司"),
    # A unit in the coverage year whose 即时参保 window is open today (payments/demo.py).
    ("demo-instant", "Instant#2026", Role.UNIT_ADMIN, "即时参保演示经办人", "普陀区长寿路街道总工会", "上海演示医药连锁有限公司"),
    ("reviewer", "Review#2026", Role.REVIEWER, "职保会审核员", None, ""),
    ("union", "Union#2026", Role.UNION_STAFF, "普陀区总工会工作人员", "普陀区总工会", ""),
]


def seed(*, stdout):
    for username, password, role, display_name, organisation_name, unit_name in DEMO_ACCOUNTS:
        user, _ = User.objects.get_or_create(username=username, defaults={"role": role})
        user.role = role
        user.first_name = display_name
        user.unit_name = unit_name
        user.email = f"{username}@example.com"
        user.email_confirmed_at = user.email_confirmed_at or timezone.now()
        user.union_organisation = (
            UnionOrganisation.objects.get(name=organisation_name) if organisation_name else None
        )
        user.is_active = True
        user.must_change_password = False
        user.set_password(password)
        user.save()
        stdout.write(f"演示账号 {username} / {password}（{role.label}，{user.union_label}）")
