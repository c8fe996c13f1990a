"""A walker over the portal's URL patterns (outside the back office and static files) that fills each
parameter with a sample value, for the login-wall, cache-header and object-URL tests."""
import re

import pytest
from django.conf import settings as django_settings
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.urls import converters as url_converters
from django.urls.resolvers import RegexPattern, RoutePattern

_SAMPLE_BY_CONVERTER = {
    url_converters.IntConverter: "1",
    url_converters.StringConverter: "x",
    url_converters.SlugConverter: "x",
    url_converters.UUIDConverter: "1b4e28ba-2fa1-41d2-883f-0016d3cca427",
    url_converters.PathConverter: "x",
}


_PARAMETER = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>[^>]+)>")


def _fill(pattern: RoutePattern) -> str:
    def sample(match):
        converter = pattern.converters[match["name"]]
        try:
            return _SAMPLE_BY_CONVERTER[type(converter)]
        except KeyError:
            pytest.fail(f"no sample value for converter {type(converter).__name__} in {pattern}; add one")

    return _PARAMETER.sub(sample, str(pattern))


def _skipped_prefixes() -> tuple[str, ...]:
    return tuple(
        prefix.lstrip("/")
        for prefix in (reverse("admin:index"), django_settings.STATIC_URL, django_settings.MEDIA_URL)
    )


def _portal_pages(resolver=None, prefix="", namespace=""):
    """(url, label, view) for every URL pattern outside the back office and static files; the label
    is "namespace:name", or the URL itself for an unnamed pattern."""
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        if isinstance(entry.pattern, RegexPattern):
            route = str(entry.pattern).lstrip("^").rstrip("$")
            if not (prefix + route).startswith(_skipped_prefixes()):
                pytest.fail(f"regex URL pattern {prefix + route!r}: teach the walker to fill it")
            continue
        route = prefix + _fill(entry.pattern)
        if route.startswith(_skipped_prefixes()):
            continue
        if isinstance(entry, URLResolver):
            inner_namespace = ":".join(filter(None, [namespace, entry.namespace]))
            yield from _portal_pages(entry, route, inner_namespace)
        elif isinstance(entry, URLPattern):
            url = "/" + route
            yield url, ":".join(filter(None, [namespace, entry.name])) if entry.name else url, entry.callback
