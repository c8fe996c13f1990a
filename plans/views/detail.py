"""【保费详细】 of a batch with its 【导出】, and one person's items for the roster's 查看 page (SPEC PREM-3,
PLAN-3, COV-2, X-1, X-4).

Unit accounts only (back-office roles get 403); another account's batch or entry answers 404 (X-4).
The pages only read: plans/selectors.py prices the two kinds of person once and the people are read
page by page. Shown in 缴费凭证待上传 and every later state (the confirmed 保费信息), and in
清册校验通过 / 职保会审核通过 once 【生成保费信息】 has saved a selection (then marked 预览，尚未确认).
"""

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_GET

from enrollment.states import BatchAction
from enrollment.views.access import account_batch, unit_page
from mutualaid.exports import ExportError, export_start
from mutualaid.quotas import quota_refusal
from mutualaid.audit import client_ip
from rosters.models import RosterEntry

from ..models import Series
from ..selectors import (
    DETAIL_COLUMNS,
    SOCIAL_SECURITY_CHOICES,
    premium_detail_basis,
    premium_people,
    premium_people_summary,
    premium_person_row,
    premium_person_rows,
)

PER_PAGE = 15  # UI.md, "Lists"
SERIES_LABELS = dict(Series.choices)


class PremiumFilterForm(forms.Form):
    """保费详细's search, read from the URL so a filtered page can be bookmarked (UI.md "Lists")."""

    name = forms.CharField(label="姓名", required=False, max_length=50)
    id_number = forms.CharField(label="证件号", required=False, max_length=40)
    social_security = forms.ChoiceField(label="社保", required=False, choices=SOCIAL_SECURITY_CHOICES)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("name", "id_number"):
            self.fields[name].widget.attrs.update({"class": "form-control form-control-sm", "autocomplete": "off"})
        self.fields["social_security"].widget.attrs.update({"class": "form-select form-select-sm"})

    def clean_name(self):
        return " ".join(self.cleaned_data["name"].split())

    def search_arguments(self) -> dict:
        """Keyword arguments of plans.selectors.premium_people; a hand-edited invalid value counts as 全部."""
        if not self.is_bound:
            return {}
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return {key: data.get(key) or "" for key in self.fields}


def _nothing_yet(request, batch):
    """No 保费详细 yet: say why and lead to 【保障项目选择】 where the state allows it, else the batch list."""
    if batch.allows(BatchAction.SELECT_PLANS):
        messages.info(request, "尚未生成保费信息，请先在【保障项目选择】中勾选保障项目并点击【生成保费信息】。")
        return redirect("plans:selection", number=batch.number)
    messages.info(request, f"批次当前状态为“{batch.get_state_display()}”，尚无保费详细。")
    return redirect("enrollment:batches")


@require_GET
@unit_page
def premium_detail(request, number: str):
    """【保费详细】 (SPEC PREM-3): the 保费信息 table, then every person with their items, amount, coverage
    dates and, in an instant batch, each item's 生效日期 (COV-2); 15 a page, searched from the URL."""
    batch = account_batch(request, number)
    basis = premium_detail_basis(batch=batch)
    if basis is None:
        return _nothing_yet(request, batch)
    filters = PremiumFilterForm(request.GET or None)
    search = filters.search_arguments()
    people = premium_people(batch=batch, **search)
    paginator = Paginator(people, PER_PAGE)
    page = paginator.get_page(request.GET.get("page"))
    filtered = any(search.values())
    if filtered:
        shown_people, shown_amount = premium_people_summary(basis=basis, people=people)
    else:
        shown_people, shown_amount = basis.people, basis.total
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "plans/detail.html",
        {
            "batch": batch,
            "basis": basis,
            "table": basis.table,
            "filters": filters,
            "filtered": filtered,
            "shown_people": shown_people,
            "shown_amount": shown_amount,
            "page": page,
            "rows": premium_person_rows(basis=basis, entries=page.object_list),
            "page_range": paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1),
            "query": query.urlencode(),
            "selection_url": (
                reverse("plans:selection", kwargs={"number": batch.number}) if batch.allows(BatchAction.SELECT_PLANS) else None
            ),
            "batches_url": reverse("enrollment:batches"),
        },
    )


@require_GET
@unit_page
def premium_export(request, number: str):
    """【导出】 (SPEC PREM-3, X-1): every person of the batch with items and amounts, IDs masked, a 合计
    row equal to the 保费信息's 总计, and the 保费信息 table on a second sheet. A background export
    (plans.export_jobs, UI.md "Long work"): this starts it, or finds the one already running, and
    shows its progress page, which ends on the download."""
    batch = account_batch(request, number)
    if premium_detail_basis(batch=batch) is None:
        return _nothing_yet(request, batch)
    if refused := quota_refusal(request, "export"):  # SPEC SEC-3
        return refused
    try:
        job = export_start(kind="premium_detail", params={"batch": batch.number}, user=request.user, ip_address=client_ip(request))
    except ExportError as error:
        messages.error(request, error.message)
        return redirect("plans:premium_detail", number=batch.number)
    return redirect("exports:job", job_id=job.pk)


@require_GET
@unit_page
def entry_items(request, number: str, entry_id: int):
    """An htmx fragment for the roster's 查看 page: the person's items, amount and each item's 生效日期
    (SPEC PLAN-3, COV-2); empty while the batch has no selection (nothing to show)."""
    batch = account_batch(request, number)
    entry = get_object_or_404(RosterEntry.objects.only(*DETAIL_COLUMNS), batch=batch, pk=entry_id)
    basis = premium_detail_basis(batch=batch)
    if basis is None:
        return HttpResponse("")
    row = premium_person_row(basis=basis, entry=entry)
    return render(
        request,
        "plans/_entry_items.html",
        {
            "batch": batch,
            "row": row,
            "items": [
                {
                    "code": code,
                    "series": SERIES_LABELS.get(code[0], ""),
                    "basic": code.endswith("0"),
                    "effective": dict(row.effective).get(code),
                    "waiting_days": basis.waiting_days.get(code[0], 0) if basis.instant else 0,
                }
                for code in row.items
            ],
            "basis": basis,
            "detail_url": reverse("plans:premium_detail", kwargs={"number": batch.number}),
        },
    )


urlpatterns = [
    path("batches/<str:number>/premium/", premium_detail, name="premium_detail"),
    path("batches/<str:number>/premium/export/", premium_export, name="premium_export"),
    path("batches/<str:number>/premium/entries/<int:entry_id>/", entry_items, name="entry_items"),
]
