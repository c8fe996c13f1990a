"""One-time form submissions (UI.md "Dialogs": a double click, or a form posted again with the back
button, does nothing twice).

A form carries a random token; the session remembers what each token made (a batch number, an
application's id…), the last SUBMISSIONS_KEPT of them per form. The second request of a double click
usually waits on the first one's row lock, then reads the session store again (`fresh=True`): the
first request has saved its token there meanwhile. `submission_once` does all of this for a view.
"""
import secrets
from collections.abc import Callable
from importlib import import_module

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import QuerySet

SUBMISSIONS_KEPT = 20


def submission_token_new() -> str:
    return secrets.token_hex(16)


def submission_token(posted: str) -> str:
    """The posted token if well formed (32 hex digits), else a new one."""
    if len(posted) == 32 and all(char in "0123456789abcdef" for char in posted):
        return posted
    return submission_token_new()


def session_value(request, key: str, *, fresh: bool = False):
    """The session's value of `key` (a dict or a list); `fresh` merges in what the session store holds
    now (another request of this session may have written it since this one started)."""
    if fresh and request.session.session_key:
        store = import_module(settings.SESSION_ENGINE).SessionStore(session_key=request.session.session_key)
        stored = store.get(key)
        if stored:
            current = request.session.get(key)
            if isinstance(stored, dict):
                request.session[key] = {**(current or {}), **stored}
            else:
                request.session[key] = list(dict.fromkeys([*(current or []), *stored]))
    return request.session.get(key)


def submission_made(request, key: str, token: str, *, fresh: bool = False):
    """What the form `key` made with `token` earlier in this session, or None."""
    if not token:
        return None
    return (session_value(request, key, fresh=fresh) or {}).get(token)


def submission_remember(request, key: str, token: str, value) -> None:
    """Remember that `token` of the form `key` made `value`, and save the session at once, so that a
    second request of a double click finds it."""
    submissions = dict(session_value(request, key) or {})
    submissions.pop(token, None)
    submissions[token] = value
    request.session[key] = dict(list(submissions.items())[-SUBMISSIONS_KEPT:])
    request.session.save()


def submission_once(
    request,
    key: str,
    token: str,
    *,
    make: Callable[[], object],
    find: Callable[[object], object],
    remember: Callable[[object], object] = lambda made: made.pk,
    lock: QuerySet | None = None,
    refusals_commit: type[Exception] | tuple[type[Exception], ...] = (),
) -> tuple[object, bool]:
    """(what the form `key` made with `token`, whether an earlier request made it): call `make()`
    once per token.

    In one transaction the rows of `lock` (the account's row by default) are locked, so the second
    request of a double click waits for the first; then it looks for what `token` made (reading the
    session store again: `find` turns the remembered value into the object, or None when it is
    gone), else calls `make()` and remembers `remember(made)` before the transaction commits. An
    exception of `refusals_commit` raised by `make` is raised once the transaction has committed (what
    `make` wrote before refusing stays, e.g. a wrong SMS code's count); any other rolls it back."""
    if lock is None:
        lock = get_user_model().objects.filter(pk=request.user.pk)
    refusal = None
    with transaction.atomic():
        list(lock.select_for_update().values_list("pk", flat=True))
        value = submission_made(request, key, token, fresh=True)
        done = find(value) if value else None
        if done is not None:
            return done, True
        try:
            made = make()
        except refusals_commit as refused:
            refusal = refused
        else:
            submission_remember(request, key, token, remember(made))
    if refusal is not None:
        raise refusal
    return made, False
