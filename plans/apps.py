from django.apps import AppConfig


class PlansConfig(AppConfig):
    name = "plans"
    verbose_name = "保障项目"

    def ready(self):
        # SPEC PLAN-3: the locked-selection rule runs with the roster rules at 清册校验 / 清册提交;
        # rosters offers the hook and never imports plans (ARCHITECTURE.md).
        from rosters.rules import EXTRA_RULES

        from .services import plan_rule_people_without_basic

        if plan_rule_people_without_basic not in EXTRA_RULES:
            EXTRA_RULES.append(plan_rule_people_without_basic)
