"""Reading an OCI archive back in tests: its manifest and config, and its root filesystem with whiteouts applied."""

from __future__ import annotations

import io
import json
import os
import shutil
import tarfile
from pathlib import Path
from typing import Any

import zstandard


def read_archive(path: Path) -> tuple[dict[str, Any], dict[str, Any], dict[str, bytes]]:
    """``(manifest, config, blobs by digest)`` of a single-image OCI archive."""
    blobs: dict[str, bytes] = {}
    with tarfile.open(path) as tar:
        index = json.load(tar.extractfile("index.json"))  # type: ignore[arg-type]
        for m in tar.getmembers():
            if m.isfile() and m.name.startswith("blobs/sha256/"):
                blobs["sha256:" + m.name.rsplit("/", 1)[1]] = tar.extractfile(m).read()  # type: ignore[union-attr]
    manifest = json.loads(blobs[index["manifests"][0]["digest"]])
    config = json.loads(blobs[manifest["config"]["digest"]])
    return manifest, config, blobs


def layer_tar(blob: bytes) -> tarfile.TarFile:
    """A layer blob opened as a tar (gzip, zstd or plain)."""
    if blob[:4] == b"\x28\xb5\x2f\xfd":
        blob = zstandard.ZstdDecompressor().decompressobj().decompress(blob)
    return tarfile.open(fileobj=io.BytesIO(blob), mode="r:*")


def unpack(manifest: dict[str, Any], blobs: dict[str, bytes], dest: Path) -> Path:
    """Apply the manifest's layers in order into ``dest`` (``.wh.`` whiteouts delete; links never followed)."""
    dest.mkdir(parents=True, exist_ok=True)
    for layer in manifest["layers"]:
        with layer_tar(blobs[layer["digest"]]) as tar:
            for m in tar.getmembers():
                name = m.name.removeprefix("./").rstrip("/")
                head, _, base = name.rpartition("/")
                target = dest / name
                if base.startswith(".wh."):
                    gone = dest / head / base[4:]
                    if gone.is_dir() and not gone.is_symlink():
                        shutil.rmtree(gone)
                    elif gone.exists() or gone.is_symlink():
                        gone.unlink()
                    continue
                if (target.exists() or target.is_symlink()) and not (m.isdir() and target.is_dir()):
                    if target.is_dir() and not target.is_symlink():
                        shutil.rmtree(target)
                    else:
                        target.unlink()
                tar.extract(m, dest, numeric_owner=True, filter="tar")
                if m.isfile():
                    os.chmod(target, m.mode)
    return dest
