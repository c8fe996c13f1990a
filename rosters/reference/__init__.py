"""Reference data loads (SPEC REF-1..REF-4, X-2) and the set-based look-up of the suggested roster.

`reference_load` reads one file of one kind for one coverage year and replaces that year's data:

    read (CSV, CSV.gz, XLSX) → normalise → validate every row (line, Chinese reason; never dropped
    silently) → hash and encrypt ID numbers → load

The whole city is loaded every year (millions of rows), so the pipeline streams in chunks of about
CHUNK_ROWS rows and never holds the file:

- PostgreSQL (ARCHITECTURE.md "Bulk data"): the tables are LIST-partitioned by year (migration 0002).
  Rows are COPYed (FREEZE: frozen, and all-visible for the look-up's Index Only Scan, see
  suggested_people_by_hash) into an unindexed staging table created in the same transaction, which
  is then analysed, indexed like the parent (two indexes at once, on two connections), and swapped
  in within one short transaction (DETACH the year's old partition, ATTACH the staging table, DROP
  the old one). Until then readers see the previous data; a failure anywhere before the swap drops
  the staging table and leaves that data as it was.
- Elsewhere (SQLite, the demo): one transaction deletes the year's rows and bulk-creates the new ones.

Hashing (HMAC-SHA256) and encryption (AES-GCM) of every ID dominate the cost: they use
mutualaid.pii_bulk, the keys and formats of mutualaid.pii with the per-value overhead cut down (tests
check that pii_hash finds and pii_decrypt reads what a load writes), and on PostgreSQL large files are prepared by a small pool of
processes while the main process COPYs. The main process also checks for duplicates across the
whole file, exactly (a set of 16-byte keys: about 130 bytes a row, 0.9 GB for 6,000,000 rows).

A load is audited as one event with its counts (SPEC X-2): its ReferenceLoad row, which the upload
task (rosters/tasks.py) or `reference_load_recorded` (the management command) keeps.

The package by job: `kinds` (values, rows and the four kinds), `readers` (CSV, CSV.gz, XLSX),
`pool` (preparing chunks, in worker processes for large files), `writer` (COPY, indexes and swap;
the rejected rows' report), `loader` (the service and its job), `lookup` (suggested_people_by_hash).
"""
from .kinds import SPECS, KindSpec, RowProblem, reference_spec
from .loader import FAILED_UNEXPECTEDLY, LoadResult, reference_load, reference_load_job, reference_load_recorded
from .lookup import SuggestedPersonRow, suggested_people_by_hash
from .readers import header_name

__all__ = [
    "FAILED_UNEXPECTEDLY",
    "SPECS",
    "KindSpec",
    "LoadResult",
    "RowProblem",
    "SuggestedPersonRow",
    "header_name",
    "reference_load",
    "reference_load_job",
    "reference_load_recorded",
    "reference_spec",
    "suggested_people_by_hash",
]
