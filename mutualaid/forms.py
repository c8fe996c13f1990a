"""What the portal's forms share, whichever app they belong to: Chinese "required" messages and Bootstrap
classes on every widget, the invalid-field marks, and the canonical mainland mobile field."""
from django import forms

from .identifiers import canonical_mobile
from .validators import validate_mobile


def chinese_required(form: forms.Form) -> None:
    """Every field says which field is missing, and every widget gets Bootstrap's class."""
    for field in form.fields.values():
        verb = "请选择" if isinstance(field.widget, forms.Select) else "请输入"
        field.error_messages["required"] = f"{verb}{field.label}。"
        css = "form-select" if isinstance(field.widget, forms.Select) else "form-control"
        field.widget.attrs.setdefault("class", css)


class MarksInvalidFields:
    """A field with an error gets Bootstrap's is-invalid and aria-invalid, whoever added the error."""

    def add_error(self, field, error):
        super().add_error(field, error)
        for name in self._errors or {}:
            if name in self.fields:
                attrs = self.fields[name].widget.attrs
                if "is-invalid" not in attrs.get("class", "").split():
                    attrs["class"] = f"{attrs.get('class', '')} is-invalid".strip()
                attrs["aria-invalid"] = "true"


class MobileField(forms.CharField):
    """An 11-digit mainland mobile number in canonical form (SPEC SEC-1): spaces and hyphens typed
    between the digits are dropped, full-width digits folded, other scripts' digits refused."""

    default_validators = [validate_mobile]

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 20)
        kwargs.setdefault(
            "widget", forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "tel", "placeholder": "11位手机号码"})
        )
        super().__init__(**kwargs)

    def to_python(self, value):
        mobile, problem = canonical_mobile(super().to_python(value), self.label or "手机号")
        if problem:
            raise forms.ValidationError(problem)
        return mobile
