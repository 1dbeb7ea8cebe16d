"""The export bundle's file format: ZIP members compressed once, assembled without recompressing.

Every table of every system is exported by its own step, and a worker may die
between two steps. So a step writes its CSV and JSON Lines as *parts*: raw
DEFLATE streams with their CRC-32, sizes and SHA-256, saved in private storage.
Assembly then writes the ZIP headers around the parts and copies their bytes
as they are: a restarted build never compresses a table twice, and memory holds
one chunk at a time whatever the subject's data.

Nothing here knows about requests or models; ``fulfilment.services.exports``
drives it.
"""

from __future__ import annotations

import hashlib
import io
import os
import queue
import struct
import tempfile
import threading
import zlib
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import BinaryIO

CHUNK_SIZE = 1 << 20
# Writes smaller than this are gathered before they are hashed and compressed:
# a COPY hands over one row at a time, and per-row hashing would cost more than the row.
GATHER_SIZE = 256 * 1024
ZIP64_LIMIT = (1 << 32) - 1
_MAX_ENTRIES = 0xFFFF

_LOCAL_HEADER = struct.Struct("<IHHHHHIIIHH")
_CENTRAL_HEADER = struct.Struct("<IHHHHHHIIIHHHHHII")
_END_RECORD = struct.Struct("<IHHHHIIH")
_ZIP64_END_RECORD = struct.Struct("<IQHHIIQQQQ")
_ZIP64_LOCATOR = struct.Struct("<IIQI")
_FLAG_UTF8 = 0x800
_DEFLATED = 8
_VERSION_DEFAULT = 20
_VERSION_ZIP64 = 45
_MADE_BY_UNIX = 3 << 8


@dataclass(frozen=True)
class PartInfo:
    """What assembly and the manifest need to know about one compressed member."""

    crc32: int
    size: int
    compressed_size: int
    sha256: str

    def as_dict(self) -> dict[str, int | str]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> PartInfo:
        return cls(
            crc32=int(data["crc32"]),
            size=int(data["size"]),
            compressed_size=int(data["compressed_size"]),
            sha256=str(data["sha256"]),
        )


class PartWriter(io.RawIOBase):
    """A binary stream that deflates what is written into a local temporary file.

    Hashing and compressing run on a helper thread (zlib and hashlib release the
    GIL), so a connector reading rows from the database and this writer work at
    the same time on two cores. The queue between them is bounded: memory stays
    at a few chunks however much is written. ``finish()`` returns the part's
    ``PartInfo``; ``path`` is the temporary file, which the caller moves into
    storage and deletes.
    """

    def __init__(self, *, level: int = 1, directory: str | None = None, count_lines: bool = False) -> None:
        super().__init__()
        self._count_lines = count_lines
        self.lines = 0
        handle, self.path = tempfile.mkstemp(prefix="bundle-part-", suffix=".deflate", dir=directory)
        self._file = os.fdopen(handle, "wb")
        self._compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
        self._sha256 = hashlib.sha256()
        self._crc32 = 0
        self._size = 0
        self._compressed_size = 0
        self._pending = bytearray()
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=4)
        self._error: BaseException | None = None
        self._info: PartInfo | None = None
        self._thread = threading.Thread(target=self._drain, name="bundle-part-writer", daemon=True)
        self._thread.start()

    # io.RawIOBase ---------------------------------------------------------------
    def writable(self) -> bool:
        return True

    def write(self, data) -> int:  # type: ignore[override]
        if self._info is not None:
            raise ValueError("write to a finished part")
        self._pending += data
        if len(self._pending) >= GATHER_SIZE:
            self._hand_over()
        return len(data)

    def close(self) -> None:
        if not self.closed and self._info is None:
            self.finish()
        super().close()

    # -----------------------------------------------------------------------------
    def _hand_over(self) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put(bytes(self._pending))
        self._pending.clear()

    def _drain(self) -> None:
        chunk: bytes | None = b""
        try:
            while True:
                chunk = self._queue.get()
                if chunk is None:
                    tail = self._compressor.flush()
                    self._file.write(tail)
                    self._compressed_size += len(tail)
                    return
                self._sha256.update(chunk)
                if self._count_lines:
                    self.lines += chunk.count(b"\n")
                self._crc32 = zlib.crc32(chunk, self._crc32)
                self._size += len(chunk)
                compressed = self._compressor.compress(chunk)
                if compressed:
                    self._file.write(compressed)
                    self._compressed_size += len(compressed)
        except BaseException as exc:  # surfaced to the writing thread in finish()
            self._error = exc
            # Keep taking chunks until the end marker so the writer never blocks on a full queue.
            while chunk is not None:
                chunk = self._queue.get()

    def finish(self) -> PartInfo:
        """Flush, wait for the helper thread and return the part's sizes and digests."""
        if self._info is not None:
            return self._info
        if self._pending:
            self._hand_over()
        self._queue.put(None)
        self._thread.join()
        self._file.close()
        if self._error is not None:
            raise self._error
        self._info = PartInfo(
            crc32=self._crc32,
            size=self._size,
            compressed_size=self._compressed_size,
            sha256=self._sha256.hexdigest(),
        )
        return self._info

    def discard(self) -> None:
        """Stop and remove the temporary file (after a failure)."""
        try:
            if self._info is None:
                self._pending.clear()
                self._queue.put(None)
                self._thread.join()
                self._file.close()
        finally:
            if os.path.exists(self.path):
                os.unlink(self.path)


