"""Benchmark of the PDFs (SPEC RCP-2, RCP-3): the e-receipt and the 保障单 of a
5,000-person batch.

    python bench/pdf.py [--people N] [--year YYYY] [--runs N]

Sets Django up itself against DATABASE_URL (default postgres://postgres@127.0.0.1:5432/mutualaid_bench_pdf,
created if missing, then migrated), and then (untimed):

1. builds a batch 参保已完成 of N people (default 5,000; 4 in 5 with 社保), its roster written in one
   set-based insert, the premium confirmed by plans.services.premium_confirm (A0 B0 C0 A2 B1 C3), the
   payment states passed through enrollment.services.batch_transition (as voucher_submit and
   voucher_approve move them);
2. adds two 专用收据 lines that add up to the premium, submits them and issues them
   (receipts.services.receipts_approve).

Then, in this warm process (each PDF drawn once first: fonts, templates and WeasyPrint's imports are
loaded the first time a worker draws one), times what the download pages do, median of --runs:
- the e-receipt: the configured issuer's document (receipts.pdf.receipt_pdf for the built-in one);
- the 保障单: receipts.selectors.certificate_context + receipts.pdf.certificate_pdf;
and the same two through the unit's pages (Django test client), with their query counts.

Prints a table, and as the last line one JSON object with the keys receipt_pdf_s and
certificate_pdf_s (and receipt_view_s, certificate_view_s, the byte sizes and query counts). Goals:
a receipt under 0.3 s, a certificate under 1 s, in a warm process.
"""
import argparse
import json
import logging
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from _common import counting, setup_django  # noqa: E402 - bench/ is on the path

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/mutualaid_bench_pdf"
CODE = "0BP500"
UNIT_NAME = "上海基准保障单集团有限公司"
CODES = ["A0", "B0", "C0", "A2", "B1", "C3"]
RUNS = 5
RECEIPT_GOAL_S, CERTIFICATE_GOAL_S = 0.3, 1.0


def _account():
    from accounts.models import User

    account, created = User.objects.get_or_create(
        username="bench-pdf", defaults={"role": "unit_admin", "email": "bench-pdf@example.com"}
    )
    if created:
        account.set_password("Bench#2026pdf")
        account.save(update_fields=["password"])
    return account


def _code(*, account):
    from django.utils import timezone

    from enrollment.models import EnrollmentCode, HandlerInfo, Unit

    existing = EnrollmentCode.objects.filter(code=CODE).first()
    if existing is not None:
        return existing
    code = EnrollmentCode.objects.create(code=CODE, unit_name=UNIT_NAME, account=account, bound_at=timezone.now(), source="approved")
    Unit.objects.create(code=code, name=UNIT_NAME, headcount=6000, is_lead=True)
    HandlerInfo.objects.create(
        code=code, handler_name="基准", handler_mobile="13900000000", handler_email="bench-pdf@example.com",
        economic_type="私营", address="上海市", industry="I", headcount=6000, saved_by=account,
    )
    return code


def _completed_batch(*, year, account, people: int):
    """A fresh batch 参保已完成 of `people` (an earlier run's batch, its receipts and registry rows go)."""
    from django.db import transaction

    from enrollment.models import Batch, BatchKind
    from enrollment.services import batch_locked, batch_number_next, batch_transition
    from enrollment.states import BatchState
    from mutualaid.pii import pii_encrypt, pii_hash
    from mutualaid.validators import resident_id_birth_and_sex
    from plans.models import BatchPremium, PlanSelection
    from plans.services import premium_confirm
    from receipts.models import Receipt
    from rosters.models import EnrolmentRegistry, IdType, RosterEntry, WorkStatus
    from rosters.synthetic import resident_ids

    code = _code(account=account)
    with transaction.atomic():
        earlier = Batch.objects.filter(code=code, coverage_year=year)
        Receipt.objects.filter(batch__in=earlier, replaces__isnull=False).delete()
        Receipt.objects.filter(batch__in=earlier).delete()
        EnrolmentRegistry.objects.filter(batch__in=earlier).delete()
        BatchPremium.objects.filter(batch__in=earlier).delete()
        PlanSelection.objects.filter(batch__in=earlier).delete()
        earlier.delete()
        batch = Batch.objects.create(
            number=batch_number_next(year=year.year, kind=BatchKind.CENTRALISED), coverage_year=year, code=code,
            unit_name=UNIT_NAME, account=account, kind=BatchKind.CENTRALISED, state=BatchState.ROSTER_APPROVED,
            coverage_start=year.coverage_start, coverage_end=year.coverage_end,
        )
    entries = []
    for index, number in enumerate(resident_ids(people, seed=9, year=year.year)):
        birth_date, sex = resident_id_birth_and_sex(number)
        entries.append(
            RosterEntry(
                batch=batch, id_type=IdType.RESIDENT, id_hash=pii_hash(number), id_cipher=pii_encrypt(number),
                name=f"职工{index:05d}", imported_name=f"职工{index:05d}", birth_date=birth_date, sex=sex,
                work_status=WorkStatus.ACTIVE, has_social_security=index % 5 != 0,
                coverage_start=year.coverage_start, coverage_end=year.coverage_end,
            )
        )
    RosterEntry.objects.bulk_create(entries, batch_size=2000)
    premium = premium_confirm(batch=batch, codes=CODES, acting_user=account)
    # The voucher's way to 参保已完成 (payments.services.voucher_submit / voucher_approve move the
    # batch with the same service); the voucher itself is not what is measured here.
    with transaction.atomic():
        batch = batch_locked(batch)
        batch_transition(batch=batch, to=BatchState.PAYMENT_REVIEW, acting_user=account, action="上传缴费凭证")
        batch_transition(batch=batch, to=BatchState.COMPLETED, acting_user=account, action="缴费凭证审核通过")
    return Batch.objects.select_related("coverage_year", "code").get(pk=batch.pk), premium


