"""Plain layers of local archives are read at their member offsets in the archive: same entries as a stream, every
layer member's bytes as the archive holds them (whatever the member's offset in the file), digests checked."""

from __future__ import annotations

import io

import pytest

from hullscan.image.layer import Budget, walk_layer
from hullscan.image.local import DockerArchiveSource
from hullscan.options import Limits
from tests.helpers.imagebuild import F, ImageBuilder, make_tar


def _entries(blob) -> list[tuple[str, str, int, bytes]]:
    out = []
    for e in walk_layer(blob, "layer", Limits(), Budget(Limits()), []):
        out.append((e.path, e.kind, e.size, e.read() if e.kind == "file" else b""))
    return out


@pytest.mark.parametrize("sizes", [(10, 3000), (70_000, 1), (1 << 20, 513)])
def test_docker_archive_layers_are_read_at_their_offsets(tmp_path, sizes):
    b = ImageBuilder()
    layers = []
    for i, size in enumerate(sizes):
        files = {f"data/f{i}": b"x" * size, f"etc/conf{i}": F(b"key=value\n", mode=0o600), "usr/bin/tool": b"\x7fELF" + b"\0" * 60}
        layers.append(make_tar(files))
        b.add_layer(layers[-1], compression="none", created_by=f"layer {i}")
    archive = tmp_path / "image.tar"
    b.write_docker_archive(archive, "test/local:1")
    with DockerArchiveSource(archive) as source:
        resolved = source.resolve()
        source.prefetch(resolved.layers)
        for desc, tar in zip(resolved.layers, layers, strict=True):
            blob = source.open_blob(desc)
            try:
                walked = _entries(blob)
                blob.drain()  # the digest check passes
            finally:
                blob.close()
            assert walked == _entries(io.BytesIO(tar))
            assert ("/etc/conf" + str(layers.index(tar)), "file", 10, b"key=value\n") in walked


@pytest.mark.parametrize("gzipped", [False, True], ids=["plain-archive", "gzipped-archive"])
def test_only_local_plain_layers_are_walked_one_after_another(tmp_path, gzipped):
    """A plain docker archive's layers are read from the page cache (one walker: threads would only take turns
    holding the GIL); in a gzipped archive (``docker save | gzip``) they are decompressed outside the GIL instead."""
    import gzip

    b = ImageBuilder()
    b.add_layer(make_tar({"a": b"1"}), compression="none", created_by="plain")
    b.add_layer(make_tar({"b": b"2"}), compression="gzip", created_by="second")
    archive = tmp_path / "image.tar"
    b.write_docker_archive(archive, "test/local:1")
    if gzipped:
        archive.write_bytes(gzip.compress(archive.read_bytes()))
    with DockerArchiveSource(archive) as source:
        resolved = source.resolve()
        assert source.in_memory(resolved.layers) is not gzipped
        assert source.in_memory([]) is not gzipped
