"""Files with personal data sealed at rest (SPEC SEC-4; mutualaid.sealed) and the jobs' private scratch
folders (mutualaid.jobs.job_scratch): the format round-trips and refuses tampering, a stored file
reads back through its storage, plain copies vanish when the job ends or by the sweep after a crash."""
import io
import os
import random

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from mutualaid import sealed
from mutualaid.jobs import JobStatus, job_run, job_scratch, jobs_sweep
from mutualaid.models import ExportJob
from mutualaid.sealed import (
    CHUNK_BYTES,
    HEADER_BYTES,
    SealedFileError,
    SealedStorage,
    open_sealed,
    plain_copy,
    plain_size,
    seal_stream,
)
from tests.factories import UserFactory

SIZES = [0, 1, CHUNK_BYTES - 1, CHUNK_BYTES, CHUNK_BYTES + 1, 3 * CHUNK_BYTES + 5]


def plain(size: int) -> bytes:
    return random.Random(size).randbytes(size)


@pytest.mark.parametrize("size", SIZES)
def test_a_sealed_file_reads_back_whole_and_holds_nothing_in_clear(tmp_path, size):
    data = plain(size)
    path = tmp_path / "f.bin"

    seal_stream([data[i : i + 1000] for i in range(0, size, 1000)], path)

    with open_sealed(path) as reader:
        assert reader.read() == data
        assert reader.raw.size == size
    assert plain_size(path.stat().st_size) == size
    raw = path.read_bytes()
    assert raw.startswith(sealed.MAGIC) and (size < 64 or data[:64] not in raw)


def test_a_sealed_file_is_seekable_like_a_plain_one(tmp_path):
    data = plain(3 * CHUNK_BYTES + 5)
    path = tmp_path / "f.bin"
    seal_stream([data], path)
    reader = open_sealed(path)
    for position in (0, CHUNK_BYTES - 3, 2 * CHUNK_BYTES, len(data) - 2, 17):
        reader.seek(position)
        assert reader.read(10) == data[position : position + 10]
    assert reader.seek(-5, io.SEEK_END) == len(data) - 5 and reader.read() == data[-5:]


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda raw: raw[:HEADER_BYTES + 10] + bytes([raw[HEADER_BYTES + 10] ^ 1]) + raw[HEADER_BYTES + 11 :], id="flipped-bit"),
        pytest.param(lambda raw: raw[: HEADER_BYTES + CHUNK_BYTES + 16], id="last-chunk-cut-off"),
        pytest.param(
            lambda raw: raw[:HEADER_BYTES]
            + raw[HEADER_BYTES + CHUNK_BYTES + 16 : HEADER_BYTES + 2 * (CHUNK_BYTES + 16)]
            + raw[HEADER_BYTES : HEADER_BYTES + CHUNK_BYTES + 16]
            + raw[HEADER_BYTES + 2 * (CHUNK_BYTES + 16) :],
            id="chunks-swapped",
        ),
        pytest.param(lambda raw: raw[:4] + bytes(16) + raw[20:], id="salt-changed"),
    ],
)
def test_a_damaged_or_cut_file_does_not_decrypt(tmp_path, damage):
    path = tmp_path / "f.bin"
    seal_stream([plain(2 * CHUNK_BYTES + 100)], path)
    path.write_bytes(damage(path.read_bytes()))

    with pytest.raises(SealedFileError):
        open_sealed(path).read()


def test_another_key_does_not_decrypt(tmp_path, settings):
    path = tmp_path / "f.bin"
    seal_stream([b"310101199001011234"], path)
    settings.PII_KEY = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWY="

    with pytest.raises(SealedFileError):
        open_sealed(path).read()


def test_a_plain_file_is_not_taken_for_a_sealed_one(tmp_path):
    path = tmp_path / "plain.csv"
    path.write_bytes(b"310101199001011234\n")
    with pytest.raises(SealedFileError):
        open_sealed(path)


def test_a_failed_write_leaves_no_file(tmp_path):
    path = tmp_path / "f.bin"

    def chunks():
        yield b"310101199001011234"
        raise OSError("disk full")

    with pytest.raises(OSError):
        seal_stream(chunks(), path)
    assert not path.exists()


