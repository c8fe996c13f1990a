"""The rosters app's domain error (STYLE.md §2)."""
from enrollment.services import EnrollmentError


class RosterError(EnrollmentError):
    """A roster rule, an import or a reference load refused the action; `message` is shown to the user
    as it is. An EnrollmentError, so a view or task catching that catches this one too."""


class RosterUploadTooLarge(RosterError):
    """An import's upload is over its size limit (ROSTER_UPLOAD_MAX_BYTES for a file, ROSTER_API_MAX_BYTES
    for JSON rows, SPEC API-2): nothing was recorded or kept. A RosterError, so a page shows it like any
    other refusal; the API answers it with 413."""
