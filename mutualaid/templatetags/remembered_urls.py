"""{% url %} with reverse_remembered (SPEC OPS-3): the same tag, its answers kept per process. A builtin of
the template engine (settings.TEMPLATES), so it stands in for Django's own in every template."""
from django import template
from django.template.defaulttags import URLNode, url as django_url
from django.urls import NoReverseMatch
from django.utils.html import conditional_escape

from mutualaid.reversing import reverse_remembered

register = template.Library()


class RememberedURLNode(URLNode):
    def render(self, context):
        """URLNode.render (Django 5.2) with reverse_remembered in place of reverse."""
        args = [arg.resolve(context) for arg in self.args]
        kwargs = {key: value.resolve(context) for key, value in self.kwargs.items()}
        view_name = self.view_name.resolve(context)
        try:
            current_app = context.request.current_app
        except AttributeError:
            try:
                current_app = context.request.resolver_match.namespace
            except AttributeError:
                current_app = None
        url = ""
        try:
            url = reverse_remembered(view_name, args=args, kwargs=kwargs, current_app=current_app)
        except NoReverseMatch:
            if self.asvar is None:
                raise
        if self.asvar:
            context[self.asvar] = url
            return ""
        return conditional_escape(url) if context.autoescape else url


@register.tag
def url(parser, token):
    """Django's {% url %} (same syntax, same errors), rendering through RememberedURLNode."""
    node = django_url(parser, token)
    return RememberedURLNode(node.view_name, node.args, node.kwargs, node.asvar)
