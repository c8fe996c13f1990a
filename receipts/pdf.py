"""E-receipts and coverage certificates as PDF (SPEC RCP-2, RCP-3), and the issuer interface.

WeasyPrint loads Pango when imported: it is imported inside the functions that draw, so every other
page works on a machine without it (ARCHITECTURE.md). The fonts are the system's Noto CJK, which
WeasyPrint embeds (subset) in the PDF.
"""
from __future__ import annotations

from decimal import Decimal
from importlib import import_module

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

# --- Amounts in Chinese capitals (人民币叁仟玖佰贰拾元整) -------------------------------------------------

DIGITS = "零壹贰叁肆伍陆柒捌玖"
SMALL_UNITS = ("", "拾", "佰", "仟")
GROUP_UNITS = ("", "万", "亿", "兆")


def _four_digits(number: int) -> str:
    """0 < number < 10000 in capitals, with 零 between non-zero digits where a zero is skipped."""
    text, zero = "", False
    for position in range(3, -1, -1):
        digit = number // 10**position % 10
        if digit == 0:
            zero = bool(text)
            continue
        if zero:
            text += "零"
            zero = False
        text += DIGITS[digit] + SMALL_UNITS[position]
    return text


def _integer_capitals(number: int) -> str:
    groups = []
    while number:
        number, group = divmod(number, 10000)
        groups.append(group)
    text = ""
    for index in range(len(groups) - 1, -1, -1):
        group = groups[index]
        if group == 0:
            if text and not text.endswith("零"):
                text += "零"
            continue
        if text and group < 1000 and not text.endswith("零"):
            text += "零"  # 1,000,001 → 壹佰万零壹: the group's leading zeros are read as one 零
        text += _four_digits(group) + GROUP_UNITS[index]
    return text.rstrip("零")


def amount_in_chinese(amount: Decimal) -> str:
    """人民币 and the amount in capitals as Chinese receipts write it (会计基础工作规范: 整 after 元 or 角,
    none after 分): 3920 → 人民币叁仟玖佰贰拾元整, 0.05 → 人民币伍分, 100000.10 → 人民币壹拾万元零壹角整,
    1000001 → 人民币壹佰万零壹元整."""
    amount = Decimal(amount).quantize(Decimal("0.01"))
    if amount < 0:
        raise ValueError("amount must not be negative")
    cents = int(amount * 100)
    yuan, fraction = divmod(cents, 100)
    jiao, fen = divmod(fraction, 10)
    text = _integer_capitals(yuan)
    if text:
        text += "元"
    if not fraction:
        return "人民币" + (text or "零元") + "整"
    if jiao:
        if text and yuan % 10 == 0:
            text += "零"
        text += DIGITS[jiao] + "角"
    elif text:
        text += "零"
    if fen:
        text += DIGITS[fen] + "分"
    else:
        text += "整"
    return "人民币" + text


# --- The issuer (SPEC RCP-2) ------------------------------------------------------------------------------


class BuiltinReceiptIssuer:
    """The portal's own e-receipts: issuing keeps the number given by receipts.services and draws
    the PDF on demand. A fiscal e-receipt platform would implement the same two methods: `issue`
    (register the receipt with the platform, keep its number) and `document` (the PDF bytes)."""

    def issue(self, receipt) -> None:
        """Nothing to register: the PDF is drawn from the receipt's fields when downloaded."""

    def document(self, receipt) -> bytes:
        return receipt_pdf(receipt)


def receipt_issuer():
    """The configured issuer (settings.RECEIPT_ISSUER, a dotted path to a class)."""
    module, _, name = settings.RECEIPT_ISSUER.rpartition(".")
    return getattr(import_module(module), name)()


# --- Drawing ------------------------------------------------------------------------------------------------


class PdfUnavailable(Exception):
    """WeasyPrint or its system libraries are missing; the page says what to install."""


def _html_to_pdf(html: str) -> bytes:
    try:
        import weasyprint
    except (ImportError, OSError) as exc:
        raise PdfUnavailable(str(exc)) from exc
    return weasyprint.HTML(string=html, base_url=str(settings.BASE_DIR)).write_pdf()


def verification_url(receipt) -> str:
    """The public page the QR code points to (number, title, amount; no personal data)."""
    path = reverse("receipts:verify", kwargs={"token": receipt.verification})
    return settings.PORTAL_BASE_URL.rstrip("/") + path


def qr_svg(text: str) -> str:
    """An inline SVG QR code (segno), about 30 mm wide on the receipt."""
    import segno

    return segno.make(text, error="m").svg_inline(scale=3, border=2)


def receipt_pdf(receipt) -> bytes:
    """The e-receipt (SPEC RCP-2): association, number, title, amount in figures and capitals,
    remark, date, QR code of the verification page."""
    html = render_to_string(
        "receipts/pdf/receipt.html",
        {
            "receipt": receipt,
            "batch": receipt.batch,
            "association": settings.ASSOCIATION_NAME,
            "capitals": amount_in_chinese(receipt.amount),
            "issued_on": timezone.localtime(receipt.issued_at).date() if receipt.issued_at else None,
            "qr": qr_svg(verification_url(receipt)),
        },
    )
    return _html_to_pdf(html)


def certificate_pdf(*, batch, context: dict) -> bytes:
    """The coverage certificate (保障单, SPEC RCP-3) of a completed batch; `context` comes from
    receipts.selectors.certificate_context (items, headcounts, premiums, coverage, waiting periods)."""
    html = render_to_string(
        "receipts/pdf/certificate.html",
        {"batch": batch, "association": settings.ASSOCIATION_NAME, **context},
    )
    return _html_to_pdf(html)
