"""Files with personal data, encrypted at rest (SPEC SEC-4).

Roster and reference uploads, attachments and export files are written "sealed": chunked
authenticated encryption with the PII key, streamed, so a 1 GB reference file never sits whole in
memory. The construction is the STREAM one of Tink's AES-GCM-HKDF streaming AEAD:

    header  = "MAS" | PII key id (1) | salt (16) | nonce prefix (7)
    chunk i = AES-GCM(file key, nonce prefix | i (4 bytes) | last (1 byte), 64 KiB of plain text)

The file key is HKDF-SHA256(PII key, salt): every file has its own key, so nonces never repeat
across files. The header's fourth byte is the id of that PII key (SPEC SEC-10): files sealed before
keys rotated start "MAS\x01", key id 1, which is PII_KEY; key ids stay below 0x20, so a text file
never looks sealed. `manage.py rotate_pii_key` re-seals the files of older keys (`reseal`). The last chunk carries its own flag (a file cut after a whole chunk does not decrypt),
and every chunk its index (chunks cannot be swapped).

- `SealedWriter` / `seal_to(path)`: write plain bytes, sealed on disk.
- `open_sealed(path)`: a seekable binary reader of the plain bytes (zip readers seek).
- `SealedStorage`: a FileSystemStorage that seals what it saves (FileField(storage=sealed_storage)).
- `plain_copy(path, folder)`: the plain file for a reader that wants a path, in a job's private
  scratch folder (mutualaid.jobs.job_scratch), removed when the block ends.
"""
import base64
import io
import os
import shutil
import struct
from contextlib import contextmanager
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.files import File
from django.core.files.storage import FileSystemStorage
from django.utils.deconstruct import deconstructible

from .pii import MAX_KEY_ID, PiiError, pii_key, pii_key_id

MAGIC_PREFIX = b"MAS"
MAGIC = MAGIC_PREFIX + b"\x01"  # the header of a file sealed with key id 1
CHUNK_BYTES = 64 * 1024
_SALT_BYTES = 16
_PREFIX_BYTES = 7
_TAG_BYTES = 16
HEADER_BYTES = len(MAGIC) + _SALT_BYTES + _PREFIX_BYTES
_SEALED_CHUNK = CHUNK_BYTES + _TAG_BYTES
COPY_CHUNK_BYTES = 1024 * 1024


class SealedFileError(OSError):
    """A sealed file that does not decrypt: another key, a damaged or truncated file."""


def _file_aead(salt: bytes, key_id: int) -> AESGCM:
    try:
        key_text = pii_key(key_id)
    except PiiError:
        raise SealedFileError(f"密封文件无法解密：密钥 {key_id} 未配置") from None
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=b"mutualaid sealed file").derive(base64.b64decode(key_text))
    return AESGCM(key)


def magic(key_id: int) -> bytes:
    """The first 4 bytes of a file sealed with the PII key `key_id`."""
    if not 1 <= key_id <= MAX_KEY_ID:
        raise ValueError(f"PII key ids go from 1 to {MAX_KEY_ID}")
    return MAGIC_PREFIX + bytes([key_id])


def sealed_key_id(path: str | Path) -> int | None:
    """The PII key id of the sealed file `path`, None for a plain file."""
    with open(path, "rb") as stream:
        head = stream.read(len(MAGIC))
    if len(head) == len(MAGIC) and head.startswith(MAGIC_PREFIX) and 1 <= head[-1] <= MAX_KEY_ID:
        return head[-1]
    return None


def _nonce(prefix: bytes, index: int, last: bool) -> bytes:
    return prefix + struct.pack(">IB", index, 1 if last else 0)


def is_sealed(path: str | Path) -> bool:
    return sealed_key_id(path) is not None


def plain_size(sealed_size: int) -> int:
    """The plain length of a sealed file of `sealed_size` bytes (every file has at least one chunk)."""
    body = sealed_size - HEADER_BYTES
    if body < _TAG_BYTES:
        raise SealedFileError("密封文件已损坏（长度不足）")
    chunks = -(-body // _SEALED_CHUNK)
    return body - chunks * _TAG_BYTES


class SealedWriter(io.RawIOBase):
    """Write plain bytes; the file at `path` receives them sealed. Created with O_EXCL (never
    overwrites) and the upload permissions; close() writes the last chunk. A writer that fails
    before close is left for the caller to remove."""

    def __init__(self, path: str | Path):
        super().__init__()
        self.path = Path(path)
        salt, self._prefix = os.urandom(_SALT_BYTES), os.urandom(_PREFIX_BYTES)
        key_id = pii_key_id()
        self._aead = _file_aead(salt, key_id)
        self._index = 0
        self._pending = bytearray()
        mode = settings.FILE_UPLOAD_PERMISSIONS or 0o640
        self._file = os.fdopen(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode), "wb")
        self._file.write(magic(key_id) + salt + self._prefix)

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self._pending += data
        # Keep at least one byte back: the last chunk is only known at close.
        if len(self._pending) > CHUNK_BYTES:
            view, start = memoryview(self._pending), 0
            while len(self._pending) - start > CHUNK_BYTES:
                self._emit(view[start : start + CHUNK_BYTES], last=False)
                start += CHUNK_BYTES
            view.release()
            del self._pending[:start]
        return len(data)

    def _emit(self, plain: bytes, *, last: bool) -> None:
        self._file.write(self._aead.encrypt(_nonce(self._prefix, self._index, last), plain, None))
        self._index += 1

    def close(self) -> None:
        if not self.closed:
            try:
                self._emit(bytes(self._pending), last=True)
                self._pending.clear()
            finally:
                self._file.close()
        super().close()


