"""The lean tar reader agrees with the standard library on every tar dialect, and rejects corrupt headers."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from hullscan.errors import BlobError
from hullscan.image.tarstream import TarReader

LONG = "usr/lib/python3/dist-packages/" + "very-long-directory-name/" * 6 + "file_with_a_long_name.py"


def build(fmt: int) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
        for name, data in [("etc/hostname", b"box\n"), (LONG, b"x" * 1000), ("empty", b"")]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o4755
            info.uid = 1000
            tar.addfile(info, io.BytesIO(data))
        link_target = "/etc/hostname" if fmt == tarfile.USTAR_FORMAT else "/" + LONG  # ustar links hold 100 bytes
        for name, kind, target in [("lnk", tarfile.SYMTYPE, link_target), ("hard", tarfile.LNKTYPE, "etc/hostname"),
                                   ("dir", tarfile.DIRTYPE, "")]:
            info = tarfile.TarInfo(name)
            info.type = kind
            info.linkname = target
            tar.addfile(info)
        if fmt == tarfile.PAX_FORMAT:
            info = tarfile.TarInfo("unicodé/ファイル")
            info.size = 3
            info.uid = 3_000_000
            tar.addfile(info, io.BytesIO(b"abc"))
    return buf.getvalue()


def listing_stdlib(data: bytes) -> list[tuple]:
    out = []
    with tarfile.open(fileobj=io.BytesIO(data), mode="r|") as tar:
        for m in tar:
            content = tar.extractfile(m).read() if m.isreg() else b""
            out.append((m.name, m.size if m.isreg() else 0, m.mode, m.uid, m.linkname, content))
    return out


def listing_ours(data: bytes, seek: bool = False, read_every: int = 1) -> list[tuple]:
    """Our listing; ``seek``: member data nobody reads is skipped with seeks (local plain layers); ``read_every``:
    read the content of every n-th member only (None for the regular files skipped)."""
    reader = TarReader(io.BytesIO(data), "test", seek=seek)
    out = []
    for i, m in enumerate(reader):
        content = (reader.read() if not i % read_every else None) if m.isreg() else b""
        out.append((m.name.rstrip("/") if m.isdir() else m.name, m.size, m.mode, m.uid, m.linkname, content))
    return out


@pytest.mark.parametrize("seek", [False, True], ids=["stream", "seek"])
@pytest.mark.parametrize("fmt", [tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
def test_agrees_with_tarfile(fmt, seek):
    data = build(fmt)
    expected = listing_stdlib(data)
    assert listing_ours(data, seek) == expected
    partial = listing_ours(data, seek, read_every=2)  # skipping unread data lands on the next header either way
    assert [row[:5] for row in partial] == [row[:5] for row in expected]
    assert all(got[5] is None or got[5] == want[5] for got, want in zip(partial, expected, strict=True))
    assert any(got[5] is None for got in partial) and any(got[5] for got in partial)


def test_a_seek_past_the_end_of_a_cut_archive_is_a_truncation_error():
    """With seeks, a member whose data runs past the end of the stream is caught when the next header is missing
    (the stream's own digest check also fails); it never yields a made-up member."""
    data = build(tarfile.GNU_FORMAT)
    cut = data[: data.index(b"x" * 1000) + 500]
    with pytest.raises(BlobError, match="truncated"):
        for _ in TarReader(io.BytesIO(cut), "test", seek=True):
            pass


def test_agrees_with_tarfile_on_a_real_root_filesystem():
    """The machine's own /etc, tarred by tarfile in GNU format (real names, links, modes)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        tar.add("/etc", recursive=True, filter=lambda ti: ti if ti.isreg() and ti.size < 200_000 or not ti.isreg() else None)
    data = buf.getvalue()
    assert len(listing_ours(data)) > 100
    assert listing_ours(data) == listing_stdlib(data)


def test_corrupt_header_checksum_is_an_error_naming_the_offset():
    data = bytearray(build(tarfile.GNU_FORMAT))
    data[512 * 2 + 10] ^= 0x55  # inside the second member's header name
    with pytest.raises(BlobError, match="offset"):
        listing_ours(bytes(data))


def test_truncated_data_is_an_error():
    data = build(tarfile.GNU_FORMAT)
    reader = TarReader(io.BytesIO(data[:1500]), "test")
    with pytest.raises(BlobError, match="truncated"):
        for _ in reader:
            reader.read()


def test_not_a_tar():
    with pytest.raises(BlobError, match="not a tar stream|corrupt tar header"):
        list(TarReader(io.BytesIO(Path(__file__).read_bytes()), "test"))
