"""reverse() once for a table's rows (SPEC OPS-3): a list page links each row to the same URL pattern with
another value in one place (an entry's id, an import's id, a batch's number); reversing it for every row
was a visible part of those pages' time."""
from django.urls import reverse

# Digits only, so that int and str converters both accept it; long enough to appear nowhere else.
_STAND_IN = "90817263544536271809"


def url_filler(url_name: str, argument: str, **fixed):
    """A function of one value giving `url_name`'s address with `argument` set to it and `fixed` for
    the other arguments. reverse() runs here once with a stand-in; each call puts its value in its
    place. A value other than plain letters and digits (which the URL would quote) is reversed."""
    head, tail = reverse(url_name, kwargs={**fixed, argument: _STAND_IN}).split(_STAND_IN)

    def fill(value) -> str:
        text = str(value)
        if text.isascii() and text.isalnum():
            return f"{head}{text}{tail}"
        return reverse(url_name, kwargs={**fixed, argument: value})

    return fill