def _issued_receipts(batch, premium, *, account):
    from decimal import Decimal

    from receipts.services import receipt_add, receipts_approve, receipts_submit

    first = (premium.total * Decimal("0.6")).quantize(Decimal("0.01"))
    receipt_add(batch=batch, title=UNIT_NAME, amount=first, remark="2023年度在职职工互助保障费", acting_user=account)
    receipt_add(batch=batch, title="上海基准保障单集团有限公司工会委员会", amount=premium.total - first, acting_user=account)
    receipts_submit(batch=batch, acting_user=account)
    return receipts_approve(batch=batch, acting_user=account)


def _timed(function, *, runs: int) -> tuple[float, list[float], float, int, object]:
    """Run once (warm), then `runs` times: (median seconds, all seconds, median CPU seconds of this
    process, queries of the last run, result). The CPU time tells a busy machine from a slow PDF."""
    result = function()
    seconds, cpu = [], []
    for _ in range(runs):
        with counting() as counter:
            started, cpu_started = time.perf_counter(), time.process_time()
            result = function()
            seconds.append(time.perf_counter() - started)
            cpu.append(time.process_time() - cpu_started)
    return statistics.median(seconds), seconds, statistics.median(cpu), counter.count, result


def _pages(path: Path, data: bytes) -> int:
    """The page count (pdfinfo of poppler-utils), or 0 without it."""
    import subprocess

    if shutil.which("pdfinfo") is None:
        return 0
    path.write_bytes(data)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=False).stdout
    return next((int(line.split()[-1]) for line in info.splitlines() if line.startswith("Pages:")), 0)


