"""【API令牌】 (SPEC API-1): the unit's page of its API tokens — the list, 【新建令牌】, the page that shows a
new token once, and 【撤销】 after a confirmation.

Unit accounts only: back-office accounts get 403 (they never hold a token; SEC-8), another account's
token answers 404 (X-4). The rules are api.services'; these views only show and ask.
"""
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from enrollment.selectors import account_codes
from enrollment.views.access import unit_admin_page
from mutualaid.audit import client_ip

from .forms import ApiTokenForm
from .models import ApiToken
from .services import ApiTokenError, account_tokens, api_token_create, api_token_revoke

# The new token's secret waits in the session for the one page that shows it, then is dropped.
SHOWN_ONCE_KEY = "api_token_shown_once"


@require_GET
@unit_admin_page
def tokens(request):
    """The list: 名称, 参保编码, 前缀, 创建时间, 最后使用, 有效期至, 状态, 操作 (SPEC API-1)."""
    return render(
        request,
        "api/tokens.html",
        {
            "tokens": list(account_tokens(account=request.user)),
            "has_code": account_codes(account=request.user).exists(),
            "docs_url": "/api/v1/docs",
        },
    )


@require_http_methods(["GET", "POST"])
@unit_admin_page
def tokens_new(request):
    """【新建令牌】: the form; on success the token is shown once (tokens_created)."""
    codes = list(account_codes(account=request.user))
    if not codes:
        messages.warning(request, "请先申请参保编码，审核通过后可创建API令牌。")
        return redirect("api:tokens")
    form = ApiTokenForm(request.POST or None, codes=codes)
    if request.method == "POST" and form.is_valid():
        try:
            token, secret = api_token_create(
                account=request.user,
                code_id=form.cleaned_data["code"],
                name=form.cleaned_data["name"],
                expires_on=form.expiry(),
                remote_addr=client_ip(request),
            )
        except ApiTokenError as error:
            form.add_error(None, error.message)
        else:
            request.session[SHOWN_ONCE_KEY] = {"id": token.pk, "secret": secret}
            return redirect("api:tokens_created", token_id=token.pk)
    return render(request, "api/token_new.html", {"form": form})


@require_GET
@unit_admin_page
def tokens_created(request, token_id: int):
    """The new token, shown this once (SPEC API-1): the secret leaves the session as it is shown, so a
    reload or the back button shows it no more."""
    token = get_object_or_404(ApiToken.objects.select_related("code"), pk=token_id, account=request.user)
    shown = request.session.get(SHOWN_ONCE_KEY) or {}
    secret = shown.get("secret") if shown.get("id") == token.pk else None
    if secret is not None:
        del request.session[SHOWN_ONCE_KEY]
    return render(request, "api/token_created.html", {"token": token, "secret": secret})


@require_POST
@unit_admin_page
def tokens_revoke(request, token_id: int):
    """【撤销】 after its confirmation dialog (UI.md "Dialogs"); a second POST changes nothing."""
    token = get_object_or_404(ApiToken, pk=token_id, account=request.user)
    already = token.revoked_at is not None
    api_token_revoke(token=token, acting_user=request.user, remote_addr=client_ip(request))
    if not already:
        messages.success(request, f"API令牌“{token.name}”（{token.prefix}…）已撤销，使用它的系统将无法再访问。")
    return redirect(reverse("api:tokens"))
