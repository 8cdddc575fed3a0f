"""The lean tar reader agrees with the standard library on every tar dialect, and rejects corrupt headers."""

from __future__ import annotations

import io
import os
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


def _header(name: bytes, *, mode: bytes = b"0000644\0", uid: bytes = b"0000000\0", gid: bytes = b"0000000\0",
            size: bytes = b"00000000003\0", typeflag: bytes = b"0") -> bytes:
    """One ustar header with the given raw fields and a correct checksum."""
    head = bytearray(512)
    head[0 : len(name)] = name
    head[100:108], head[108:116], head[116:124], head[124:136] = mode, uid, gid, size
    head[136:148] = b"00000000000\0"
    head[156:157] = typeflag
    head[257:265] = b"ustar\x0000"
    head[148:156] = b" " * 8
    head[148:156] = b"%06o\0 " % sum(head)
    return bytes(head)


def _archive(*headers_and_data: bytes) -> bytes:
    out = b"".join(h + d + b"\0" * (-len(d) % 512) for h, d in zip(headers_and_data[::2], headers_and_data[1::2]))
    return out + b"\0" * 1024


@pytest.mark.parametrize("seek", [False, True], ids=["stream", "seek"])
def test_numeric_fields_in_every_spelling(seek):
    """The quick path for zero-padded octal fields and the long one (spaces, no terminator, base-256, a NUL inside)
    read the same values as tarfile."""
    data = _archive(
        _header(b"plain", mode=b"0004755\0", uid=b"0001750\0", gid=b"0000144\0"), b"abc",
        _header(b"spaces", mode=b"   644 \0", uid=b"  1750 \0", gid=b"0000000\0", size=b"          3 "), b"abc",
        _header(b"no-nul", mode=b"00000644", uid=b"00001750", gid=b"00000000", size=b"000000000003"), b"abc",
        _header(b"base256", uid=b"\x80\0\0\0\0\x2d\xc6\xc0", size=b"\x80" + (3).to_bytes(11, "big")), b"abc",
        _header(b"short", mode=b"644\0\0\0\0\0", size=b"3\0\0\0\0\0\0\0\0\0\0\0"), b"abc",
    )
    assert listing_ours(data, seek) == listing_stdlib(data)
    assert [m[3] for m in listing_ours(data, seek)] == [1000, 1000, 1000, 3_000_000, 0]


@pytest.mark.parametrize("field", ["size", "mode", "uid", "gid"])
def test_a_non_octal_digit_is_an_error_naming_the_field(field):
    """``8`` and ``9`` look like digits but are not octal: a BlobError naming the field, never a ValueError."""
    bad = {"size": b"00000000009\0", "mode": b"0000648\0", "uid": b"0000009\0", "gid": b"0000080\0"}[field]
    data = _archive(_header(b"f", **{field: bad}), b"abc" if field != "size" else b"x" * 9)
    with pytest.raises(BlobError, match=f"bad {field} field"):
        list(TarReader(io.BytesIO(data), "test"))


def test_a_checksum_field_with_a_non_octal_digit_is_a_corrupt_header():
    head = bytearray(_header(b"f"))
    head[148:156] = b"009999\0 "
    with pytest.raises(BlobError, match="offset 0"):
        list(TarReader(io.BytesIO(_archive(bytes(head), b"abc")), "test"))


@pytest.mark.parametrize("keep", [0.3, 0.6])
def test_a_file_cut_short_while_it_is_read_is_a_truncation_error(tmp_path, keep):
    """With seeks (a plain layer in a local file) the stream's size is taken when the walk starts: a file that
    another program cuts short meanwhile ends in a truncation error, never a clean end with entries missing."""
    data = build(tarfile.GNU_FORMAT)
    path = tmp_path / "layer.tar"
    path.write_bytes(data)
    with open(path, "rb") as fh:
        reader = TarReader(fh, "test", seek=True)
        os.truncate(path, int(len(data) * keep) // 512 * 512)  # cut on a block boundary: it looks like a clean end
        with pytest.raises(BlobError, match="truncated"):
            for m in reader:
                if m.isreg():
                    reader.read()
