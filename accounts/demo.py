"""Demo accounts. The passwords are printed and written in README.md: demo only, never production."""
from .models import Role, User

DEMO_ACCOUNTS = [
    ("demo", "Demo#2026", Role.UNIT_ADMIN, "演示单位经办人"),
    ("reviewer", "Review#2026", Role.REVIEWER, "职保会审核员"),
    ("union", "Union#2026", Role.UNION_STAFF, "工会工作人员"),
]


def seed(*, stdout):
    for username, password, role, display_name in DEMO_ACCOUNTS:
        user, _ = User.objects.get_or_create(username=username, defaults={"role": role})
        user.role = role
        user.first_name = display_name
        user.is_active = True
        user.set_password(password)
        user.save()
        stdout.write(f"演示账号 {username} / {password}（{role.label}）")