def test_the_storage_seals_what_it_saves_and_opens_it_plain_again_and_again(tmp_path):
    storage = SealedStorage(location=tmp_path)
    name = storage.save("private/x/a.pdf", ContentFile(b"%PDF-1.4 310101199001011234"))

    assert b"310101199001011234" not in (tmp_path / name).read_bytes()
    assert storage.size(name) == len(b"%PDF-1.4 310101199001011234")
    stored = storage.open(name)
    assert stored.read() == b"%PDF-1.4 310101199001011234"
    stored.close()
    with stored.open("rb"):  # a closed stored file opens again, as FileSystemStorage's do
        assert stored.read(4) == b"%PDF"
    with pytest.raises(ValueError):
        storage.open(name, "wb")


def test_a_plain_copy_lives_only_inside_its_block(tmp_path):
    path = tmp_path / "upload.csv.gz"
    seal_stream([b"310101199001011234"], path)
    folder = tmp_path / "scratch"

    with pytest.raises(RuntimeError), plain_copy(path, folder) as copy:
        assert copy.read_bytes() == b"310101199001011234" and copy.name.endswith(".csv.gz")
        assert oct(folder.stat().st_mode & 0o777) == "0o700" and oct(copy.stat().st_mode & 0o777) == "0o600"
        raise RuntimeError("the reader crashed")
    assert list(folder.iterdir()) == []


# --- the jobs' scratch folders -------------------------------------------------------------------------------


@pytest.fixture
def export_job(db):
    return ExportJob.objects.create(owner=UserFactory(), kind="fake", title="测试")


@pytest.mark.django_db
def test_the_scratch_folder_goes_when_the_job_ends_however_it_ends(export_job, settings):
    seen = []

    def body(job):
        folder = job_scratch(job)
        (folder / "plain.xlsx").write_bytes(b"310101199001011234")
        seen.append(folder)
        raise RuntimeError("the body crashed")

    with pytest.raises(RuntimeError):
        job_run(ExportJob, export_job.pk, body)

    assert seen and seen[0].name == f"mutualaid.exportjob-{export_job.pk}-1"
    assert not seen[0].exists()


@pytest.mark.django_db
def test_the_sweep_removes_scratch_nobody_holds_and_keeps_a_live_attempts(export_job, settings):
    export_job.status, export_job.attempts, export_job.heartbeat_at = JobStatus.RUNNING, 2, timezone.now()
    export_job.save()
    live = job_scratch(export_job)
    (live / "plain.xlsx").write_bytes(b"x")
    root = settings.JOB_SCRATCH_DIR
    dead_attempt = root / f"mutualaid.exportjob-{export_job.pk}-1"  # the attempt before, killed
    ended_job = root / "mutualaid.exportjob-999999-1"
    stray = root / "something-else"
    for folder in (dead_attempt, ended_job, stray):
        folder.mkdir()
        (folder / "plain.csv").write_bytes(b"310101199001011234")

    assert jobs_sweep()["scratch_removed"] == 3

    assert sorted(os.listdir(root)) == [live.name] and (live / "plain.xlsx").exists()


def test_seal_media_seals_files_stored_in_clear_once(settings):
    from django.core.management import call_command

    media = settings.MEDIA_ROOT
    old = media / "private" / "attachments" / "2026" / "01" / "old.pdf"
    old.parent.mkdir(parents=True)
    old.write_bytes(b"%PDF-1.4 310101199001011234")
    already = media / "roster_imports" / "1-20260101" / "upload.xlsx"
    already.parent.mkdir(parents=True)
    seal_stream([b"PK 310101199001011234"], already)
    before = already.read_bytes()
    out = io.StringIO()

    call_command("seal_media", stdout=out)
    call_command("seal_media", stdout=out)

    assert out.getvalue().splitlines() == ["已加密 1 个文件", "已加密 0 个文件"]
    assert open_sealed(old).read() == b"%PDF-1.4 310101199001011234" and b"3101011990" not in old.read_bytes()
    assert already.read_bytes() == before
