"""The safe layer walk: normalisation, whiteouts, hostile entries, compression, limits."""

from __future__ import annotations

import io

import pytest

from hullscan.errors import BlobError, LimitExceededError
from hullscan.image.layer import Budget, link_escapes, normalise, walk_layer
from hullscan.options import Limits
from tests.helpers.imagebuild import F, compress, make_tar


def walk(blob: bytes, limits: Limits | None = None):
    limits = limits or Limits()
    warnings: list = []
    entries = [(e, e.read() if e.info.kind == "file" else b"") for e in walk_layer(io.BytesIO(blob), "sha256:l", limits, Budget(limits), warnings)]
    return entries, warnings


@pytest.mark.parametrize(
    "name, expected",
    [
        ("etc/passwd", ("/etc/passwd", "")),
        ("./etc/passwd", ("/etc/passwd", "")),
        ("/etc/passwd", ("/etc/passwd", "absolute-path")),
        ("a/b/../c", ("/a/c", "")),
        ("../etc/passwd", (None, "path-traversal")),
        ("a/../../etc", (None, "path-traversal")),
        ("./", ("/", "")),
    ],
)
def test_normalise(name, expected):
    assert normalise(name) == expected


@pytest.mark.parametrize(
    "path, target, escapes",
    [("/usr/bin/python", "python3", False), ("/usr/bin/x", "/etc/shadow", False), ("/a/l", "../../etc", True),
     ("/a/b/l", "../c", False), ("/l", "..", True)],
)
def test_link_escapes(path, target, escapes):
    assert link_escapes(path, target) is escapes


@pytest.mark.parametrize("compression", ["gzip", "zstd", "none"])
def test_walk_every_compression(compression):
    tar = make_tar({"etc/hostname": "box\n", "usr/bin/tool": F(b"\x7fELF", mode=0o4755), "usr": F(kind="dir")})
    entries, warnings = walk(compress(tar, compression))
    by_path = {e.info.path: (e, data) for e, data in entries}
    assert by_path["/etc/hostname"][1] == b"box\n"
    assert by_path["/usr/bin/tool"][0].info.mode == 0o4755
    assert by_path["/usr"][0].info.kind == "dir"
    assert warnings == []


def test_whiteouts_and_opaque_markers():
    tar = make_tar({"etc/.wh.secret": "", "var/cache/.wh..wh..opq": "", "var/cache/new": "n"})
    entries, _ = walk(tar)
    kinds = [(e.info.path, e.whiteout, e.opaque) for e, _ in entries]
    assert ("/etc/secret", True, False) in kinds
    assert ("/var/cache", False, True) in kinds
    assert ("/var/cache/new", False, False) in kinds


def test_hostile_entries_are_neutralised_and_reported():
    tar = make_tar({
        "../../outside": "x",
        "/etc/abs": "a",
        "esc": F(kind="symlink", linkname="../../../root/.ssh/id_rsa"),
        "ok": F(kind="symlink", linkname="/etc/abs"),
        "hl": F(kind="hardlink", linkname="../../etc/shadow"),
        "dev/sda": F(kind="block"),
        "dev/null": F(kind="char"),
        "fifo": F(kind="fifo"),
    })
    entries, warnings = walk(tar)
    paths = {e.info.path: e.info for e, _ in entries}
    assert "/outside" not in paths and all("outside" not in p for p in paths)
    assert paths["/etc/abs"].kind == "file"
    assert paths["/esc"].linkname == ""  # neutralised: never followed
    assert paths["/ok"].linkname == "/etc/abs"
    assert "/hl" not in paths and "/dev/sda" not in paths and "/fifo" not in paths
    codes = sorted(w.code for w in warnings)
    assert codes == ["absolute-path", "device-file", "device-file", "link-escape", "link-escape", "path-traversal"]


def test_truncated_layer_is_a_clear_error():
    blob = compress(make_tar({"big": b"x" * 200_000}), "gzip")
    with pytest.raises(BlobError, match="layer sha256:l"):
        walk(blob[: len(blob) // 2])


def test_garbage_layer_is_a_clear_error():
    with pytest.raises(BlobError, match="not a readable tar|truncated or corrupt"):
        walk(b"\x1f\x8bthis is not gzip at all" * 10)


def test_layer_byte_limit_holds():
    blob = compress(make_tar({"zeros": b"\0" * 5_000_000}), "zstd")
    with pytest.raises(LimitExceededError, match="max_layer_bytes"):
        walk(blob, Limits(max_layer_bytes=1_000_000))


def test_entry_limit_holds():
    blob = make_tar({f"f{i}": "" for i in range(50)})
    with pytest.raises(LimitExceededError, match="max_entries"):
        walk(blob, Limits(max_entries=10))
