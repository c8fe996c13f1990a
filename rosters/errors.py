"""The rosters app's domain error (STYLE.md §2)."""
from enrollment.services import EnrollmentError


class RosterError(EnrollmentError):
    """A roster rule, an import or a reference load refused the action; `message` is shown to the user
    as it is. An EnrollmentError, so a view or task catching that catches this one too."""
