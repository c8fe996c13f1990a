"""What each back-office role may do, as data (every app's permissions are granted here).

Permissions are granted by role through `RolePermissionBackend`, not stored per user, so moving an
account to another role changes what it sees at once and nobody edits permission lists by hand.
"""
from django.contrib.auth.backends import ModelBackend

from .models import Role

_VIEW_AUDIT = {"auditlog.view_logentry"}

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    Role.REVIEWER: frozenset(
        {
            "enrollment.view_coverageyear",
            "enrollment.add_coverageyear",
            "enrollment.change_coverageyear",
            "mutualaid.view_calendarday",
            "mutualaid.add_calendarday",
            "mutualaid.change_calendarday",
            "mutualaid.delete_calendarday",
            # SPEC ACC-6: the contacts on 【技术支持】.
            "accounts.view_supportcontact",
            "accounts.add_supportcontact",
            "accounts.change_supportcontact",
            "accounts.delete_supportcontact",
            # SPEC ACC-3, ACC-4, BO-2: the accounts of units without a union (未建会), read only; the
            # reset and unlock actions are open to whoever may view an account in their scope.
            "accounts.view_user",
            # SPEC ACC-2: reviewers maintain the list of union organisations that units choose from.
            "accounts.view_unionorganisation",
            "accounts.add_unionorganisation",
            "accounts.change_unionorganisation",
            # SPEC BO-1, CODE-4, HND-2: the review queues; change is the right to review (the
            # forms stay read only, the decision goes through the services).
            "enrollment.view_codeapplication",
            "enrollment.change_codeapplication",
            "enrollment.view_changerequest",
            "enrollment.change_changerequest",
            # SPEC CODE-5, CODE-6, HND-1: codes, units and handler information, read only.
            "enrollment.view_enrollmentcode",
            "enrollment.view_unit",
            "enrollment.view_handlerinfo",
            # SPEC HND-3: 单位名称变更 at the counter, with the evidence.
            "enrollment.view_unitnamechange",
            "enrollment.add_unitnamechange",
            # SPEC BO-3, REF: reference-data loads (upload, progress, rejected lines); a load is the
            # audit record of a bulk write, so nobody changes or deletes one.
            "rosters.view_referenceload",
            "rosters.add_referenceload",
            # SPEC VAL-7, BO-1: 清册审核 (the BatchReview proxy of Batch); change is the right to review.
            "rosters.view_batchreview",
            "rosters.change_batchreview",
            # SPEC PLAN-1, YEAR-1: the plan items of each year (prices locked once a premium of the
            # year is confirmed, plans/admin.py); SPEC PREM-3: the confirmed premiums, read only.
            "plans.view_planitem",
            "plans.change_planitem",
            "plans.view_batchpremium",
            # SPEC PAY-4, BO-1: 缴费凭证审核; change is the right to review (and to see the refund
            # account in full, audited, X-1). SPEC BAT-11: 逾期未缴费批次; change is the right to 作废.
            "payments.view_voucher",
            "payments.change_voucher",
            "payments.view_overduebatch",
            "payments.change_overduebatch",
            # SPEC RCP-1, RCP-2: 专用收据审核 (the ReceiptReview proxy of Batch); change is the right to
            # issue, reject and void and reissue.
            "receipts.view_receiptreview",
            "receipts.change_receiptreview",
            "enrollment.view_batchtotals",  # SPEC BO-3: 参保统计 (backoffice/statistics.py)
        }
        | _VIEW_AUDIT
    ),
    # SPEC BO-2: the accounts of the units under their organisation, read only, plus reset and unlock.
    Role.UNION_STAFF: frozenset({"accounts.view_user"}),
    Role.UNIT_ADMIN: frozenset(),
}


class RolePermissionBackend(ModelBackend):
    def get_user(self, user_id):
        """The account of the session, as ModelBackend.get_user gives it, read by a statement written
        once (SPEC OPS-3): every request of a logged-in person reads it, and Django compiling
        `User.objects.get(pk=…)` cost more CPU than the reading (mutualaid.rows)."""
        from django.core.exceptions import ValidationError
        from django.db import connection

        from mutualaid.rows import fetch_row, instances_of, joined_columns

        from .models import User

        try:
            pk = User._meta.pk.to_python(user_id)
        except ValidationError:
            return None
        low, high = connection.ops.integer_field_range(User._meta.pk.get_internal_type())
        if pk is None or not low <= pk <= high:  # the ORM finds nothing there either
            return None
        select, layout = joined_columns(((User, "u"),), connection.vendor)
        table = connection.ops.quote_name(User._meta.db_table)
        row = fetch_row("session_account", f"SELECT {select} FROM {table} u WHERE u.id = %s", [pk], ("bigint",))
        if row is None:
            return None
        (user,) = instances_of(row, layout)
        return user if self.user_can_authenticate(user) else None

    def get_all_permissions(self, user_obj, obj=None):
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        permissions = set(super().get_all_permissions(user_obj, obj))
        return permissions | ROLE_PERMISSIONS.get(user_obj.role, frozenset())
