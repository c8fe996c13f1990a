"""reverse() less often (SPEC OPS-3): once for a table's rows (url_filler: a list page links each row to
the same URL pattern with another value in one place, an entry's id, an import's id, a batch's number),
and once per process for the addresses every page links to (reverse_remembered)."""
from django.conf import settings
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils.translation import get_language

# Digits only, so that int and str converters both accept it; long enough to appear nowhere else.
_STAND_IN = "90817263544536271809"


def url_filler(url_name: str, argument: str, **fixed):
    """A function of one value giving `url_name`'s address with `argument` set to it and `fixed` for
    the other arguments. reverse() runs here once with a stand-in; each call puts its value in its
    place. A value other than plain letters and digits (which the URL would quote) is reversed."""
    head, tail = reverse_remembered(url_name, kwargs={**fixed, argument: _STAND_IN}).split(_STAND_IN)

    def fill(value) -> str:
        text = str(value)
        if text.isascii() and text.isalnum():
            return f"{head}{text}{tail}"
        return reverse(url_name, kwargs={**fixed, argument: value})

    return fill


# reverse()'s answers by everything they depend on (below), for the {% url %} tag (mutualaid.templatetags.
# remembered_urls) and the unit menu: the same dozen addresses on every page, each 30–40 µs to reverse
# (SPEC OPS-3). Bounded: a page's rows pass ids through url_filler, but a template may still pass one.
_ADDRESSES: dict[tuple, str] = {}
_ADDRESSES_MAX = 4096


def reverse_remembered(view_name: str, *, args=(), kwargs=None, current_app: str | None = None) -> str:
    """reverse() with the answer kept for the next request: keyed by the arguments (plain strings and
    integers only; anything else is reversed each time), the namespace in use, the script prefix, the
    URLconf and the language. NoReverseMatch is raised as reverse() raises it, and not kept."""
    kwargs = kwargs or {}
    values = (*args, *kwargs.values())
    if not all(type(value) in (str, int) for value in values):
        return reverse(view_name, args=args, kwargs=kwargs, current_app=current_app)
    key = (
        view_name, tuple(args), tuple(sorted(kwargs.items())), current_app, get_script_prefix(),
        get_urlconf() or settings.ROOT_URLCONF, get_language(),
    )
    address = _ADDRESSES.get(key)
    if address is None:
        address = reverse(view_name, args=args, kwargs=kwargs, current_app=current_app)
        if len(_ADDRESSES) >= _ADDRESSES_MAX:
            _ADDRESSES.clear()
        _ADDRESSES[key] = address
    return address
