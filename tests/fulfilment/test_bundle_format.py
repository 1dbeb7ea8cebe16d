"""The bundle's ZIP is readable by standard tools, whatever sizes force ZIP64 records."""

import hashlib
import io
import shutil
import subprocess
import zipfile
from datetime import datetime

import pytest

from fulfilment.bundle_format import PartWriter, ZipAssembler, read_first_lines

MOMENT = datetime(2026, 3, 4, 10, 30, 12)


def _part(data: bytes, *, pieces: int = 1, tmp_path) -> tuple:
    writer = PartWriter(level=1, directory=str(tmp_path))
    step = max(1, len(data) // pieces)
    for start in range(0, len(data), step):
        writer.write(data[start : start + step])
    info = writer.finish()
    return info, writer.path


def _rows(count: int) -> bytes:
    return b"".join(b'{"id": %d, "prompt": "row %d <script>"}\n' % (i, i) for i in range(count))


def _build(tmp_path, members: dict[str, bytes], **kwargs) -> bytes:
    out = io.BytesIO()
    assembler = ZipAssembler(out, moment=MOMENT, **kwargs)
    for name, data in members.items():
        info, path = _part(data, pieces=7, tmp_path=tmp_path)
        with open(path, "rb") as source:
            assembler.add_part(name, info, source)
    assembler.add_bytes("manifest.json", b'{"ok": true}')
    size = assembler.close()
    assert size == len(out.getvalue())
    return out.getvalue()


def test_parts_written_in_pieces_unzip_to_the_exact_bytes_with_matching_digests(tmp_path):
    members = {"platform/api_requests.jsonl": _rows(20_000), "platform/empty.csv": b"", "index.html": b"<p>hi</p>"}
    archive = zipfile.ZipFile(io.BytesIO(_build(tmp_path, members)))
    assert archive.testzip() is None
    for name, data in members.items():
        assert archive.read(name) == data
        assert hashlib.sha256(archive.read(name)).hexdigest() == hashlib.sha256(data).hexdigest()
    assert archive.getinfo("manifest.json").date_time == (2026, 3, 4, 10, 30, 12)


@pytest.mark.parametrize("limit", [1, 200])
def test_zip64_records_are_read_correctly_by_python_and_unzip(tmp_path, limit):
    members = {f"t{i}.jsonl": _rows(50 + i) for i in range(3)}
    data = _build(tmp_path, members, zip64_limit=limit)
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert archive.testzip() is None
    assert {name: archive.read(name) for name in members} == members
    if shutil.which("unzip"):
        path = tmp_path / "bundle.zip"
        path.write_bytes(data)
        result = subprocess.run(["unzip", "-t", str(path)], capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "No errors detected" in result.stdout


def test_a_part_shorter_than_recorded_is_refused(tmp_path):
    info, path = _part(_rows(100), tmp_path=tmp_path)
    assembler = ZipAssembler(io.BytesIO(), moment=MOMENT)
    with open(path, "rb") as source, pytest.raises(ValueError, match="expected"):
        assembler.add_part("x.jsonl", info, io.BytesIO(source.read()[:-3]))


def test_duplicate_member_names_are_refused(tmp_path):
    assembler = ZipAssembler(io.BytesIO(), moment=MOMENT)
    assembler.add_bytes("a.csv", b"x")
    with pytest.raises(ValueError, match="duplicate"):
        assembler.add_bytes("a.csv", b"y")


def test_preview_reads_only_the_first_lines_of_a_large_part(tmp_path):
    info, path = _part(_rows(200_000), pieces=50, tmp_path=tmp_path)
    with open(path, "rb") as source:
        lines = read_first_lines(source, max_lines=3)
        assert source.tell() < info.compressed_size
    assert lines == [
        b'{"id": 0, "prompt": "row 0 <script>"}',
        b'{"id": 1, "prompt": "row 1 <script>"}',
        b'{"id": 2, "prompt": "row 2 <script>"}',
    ]


def test_preview_of_a_short_part_without_final_newline_returns_every_line(tmp_path):
    info, path = _part(b"a\nb", tmp_path=tmp_path)
    with open(path, "rb") as source:
        assert read_first_lines(source, max_lines=10) == [b"a", b"b"]


def test_preview_stops_at_the_byte_budget_without_a_partial_line(tmp_path):
    info, path = _part(b"x" * 300_000 + b"\nnext\n", tmp_path=tmp_path)
    with open(path, "rb") as source:
        assert read_first_lines(source, max_lines=10, max_bytes=100_000) == []


def test_a_failure_while_compressing_surfaces_to_the_writer(tmp_path):
    writer = PartWriter(level=1, directory=str(tmp_path))
    writer.write(b"abc")
    writer._file.close()  # the disk goes away under the helper thread
    writer.write(b"x" * 300_000)
    with pytest.raises(ValueError):
        writer.finish()
    writer.discard()
    assert not list(tmp_path.iterdir())
