"""The lists' footer written in Python (mutualaid.templatetags.pagination, SPEC OPS-3) against the template
it replaced (UI.md, "Lists"): the same links, text and escaping, page by page, with a query, a parameter
name and an anchor."""
import re

import pytest
from django.core.paginator import Paginator
from django.template import Context, Template
from django.template.loader import render_to_string

# templates/includes/pagination.html before it called the tag: the reference.
REFERENCE = Template(
    """
<div class="list-footer d-flex flex-column flex-md-row align-items-md-center justify-content-between gap-2 mt-3">
  <div class="small text-secondary">{% if page.paginator.count %}显示第 {{ page.start_index }} 到第 {{ page.end_index }} 条记录，总共 {{ page.paginator.count }} 条记录 每页显示 {{ page.paginator.per_page }} 条记录{% else %}总共 0 条记录 每页显示 {{ page.paginator.per_page }} 条记录{% endif %}</div>
  {% if page.has_other_pages %}
  <nav aria-label="分页">
    <ul class="pagination pagination-sm mb-0 flex-wrap">
      {% if page.has_previous %}
      <li class="page-item"><a class="page-link" href="?{% if query %}{{ query }}&amp;{% endif %}{{ param|default:"page" }}={{ page.previous_page_number }}{% if anchor %}#{{ anchor }}{% endif %}" aria-label="上一页">上一页</a></li>
      {% else %}
      <li class="page-item disabled"><span class="page-link">上一页</span></li>
      {% endif %}
      {% for number in page_range %}
      {% if number == page.number %}
      <li class="page-item active" aria-current="page"><span class="page-link">{{ number }}</span></li>
      {% elif number == page.paginator.ELLIPSIS %}
      <li class="page-item disabled"><span class="page-link">…</span></li>
      {% else %}
      <li class="page-item"><a class="page-link" href="?{% if query %}{{ query }}&amp;{% endif %}{{ param|default:"page" }}={{ number }}{% if anchor %}#{{ anchor }}{% endif %}">{{ number }}</a></li>
      {% endif %}
      {% endfor %}
      {% if page.has_next %}
      <li class="page-item"><a class="page-link" href="?{% if query %}{{ query }}&amp;{% endif %}{{ param|default:"page" }}={{ page.next_page_number }}{% if anchor %}#{{ anchor }}{% endif %}" aria-label="下一页">下一页</a></li>
      {% else %}
      <li class="page-item disabled"><span class="page-link">下一页</span></li>
      {% endif %}
    </ul>
  </nav>
  {% endif %}
</div>
"""
)


def tags(html: str) -> str:
    """The markup without the white space between tags (the footer's list is a flex box)."""
    return re.sub(r">\s+<", "><", html).strip()


@pytest.mark.parametrize("count", [0, 1, 15, 16, 500])
@pytest.mark.parametrize("number", [1, 2, 5, 34])
@pytest.mark.parametrize(
    "extra",
    [{}, {"query": "name=%E7%8E%8B&work_status=<b>\"'"}, {"param": "retired_page", "anchor": "retired"}],
)
def test_the_same_footer_as_the_template(count, number, extra):
    paginator = Paginator(range(count), 15)
    page = paginator.get_page(number)
    context = {
        "page": page,
        "page_range": list(paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1)),
        **extra,
    }
    new = render_to_string("includes/pagination.html", context)
    assert tags(new) == tags(REFERENCE.render(Context(context)))
    if count > 15:
        assert 'aria-label="分页"' in new
    if extra.get("query") and count > 15:
        assert "&lt;b&gt;&quot;&#x27;&amp;page=" in new