class SealedReader(io.RawIOBase):
    """The plain bytes of a sealed file, decrypted one chunk at a time; seekable."""

    def __init__(self, path: str | Path):
        super().__init__()
        self._file = open(path, "rb")  # noqa: SIM115 - closed by close()
        try:
            header = self._file.read(HEADER_BYTES)
            if len(header) != HEADER_BYTES or not header.startswith(MAGIC_PREFIX) or not 1 <= header[3] <= MAX_KEY_ID:
                raise SealedFileError("不是密封文件")
            salt, self._prefix = header[len(MAGIC) : len(MAGIC) + _SALT_BYTES], header[-_PREFIX_BYTES:]
            self.key_id = header[3]
            self._aead = _file_aead(salt, self.key_id)
            sealed_size = os.fstat(self._file.fileno()).st_size
            self.size = plain_size(sealed_size)
            self._chunks = -(-(sealed_size - HEADER_BYTES) // _SEALED_CHUNK)
        except BaseException:
            self._file.close()
            raise
        self._position = 0
        self._chunk_index = -1
        self._chunk = b""

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self.size}[whence]
        if base + offset < 0:
            raise ValueError("negative seek position")
        self._position = base + offset
        return self._position

    def _load(self, index: int) -> bytes:
        if index != self._chunk_index:
            self._file.seek(HEADER_BYTES + index * _SEALED_CHUNK)
            sealed = self._file.read(_SEALED_CHUNK)
            last = index == self._chunks - 1
            try:
                self._chunk = self._aead.decrypt(_nonce(self._prefix, index, last), sealed, None)
            except InvalidTag:
                raise SealedFileError("密封文件无法解密：密钥不符或文件已损坏") from None
            self._chunk_index = index
        return self._chunk

    def readinto(self, buffer) -> int:
        if self._position >= self.size:
            return 0
        index, offset = divmod(self._position, CHUNK_BYTES)
        chunk = self._load(index)
        count = min(len(buffer), len(chunk) - offset)
        memoryview(buffer)[:count] = memoryview(chunk)[offset : offset + count]
        self._position += count
        return count

    def close(self) -> None:
        if not self.closed:
            self._file.close()
        super().close()


def open_sealed(path: str | Path) -> io.BufferedReader:
    """A buffered, seekable reader of the plain bytes; `.raw.size` is the plain length."""
    return io.BufferedReader(SealedReader(path), buffer_size=CHUNK_BYTES)


def seal_stream(chunks, path: str | Path) -> None:
    """Write the byte `chunks` (an iterable) sealed to the new file `path`; nothing is left on failure."""
    path = Path(path)
    try:
        with SealedWriter(path) as writer:
            for chunk in chunks:
                writer.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def seal_file(source: str | Path, path: str | Path) -> None:
    """Seal the plain file `source` into the new file `path`."""
    with open(source, "rb") as plain:
        seal_stream(iter(lambda: plain.read(COPY_CHUNK_BYTES), b""), path)


def reseal(path: str | Path) -> bool:
    """SPEC SEC-10: re-seal the sealed file `path` with the current PII key, unless it is sealed with
    it already (then False). Written beside it and moved over it (os.replace), so a crash leaves
    either file whole, and a reader that opened the old one reads it to the end."""
    path = Path(path)
    if sealed_key_id(path) in (None, pii_key_id()):
        return False
    partial = path.with_name(path.name + ".resealing")
    partial.unlink(missing_ok=True)
    with open_sealed(path) as source:
        before = os.fstat(source.raw._file.fileno())
        seal_stream(iter(lambda: source.read(COPY_CHUNK_BYTES), b""), partial)
    try:
        shutil.copymode(path, partial)
        now = os.stat(path)
    except FileNotFoundError:
        now = None
    if now is None or (now.st_ino, now.st_dev) != (before.st_ino, before.st_dev):
        # Removed (a purge) or replaced meanwhile: a purged file must not come back.
        partial.unlink(missing_ok=True)
        return False
    os.replace(partial, path)
    return True


@contextmanager
def plain_copy(path: str | Path, folder: str | Path):
    """The plain bytes of the sealed file `path` as a file in `folder` (a job's private scratch
    folder), for a reader that wants a path; removed when the block ends. Yields its path."""
    folder = Path(folder)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    target = folder / f"plain-{os.urandom(8).hex()}{''.join(Path(path).suffixes)}"
    try:
        with open_sealed(path) as source, open(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as copy:
            shutil.copyfileobj(source, copy, COPY_CHUNK_BYTES)
        yield target
    finally:
        target.unlink(missing_ok=True)


class SealedFile(File):
    """A stored sealed file; like a FileSystemStorage file it can be opened again after close()."""

    def __init__(self, path: str, name: str):
        self._path = path
        super().__init__(open_sealed(path), name=name)

    def open(self, mode=None, *args, **kwargs):
        if self.closed:
            self.file = open_sealed(self._path)
        else:
            self.seek(0)
        return self


@deconstructible(path="mutualaid.sealed.SealedStorage")
class SealedStorage(FileSystemStorage):
    """MEDIA_ROOT storage whose files are sealed on disk; open() gives the plain bytes."""

    def _save(self, name, content):
        path = Path(self.path(name))
        path.parent.mkdir(parents=True, exist_ok=True, mode=self.directory_permissions_mode or 0o750)
        if hasattr(content, "seek"):
            content.seek(0)
        seal_stream(content.chunks(COPY_CHUNK_BYTES), path)
        return str(name).replace("\\", "/")

    def _open(self, name, mode="rb"):
        if "w" in mode or "+" in mode or "a" in mode:
            raise ValueError("sealed files are written through save()")
        return SealedFile(self.path(name), name)

    def size(self, name):
        return plain_size(os.path.getsize(self.path(name)))


sealed_storage = SealedStorage()
