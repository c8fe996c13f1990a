"""The root of the domain errors (STYLE.md §2) and the one place a view turns one into a form error.

Each app's error (`EnrollmentError`, `RosterError`, `PlanError`, …) is a DomainError: its `message` is
shown to the user as it is, and `field` names the form field it belongs beside ("sms_code",
"attachments"), or is empty.
"""
from __future__ import annotations

from collections.abc import Mapping


class DomainError(Exception):
    """A business rule refused the action; `message` is shown to the user as is. `field` names the
    form field the message belongs beside, if any."""

    def __init__(self, message: str, *, field: str = ""):
        super().__init__(message)
        self.message = message
        self.field = field


ATTACHMENTS_FIELD = "attachments"  # the attachment grid, which is no form field: its errors are listed apart


def form_error_add(
    form, error: DomainError, *, attachment_errors: list[str] | None = None, fields: Mapping[str, str] | None = None
) -> None:
    """Put `error`'s message where the page shows it: beside the form field it names (through `fields`,
    when the service's name for it differs from the form's), on `attachment_errors` when it names the
    attachments and the page lists those, else as the form's non-field error."""
    field = getattr(error, "field", "") or ""
    if attachment_errors is not None and field == ATTACHMENTS_FIELD:
        attachment_errors.append(error.message)
        return
    if fields and field in fields:
        field = fields[field]
    form.add_error(field if field in form.fields else None, error.message)