def _fonts(path: Path) -> str:
    """The embedded fonts (pdffonts): subset names carry a six-letter prefix (ABCDEF+NotoSansCJK…)."""
    import subprocess

    if shutil.which("pdffonts") is None:
        return "?"
    lines = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=False).stdout.splitlines()[2:]
    return ", ".join(sorted({f"{line.split()[0]} ({'emb' if ' yes ' in line else 'not emb'})" for line in lines})) or "none"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=5000, help="people in the batch (default 5,000)")
    parser.add_argument("--year", type=int, default=2023, help="coverage year (default the handbook's 2023)")
    parser.add_argument("--runs", type=int, default=RUNS, help="timed runs after the warm-up (default 5)")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="pdf-bench-"))
    try:
        setup_django(media_root=folder / "media", default_database_url=DEFAULT_DATABASE_URL, eager=True)
        # WeasyPrint logs eight INFO lines per document ("Step 1 - Fetching and parsing HTML"…): not
        # what is measured, and they would bury the table.
        logging.getLogger("weasyprint").setLevel(logging.WARNING)
        from django.db import connection
        from django.test import Client
        from django.urls import reverse

        from enrollment.models import CoverageYear
        from receipts.pdf import certificate_pdf, receipt_issuer
        from receipts.selectors import certificate_context

        year = CoverageYear.objects.get(year=args.year)
        account = _account()
        started = time.perf_counter()
        batch, premium = _completed_batch(year=year, account=account, people=args.people)
        receipts = _issued_receipts(batch, premium, account=account)
        print(f"built batch {batch.number} ({premium.people:,} people, 保费 {premium.total:,} 元, {len(receipts)} receipts issued) in {time.perf_counter() - started:.1f} s")
        receipt = receipts[0]

        receipt_s, receipt_runs, receipt_cpu, receipt_queries, receipt_bytes = _timed(
            lambda: receipt_issuer().document(receipt), runs=args.runs
        )
        certificate_s, certificate_runs, certificate_cpu, certificate_queries, certificate_bytes = _timed(
            lambda: certificate_pdf(batch=batch, context=certificate_context(batch=batch)), runs=args.runs
        )
        # The same through the unit's pages: access checks, the reads, the response.
        client = Client()
        client.force_login(account)
        receipt_url = reverse("receipts:receipt_pdf", args=[receipt.pk])
        certificate_url = reverse("receipts:certificate_pdf", kwargs={"number": batch.number})

        def get(url):
            response = client.get(url)
            assert response.status_code == 200 and response["Content-Type"] == "application/pdf", response.status_code
            return response

        receipt_view_s, _, receipt_view_cpu, receipt_view_queries, _ = _timed(lambda: get(receipt_url), runs=args.runs)
        certificate_view_s, _, certificate_view_cpu, certificate_view_queries, _ = _timed(
            lambda: get(certificate_url), runs=args.runs
        )

        receipt_pages = _pages(folder / "receipt.pdf", receipt_bytes)
        certificate_pages = _pages(folder / "certificate.pdf", certificate_bytes)
        receipt_fonts = _fonts(folder / "receipt.pdf")
        database = f"{connection.vendor} ({connection.settings_dict['NAME']})"
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    def runs_text(values):
        return ", ".join(f"{value:.3f}" for value in values)

    print()
    print(f"{'database':<28}{database}")
    print(f"{'batch':<28}{batch.number}: {premium.people:,} people ({premium.social_security_people:,} with 社保), items {' '.join(CODES)}")
    print(f"{'':<28}{'seconds':>9}  {'CPU s':>7}  {'queries':>7}  {'bytes':>9}  {'pages':>5}  goal")
    print(f"{'e-receipt (issuer)':<28}{receipt_s:>9.3f}  {receipt_cpu:>7.3f}  {receipt_queries:>7}  {len(receipt_bytes):>9,}  {receipt_pages:>5}  < {RECEIPT_GOAL_S} s  {'met' if receipt_s < RECEIPT_GOAL_S else 'MISSED'}")
    print(f"{'保障单 (context + PDF)':<25}{certificate_s:>9.3f}  {certificate_cpu:>7.3f}  {certificate_queries:>7}  {len(certificate_bytes):>9,}  {certificate_pages:>5}  < {CERTIFICATE_GOAL_S} s  {'met' if certificate_s < CERTIFICATE_GOAL_S else 'MISSED'}")
    print(f"{'e-receipt page (GET)':<28}{receipt_view_s:>9.3f}  {receipt_view_cpu:>7.3f}  {receipt_view_queries:>7}")
    print(f"{'保障单 page (GET)':<26}{certificate_view_s:>9.3f}  {certificate_view_cpu:>7.3f}  {certificate_view_queries:>7}")
    if os.getloadavg()[0] > (os.cpu_count() or 1):
        print(f"{'note':<28}load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs: wall times include waiting for a CPU")
    print(f"{'runs (e-receipt)':<28}{runs_text(receipt_runs)}")
    print(f"{'runs (保障单)':<26}{runs_text(certificate_runs)}")
    print(f"{'fonts in the e-receipt':<28}{receipt_fonts}")
    print(
        json.dumps(
            {
                "receipt_pdf_s": round(receipt_s, 3),
                "certificate_pdf_s": round(certificate_s, 3),
                "receipt_view_s": round(receipt_view_s, 3),
                "certificate_view_s": round(certificate_view_s, 3),
                "receipt_pdf_cpu_s": round(receipt_cpu, 3),
                "certificate_pdf_cpu_s": round(certificate_cpu, 3),
                "receipt_pdf_bytes": len(receipt_bytes),
                "certificate_pdf_bytes": len(certificate_bytes),
                "receipt_view_queries": receipt_view_queries,
                "certificate_view_queries": certificate_view_queries,
                "people": premium.people,
            }
        )
    )


if __name__ == "__main__":
    main()