def compress_bytes(data: bytes, *, level: int = 6) -> tuple[PartInfo, bytes]:
    """A small generated member (index.html, manifest.json) compressed in memory."""
    compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
    body = compressor.compress(data) + compressor.flush()
    info = PartInfo(
        crc32=zlib.crc32(data),
        size=len(data),
        compressed_size=len(body),
        sha256=hashlib.sha256(data).hexdigest(),
    )
    return info, body


def _dos_time(moment: datetime) -> tuple[int, int]:
    year = max(moment.year, 1980)
    dos_date = ((year - 1980) << 9) | (moment.month << 5) | moment.day
    dos_time = (moment.hour << 11) | (moment.minute << 5) | (moment.second // 2)
    return dos_time, dos_date


@dataclass
class _Entry:
    name: bytes
    info: PartInfo
    offset: int
    dos_time: int
    dos_date: int


class ZipAssembler:
    """Writes a ZIP file (with ZIP64 records where sizes need them) from pre-compressed parts.

    ``zip64_limit`` exists so tests can exercise the ZIP64 records with small files.
    """

    def __init__(self, out: BinaryIO, *, moment: datetime, zip64_limit: int = ZIP64_LIMIT) -> None:
        self._out = out
        self._offset = 0
        self._entries: list[_Entry] = []
        self._names: set[bytes] = set()
        self._dos_time, self._dos_date = _dos_time(moment)
        self._limit = zip64_limit

    def _write(self, data: bytes) -> None:
        self._out.write(data)
        self._offset += len(data)

    def _local_header(self, name: bytes, info: PartInfo) -> None:
        if name in self._names:
            raise ValueError("duplicate member name in bundle")
        self._names.add(name)
        zip64 = info.size >= self._limit or info.compressed_size >= self._limit
        extra = struct.pack("<HHQQ", 1, 16, info.size, info.compressed_size) if zip64 else b""
        self._entries.append(_Entry(name, info, self._offset, self._dos_time, self._dos_date))
        self._write(
            _LOCAL_HEADER.pack(
                0x04034B50,
                _VERSION_ZIP64 if zip64 else _VERSION_DEFAULT,
                _FLAG_UTF8,
                _DEFLATED,
                self._dos_time,
                self._dos_date,
                info.crc32,
                0xFFFFFFFF if zip64 else info.compressed_size,
                0xFFFFFFFF if zip64 else info.size,
                len(name),
                len(extra),
            )
            + name
            + extra
        )

    def add_part(self, arcname: str, info: PartInfo, source: BinaryIO) -> None:
        """Copy a part's compressed bytes under ``arcname``, checking its length on the way."""
        self._local_header(arcname.encode("utf-8"), info)
        copied = 0
        while chunk := source.read(CHUNK_SIZE):
            self._write(chunk)
            copied += len(chunk)
        if copied != info.compressed_size:
            raise ValueError(f"part for {arcname} is {copied} bytes, expected {info.compressed_size}")

    def add_bytes(self, arcname: str, data: bytes) -> PartInfo:
        info, body = compress_bytes(data)
        self._local_header(arcname.encode("utf-8"), info)
        self._write(body)
        return info

    def close(self) -> int:
        """Write the central directory; returns the ZIP's total size."""
        start = self._offset
        for entry in self._entries:
            fields = []
            size = entry.info.size
            compressed = entry.info.compressed_size
            offset = entry.offset
            if size >= self._limit:
                fields.append(size)
                size = 0xFFFFFFFF
            if compressed >= self._limit:
                fields.append(compressed)
                compressed = 0xFFFFFFFF
            if offset >= self._limit:
                fields.append(offset)
                offset = 0xFFFFFFFF
            extra = struct.pack(f"<HH{len(fields)}Q", 1, 8 * len(fields), *fields) if fields else b""
            self._write(
                _CENTRAL_HEADER.pack(
                    0x02014B50,
                    _MADE_BY_UNIX | (_VERSION_ZIP64 if fields else _VERSION_DEFAULT),
                    _VERSION_ZIP64 if fields else _VERSION_DEFAULT,
                    _FLAG_UTF8,
                    _DEFLATED,
                    entry.dos_time,
                    entry.dos_date,
                    entry.info.crc32,
                    compressed,
                    size,
                    len(entry.name),
                    len(extra),
                    0,
                    0,
                    0,
                    0o100644 << 16,
                    offset,
                )
                + entry.name
                + extra
            )
        directory_size = self._offset - start
        count = len(self._entries)
        if count >= _MAX_ENTRIES or directory_size >= self._limit or start >= self._limit:
            zip64_end = self._offset
            self._write(
                _ZIP64_END_RECORD.pack(
                    0x06064B50,
                    44,
                    _MADE_BY_UNIX | _VERSION_ZIP64,
                    _VERSION_ZIP64,
                    0,
                    0,
                    count,
                    count,
                    directory_size,
                    start,
                )
            )
            self._write(_ZIP64_LOCATOR.pack(0x07064B50, 0, zip64_end, 1))
        self._write(
            _END_RECORD.pack(
                0x06054B50,
                0,
                0,
                min(count, _MAX_ENTRIES),
                min(count, _MAX_ENTRIES),
                min(directory_size, 0xFFFFFFFF),
                min(start, 0xFFFFFFFF),
                0,
            )
        )
        return self._offset


def read_first_lines(source: BinaryIO, *, max_lines: int, max_bytes: int = 256 * 1024) -> list[bytes]:
    """The first complete lines of a raw DEFLATE part, decompressing at most ``max_bytes``.

    The bundle's index.html shows a short preview of each table from its JSON
    Lines part without reading the whole part.
    """
    decompressor = zlib.decompressobj(-15)
    buffer = b""
    lines: list[bytes] = []
    produced = 0
    ended = False
    while len(lines) < max_lines and produced < max_bytes:
        if decompressor.unconsumed_tail:
            data = decompressor.decompress(decompressor.unconsumed_tail, 64 * 1024)
        else:
            chunk = source.read(16 * 1024)
            if not chunk:
                buffer += decompressor.flush()
                ended = True
                break
            data = decompressor.decompress(chunk, 64 * 1024)
        produced += len(data)
        buffer += data
        *complete, buffer = buffer.split(b"\n")
        lines.extend(complete[: max_lines - len(lines)])
    if ended and buffer and len(lines) < max_lines:
        lines.append(buffer)
    return lines
