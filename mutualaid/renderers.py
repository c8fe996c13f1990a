"""The form renderer (settings.FORM_RENDERER): Django's own widget templates for inputs, selects,
text areas, radio buttons and check boxes, written in Python (SPEC OPS-3).

Each widget on a page was a template render, and each <option> of a select another one: the 经办人信息
form (about 80 of them) spent half of its page's time there, the roster's search form a fifth. The
functions below give the same HTML as Django's templates of the same names (tests/mutualaid/
test_renderers.py compares them widget by widget); every other template — the project's own widgets
(templates/accounts/widgets/…), the hidden input of templates/django/forms/widgets/hidden.html, the
forms' and fields' layouts — is still rendered from its template.
"""
from django.forms.renderers import TemplatesSetting
from django.utils.formats import localize
from django.utils.html import conditional_escape
from django.utils.safestring import SafeData, mark_safe
from django.utils.timezone import template_localtime

WIDGETS = "django/forms/widgets/"


def _value(value) -> str:
    """`{{ value }}` in a template: local time, localised, escaped unless it is safe already."""
    return conditional_escape(localize(template_localtime(value)))


def _formatted(value) -> str:
    """`{{ value|stringformat:'s' }}` (a filter that keeps a safe value safe)."""
    text = "%s" % value
    return conditional_escape(mark_safe(text) if isinstance(value, SafeData) else text)


def _attrs(widget) -> str:
    """attrs.html: ` name="value"` for each attribute, ` name` for True, nothing for False."""
    parts = []
    for name, value in widget["attrs"].items():
        if value is False:
            continue
        parts.append(f" {_value(name)}" if value is True else f' {_value(name)}="{_formatted(value)}"')
    return "".join(parts)


def _input(widget) -> str:
    """input.html (each file of Django's ends with a line break, and so does what it renders)."""
    value = f' value="{_formatted(widget["value"])}"' if widget["value"] is not None else ""
    return f'<input type="{_value(widget["type"])}" name="{_value(widget["name"])}"{value}{_attrs(widget)}>\n'


def _textarea(widget) -> str:
    value = _value(widget["value"]) if widget["value"] else ""
    return f'<textarea name="{_value(widget["name"])}"{_attrs(widget)}>\n{value}</textarea>\n'


class PortalFormRenderer(TemplatesSetting):
    """TemplatesSetting (project templates may override Django's), with the templates named in
    PYTHON_TEMPLATES rendered by the methods below."""

    def render(self, template_name, context, request=None):
        if template_name not in self.PYTHON_TEMPLATES:
            return super().render(template_name, context, request)
        return mark_safe(self._raw(template_name, context["widget"]).strip())  # as BaseRenderer.render

    def _raw(self, template_name, widget) -> str:
        """What the template gives before the renderer strips it: the options of a select or of radio
        buttons are included by their template, whose final line breaks stay."""
        entry = self.PYTHON_TEMPLATES.get(template_name)
        if entry is None:
            return self.get_template(template_name).render({"widget": widget})
        render, wrapped = entry
        # A template that only includes another one adds its own final line break.
        return render(self, widget) + ("\n" if wrapped else "")

    def _option(self, option) -> str:
        return self._raw(option["template_name"], option)

    def _groups(self, widget, *, opening: str, each: str, closing: str) -> str:
        """The options of a select or of radio buttons and check boxes, group by group: a named group
        between `opening` (its label filled in) and `closing`, each option as `each` places it."""
        parts = []
        for group, options, _index in widget["optgroups"]:
            if group:
                parts.append(opening.format(label=_value(group)))
            parts.extend(each.format(option=self._option(option)) for option in options)
            if group:
                parts.append(closing)
        return "".join(parts)

    def _select(self, widget) -> str:
        options = self._groups(
            widget, opening='\n  <optgroup label="{label}">', each="\n  {option}", closing="\n  </optgroup>"
        )
        return f'<select name="{_value(widget["name"])}"{_attrs(widget)}>{options}\n</select>\n'

    def _select_option(self, widget) -> str:
        return f'<option value="{_formatted(widget["value"])}"{_attrs(widget)}>{_value(widget["label"])}</option>\n'

    def _multiple_input(self, widget) -> str:
        identifier, css_class = widget["attrs"].get("id"), widget["attrs"].get("class")
        opening = "".join([
            "<div",
            f' id="{_value(identifier)}"' if identifier else "",
            f' class="{_value(css_class)}"' if css_class else "",
            ">",
        ])
        options = self._groups(
            widget, opening="\n  <div><label>{label}</label>", each="<div>\n    {option}</div>", closing="\n  </div>"
        )
        return f"{opening}{options}\n</div>\n"

    def _input_option(self, widget) -> str:
        if not widget.get("wrap_label"):
            return _input(widget) + "\n"
        identifier = widget["attrs"].get("id")
        label_for = f' for="{_value(identifier)}"' if identifier else ""
        return f"<label{label_for}>{_input(widget)} {_value(widget['label'])}</label>\n"

    # template name → (its rendering, whether the template only includes another one)
    PYTHON_TEMPLATES = {
        f"{WIDGETS}input.html": (lambda self, widget: _input(widget), False),
        **{
            f"{WIDGETS}{name}.html": (lambda self, widget: _input(widget), True)
            for name in (
                "text", "email", "password", "number", "tel", "url", "search", "date", "datetime", "time", "color",
                "checkbox",
            )
        },
        f"{WIDGETS}textarea.html": (lambda self, widget: _textarea(widget), False),
        f"{WIDGETS}select.html": (_select, False),
        f"{WIDGETS}select_option.html": (_select_option, False),
        f"{WIDGETS}multiple_input.html": (_multiple_input, False),
        f"{WIDGETS}radio.html": (_multiple_input, True),
        f"{WIDGETS}checkbox_select.html": (_multiple_input, True),
        f"{WIDGETS}input_option.html": (_input_option, False),
        f"{WIDGETS}radio_option.html": (_input_option, True),
        f"{WIDGETS}checkbox_option.html": (_input_option, True),
    }
