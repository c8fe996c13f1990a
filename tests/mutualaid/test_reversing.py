"""reverse_remembered and the {% url %} built on it (SPEC OPS-3): the addresses Django's reverse() gives,
kept per process by everything they depend on (arguments, namespace in use, script prefix, URLconf)."""
import pytest
from django.template import Context, Engine, Template
from django.test import override_settings
from django.urls import NoReverseMatch, reverse, set_script_prefix

from mutualaid import reversing
from mutualaid.reversing import reverse_remembered
from mutualaid.templatetags.remembered_urls import RememberedURLNode

TWINS = "tests.mutualaid.urls_twins"


@pytest.fixture
def counted(monkeypatch):
    """reversing's cache emptied, and its calls of Django's reverse() counted."""
    monkeypatch.setattr(reversing, "_ADDRESSES", {})
    calls = []

    def counting(*args, **kwargs):
        calls.append(args[0])
        return reverse(*args, **kwargs)

    monkeypatch.setattr(reversing, "reverse", counting)
    return calls


def test_the_same_addresses_as_reverse_and_asked_once(counted):
    for _ in range(3):
        assert reverse_remembered("enrollment:batches") == reverse("enrollment:batches")
        assert reverse_remembered("rosters:roster", kwargs={"number": "2026J000001"}) == reverse(
            "rosters:roster", kwargs={"number": "2026J000001"}
        )
        assert reverse_remembered("plans:price_table", args=[2026]) == "/plans/2026/price-table/"
    assert counted == ["enrollment:batches", "rosters:roster", "plans:price_table"]


@override_settings(ROOT_URLCONF=TWINS)
def test_the_namespace_in_use_is_part_of_the_key(counted):
    """As with the admin's sites: one app included twice answers by the namespace in use."""
    assert reverse_remembered("twin:page", current_app="one") == "/one/page/"
    assert reverse_remembered("twin:page", current_app="two") == "/two/page/"
    assert reverse_remembered("twin:page", current_app="one") == "/one/page/"
    assert len(counted) == 2


def test_the_script_prefix_and_the_urlconf_are_part_of_the_key(counted):
    assert reverse_remembered("enrollment:batches") == "/batches/"
    set_script_prefix("/portal/")
    try:
        assert reverse_remembered("enrollment:batches") == "/portal/batches/"
    finally:
        set_script_prefix("/")
    with override_settings(ROOT_URLCONF=TWINS):
        with pytest.raises(NoReverseMatch):
            reverse_remembered("enrollment:batches")
    assert reverse_remembered("enrollment:batches") == "/batches/"


def test_other_arguments_are_reversed_each_time_and_failures_not_kept(counted):
    class Number:
        def __str__(self):
            return "2026J000001"

    for _ in range(2):
        assert reverse_remembered("rosters:roster", kwargs={"number": Number()}) == "/batches/2026J000001/roster/"
        with pytest.raises(NoReverseMatch):
            reverse_remembered("enrollment:no_such_page")
    assert counted == ["rosters:roster", "enrollment:no_such_page"] * 2
    assert reversing._ADDRESSES == {}


def test_the_cache_is_bounded(counted, monkeypatch):
    monkeypatch.setattr(reversing, "_ADDRESSES_MAX", 3)
    for number in range(10):
        reverse_remembered("plans:price_table", args=[2000 + number])
    assert len(reversing._ADDRESSES) <= 3


@override_settings(ROOT_URLCONF=TWINS)
def test_url_tag_renders_as_djangos(counted, rf):
    """Every template's {% url %} (a builtin, settings.TEMPLATES): plain, with arguments, `as`, escaped,
    the namespace of the request's own URL, and NoReverseMatch raised unless `as`."""
    request = rf.get("/two/page/")
    from django.urls import resolve

    request.resolver_match = resolve("/two/page/")
    source = (
        "{% url 'twin:page' %}|{% url 'twin:numbered' number %}|{% url 'twin:numbered' number='a&b' %}"
        "|{% url 'twin:nothing' as missing %}[{{ missing }}]|{% url 'twin:page' as here %}{{ here }}"
    )
    template = Template(source)
    assert isinstance(template.nodelist[0], RememberedURLNode)
    rendered = template.render(Context({"number": "7", "request": request}))
    assert rendered == "/two/page/|/two/page/7/|/two/page/a&amp;b/|[]|/two/page/"
    assert rendered == Engine().from_string(source).render(Context({"number": "7", "request": request}))  # Django's own tag
    assert template.render(Context({"number": "7", "request": request})) == rendered
    assert counted.count("twin:page") == 1  # the second render asked nothing again
    with pytest.raises(NoReverseMatch):
        Template("{% url 'twin:nothing' %}").render(Context({}))
