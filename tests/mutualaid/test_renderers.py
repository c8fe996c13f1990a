"""The form renderer writes Django's common widget templates in Python (mutualaid/renderers.py, SPEC
OPS-3): it must give exactly what those templates give, for edge cases and for every widget the
portal's pages and back office render."""
import datetime as dt
from pathlib import Path

import pytest
from django import forms
from django.conf import settings as django_settings
from django.forms.renderers import TemplatesSetting, get_default_renderer
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy

from accounts.models import Role, User
from enrollment.models import Batch
from mutualaid.renderers import PortalFormRenderer
from tests.second_factor import PortalClient

TEMPLATES = TemplatesSetting()


class Recorder(PortalFormRenderer):
    """The portal's renderer, keeping what it was asked to render in Python."""

    calls: list = []

    def render(self, template_name, context, request=None):
        if template_name in self.PYTHON_TEMPLATES:
            Recorder.calls.append((template_name, context))
        return super().render(template_name, context, request)


def _same(widget: forms.Widget, name: str, value, attrs=None):
    portal = widget.render(name, value, attrs=attrs, renderer=PortalFormRenderer())
    django = widget.render(name, value, attrs=attrs, renderer=TEMPLATES)
    assert portal == django
    return portal


def test_settings_use_it():
    assert isinstance(get_default_renderer(), PortalFormRenderer)


def test_no_project_template_overrides_a_widget_written_in_python():
    """A project template of one of these names would be ignored: the Python version wins."""
    for template_name in PortalFormRenderer.PYTHON_TEMPLATES:
        assert not (Path(django_settings.BASE_DIR) / "templates" / template_name).exists(), template_name


CHOICES = [("", "全部"), ("a", "甲 <b>"), (1, 2026), ("分组", [("x", "X & Y"), ("y", gettext_lazy("Yes"))])]


@pytest.mark.parametrize(
    "widget, value",
    [
        (forms.TextInput(), None),
        (forms.TextInput(), ""),
        (forms.TextInput(attrs={"class": "form-control", "required": True, "disabled": False, "maxlength": 50}), 'a"<&>'),
        (forms.TextInput(), mark_safe("<i>safe</i>")),
        (forms.TextInput(), 0),
        (forms.EmailInput(attrs={"placeholder": "邮箱"}), "a@example.com"),
        (forms.PasswordInput(render_value=True), "secret"),
        (forms.NumberInput(attrs={"step": "0.01", "min": 0}), 12.5),
        (forms.DateInput(attrs={"type": "date"}), dt.date(2026, 12, 6)),
        (forms.DateTimeInput(), dt.datetime(2026, 12, 6, 9, 30)),
        (forms.URLInput(), "https://example.org/?a=1&b=2"),
        (forms.TimeInput(), dt.time(9, 5)),
        (forms.CheckboxInput(), True),
        (forms.CheckboxInput(attrs={"class": "form-check-input"}), False),
        (forms.Textarea(attrs={"rows": 3}), "第一行\n<第二行>"),
        (forms.Textarea(), ""),
        (forms.Select(choices=CHOICES, attrs={"class": "form-select"}), "a"),
        (forms.Select(choices=CHOICES), 1),
        (forms.Select(choices=CHOICES), None),
        (forms.SelectMultiple(choices=CHOICES), ["a", "x"]),
        (forms.NullBooleanSelect(), True),
        (forms.RadioSelect(choices=CHOICES, attrs={"id": "id_r", "class": "form-check-input"}), "x"),
        (forms.RadioSelect(choices=CHOICES), "a"),
        (forms.CheckboxSelectMultiple(choices=CHOICES, attrs={"id": "id_c"}), ["a", "y"]),
        (forms.CheckboxSelectMultiple(choices=CHOICES), []),
        (forms.SelectDateWidget(years=[2025, 2026]), dt.date(2026, 1, 31)),
        (forms.SplitDateTimeWidget(), dt.datetime(2026, 12, 6, 9, 30)),
    ],
)
def test_widgets_as_django_renders_them(widget, value):
    html = _same(widget, "field", value, attrs={"id": "id_field", "aria-describedby": "help"})
    assert 'name="field' in html


def test_a_whole_form_as_django_renders_it():
    class Form(forms.Form):
        name = forms.CharField(label="姓名", max_length=20, help_text="<b>帮助</b>")
        kind = forms.ChoiceField(label="类型", choices=CHOICES, widget=forms.RadioSelect)
        note = forms.CharField(widget=forms.Textarea, required=False)
        agreed = forms.BooleanField()

    bound = Form(data={"name": "<张三>", "kind": "zz", "agreed": ""})
    assert not bound.is_valid()
    for form in (Form(), bound):
        assert form.render(renderer=PortalFormRenderer()) == form.render(renderer=TEMPLATES)


def _unit_pages(account) -> list[str]:
    pages = ["/handler/", "/handler/changes/new/", "/codes/", "/codes/new/", "/batches/", "/vouchers/"]
    for number in Batch.objects.filter(account=account).values_list("number", flat=True):
        pages += [
            f"/batches/{number}/", f"/batches/{number}/roster/", f"/batches/{number}/roster/?name=张&work_status=在职",
            f"/batches/{number}/roster/import/", f"/batches/{number}/validation/", f"/batches/{number}/plans/",
            f"/batches/{number}/premium/",
        ]
    return pages


@pytest.mark.django_db
def test_every_widget_of_the_demo_pages_as_django_renders_it(demo_data, settings):
    """The demo's unit pages and the back office's lists and change pages, rendered with the portal's
    renderer: each widget it wrote in Python, rendered again from Django's template, is the same."""
    settings.FORM_RENDERER = "tests.mutualaid.test_renderers.Recorder"
    Recorder.calls = []
    client = PortalClient()
    visited = 0
    for username in ("demo", "demo-nounion", "demo-instant"):
        account = User.objects.get(username=username)
        client.force_login(account)
        for page in _unit_pages(account):
            visited += client.get(page).status_code == 200
    client.force_login(User.objects.filter(role=Role.REVIEWER).first())
    batch = Batch.objects.order_by("pk").first()
    for page in (
        "/backoffice/", "/backoffice/enrollment/batch/", f"/backoffice/enrollment/batch/{batch.pk}/change/",
        "/backoffice/payments/voucher/", "/backoffice/accounts/user/",
    ):
        visited += client.get(page).status_code == 200
    assert visited >= 20
    names = {name for name, _ in Recorder.calls}
    assert {"django/forms/widgets/select.html", "django/forms/widgets/text.html"} <= names
    for template_name, context in Recorder.calls:
        assert PortalFormRenderer().render(template_name, context) == TEMPLATES.render(template_name, context), template_name
