"""What sealing files at rest costs (SPEC SEC-4, mutualaid.sealed): a reference-sized file is sealed as
the upload page stores it, copied back plain as a reference load does before reading, and read through
the seekable reader as the downloads do. Needs no database. `python bench/sealed_files.py [MB]`
(default 1024 MB, the largest reference upload). Prints a table, then the figures as JSON."""
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mutualaid.settings")

import django  # noqa: E402

django.setup()

from mutualaid.sealed import COPY_CHUNK_BYTES, open_sealed, plain_copy, seal_stream  # noqa: E402


def main() -> None:
    megabytes = int(sys.argv[1]) if len(sys.argv) > 1 else 1024
    block = os.urandom(COPY_CHUNK_BYTES)
    with tempfile.TemporaryDirectory(prefix="bench-sealed-") as folder:
        sealed = Path(folder) / "upload.csv"
        started = time.perf_counter()
        seal_stream((block for _ in range(megabytes)), sealed)
        seal_s = time.perf_counter() - started

        started = time.perf_counter()
        with plain_copy(sealed, Path(folder) / "scratch") as copy:
            copy_s = time.perf_counter() - started
            assert copy.stat().st_size == megabytes * COPY_CHUNK_BYTES

        started = time.perf_counter()
        with open_sealed(sealed) as reader:
            while reader.read(COPY_CHUNK_BYTES):
                pass
        read_s = time.perf_counter() - started
        overhead = sealed.stat().st_size / (megabytes * COPY_CHUNK_BYTES) - 1

    figures = {
        "megabytes": megabytes,
        "seal_s": round(seal_s, 2),
        "plain_copy_s": round(copy_s, 2),
        "stream_read_s": round(read_s, 2),
        "seal_mb_per_s": round(megabytes / seal_s),
        "stream_read_mb_per_s": round(megabytes / read_s),
        "size_overhead_pct": round(overhead * 100, 3),
    }
    print(f"{'file':<28}{megabytes:>10} MB")
    print(f"{'seal (upload stored)':<28}{seal_s:>10.2f} s  {figures['seal_mb_per_s']} MB/s")
    print(f"{'plain copy (load reads)':<28}{copy_s:>10.2f} s")
    print(f"{'stream read (download)':<28}{read_s:>10.2f} s  {figures['stream_read_mb_per_s']} MB/s")
    print(f"{'size overhead':<28}{overhead * 100:>10.3f} %")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
