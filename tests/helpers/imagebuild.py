"""Build real OCI images in tests: layers from file specs or directories, written as an OCI layout,
a ``docker save`` archive, an OCI archive, or pushed to a registry over the Distribution API.

Nothing is mocked: the bytes written are what ``docker``/``skopeo`` would write.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import zstandard

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER_TYPES = {
    "gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
    "zstd": "application/vnd.oci.image.layer.v1.tar+zstd",
    "none": "application/vnd.oci.image.layer.v1.tar",
}


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class F:
    """One tar member. ``kind``: file, dir, symlink, hardlink, char, block, fifo."""

    data: bytes = b""
    mode: int = 0o644
    kind: str = "file"
    linkname: str = ""
    uid: int = 0
    gid: int = 0
    size: int | None = None  # for sparse/huge content given as a stream
    stream: Any = None


_KINDS = {
    "file": tarfile.REGTYPE,
    "dir": tarfile.DIRTYPE,
    "symlink": tarfile.SYMTYPE,
    "hardlink": tarfile.LNKTYPE,
    "char": tarfile.CHRTYPE,
    "block": tarfile.BLKTYPE,
    "fifo": tarfile.FIFOTYPE,
}


def make_tar(files: dict[str, bytes | str | F], raw_names: bool = True) -> bytes:
    """An uncompressed tar of ``files`` (path -> content or :class:`F`). Paths are written verbatim,
    so tests can plant ``../`` or absolute names."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, spec in files.items():
            if isinstance(spec, str):
                spec = F(spec.encode())
            elif isinstance(spec, bytes):
                spec = F(spec)
            info = tarfile.TarInfo(name)
            info.type = _KINDS[spec.kind]
            info.mode = spec.mode if spec.kind != "dir" or spec.mode != 0o644 else 0o755
            info.uid, info.gid = spec.uid, spec.gid
            info.mtime = 1_700_000_000
            info.linkname = spec.linkname
            if spec.kind == "file":
                if spec.stream is not None:
                    info.size = spec.size or 0
                    tar.addfile(info, spec.stream)
                else:
                    info.size = len(spec.data)
                    tar.addfile(info, io.BytesIO(spec.data))
            else:
                tar.addfile(info)
    return buf.getvalue()


def tar_dir(root: str | Path, prefix: str = "") -> bytes:
    """An uncompressed tar of a directory tree (paths relative to ``root``, deterministic order)."""
    root = Path(root)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for name in sorted(dirnames) + sorted(filenames):
                full = Path(dirpath) / name
                arc = prefix + str(full.relative_to(root))
                info = tar.gettarinfo(str(full), arcname=arc)
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                info.mtime = 1_700_000_000
                if info.isreg():
                    with open(full, "rb") as fh:
                        tar.addfile(info, fh)
                else:
                    tar.addfile(info)
    return buf.getvalue()


def compress(tar_bytes: bytes, compression: str) -> bytes:
    if compression == "gzip":
        return gzip.compress(tar_bytes, compresslevel=6, mtime=0)
    if compression == "zstd":
        return zstandard.ZstdCompressor(level=3).compress(tar_bytes)
    if compression == "none":
        return tar_bytes
    raise ValueError(compression)


@dataclass
class BuiltLayer:
    blob: bytes
    diff_id: str
    media_type: str

    @property
    def digest(self) -> str:
        return sha256(self.blob)


@dataclass
class ImageBuilder:
    """Accumulates layers and config; writes or pushes the image."""

    architecture: str = "amd64"
    os: str = "linux"
    layers: list[BuiltLayer] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)
    config_extra: dict[str, Any] = field(default_factory=dict)  # the "config" object: User, Env, Labels...

    def add_layer(
        self,
        files: dict[str, bytes | str | F] | bytes,
        compression: str = "gzip",
        created_by: str = "",
    ) -> "ImageBuilder":
        tar_bytes = files if isinstance(files, bytes) else make_tar(files)
        self.layers.append(BuiltLayer(compress(tar_bytes, compression), sha256(tar_bytes), LAYER_TYPES[compression]))
        self.history.append({"created": "2024-01-01T00:00:00Z", "created_by": created_by or f"layer {len(self.layers)}"})
        return self

    def add_history(self, created_by: str) -> "ImageBuilder":
        """A history entry without a layer (ENV, USER, ...)."""
        self.history.append({"created": "2024-01-01T00:00:00Z", "created_by": created_by, "empty_layer": True})
        return self

    def config_bytes(self) -> bytes:
        cfg = {
            "architecture": self.architecture,
            "os": self.os,
            "created": "2024-01-01T00:00:00Z",
            "config": self.config_extra,
            "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in self.layers]},
            "history": self.history,
        }
        return json.dumps(cfg, sort_keys=True).encode()

    def manifest_bytes(self) -> bytes:
        cfg = self.config_bytes()
        manifest = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": sha256(cfg), "size": len(cfg)},
            "layers": [{"mediaType": lyr.media_type, "digest": lyr.digest, "size": len(lyr.blob)} for lyr in self.layers],
        }
        return json.dumps(manifest, sort_keys=True).encode()

    @property
    def digest(self) -> str:
        return sha256(self.manifest_bytes())

    def blobs(self) -> dict[str, bytes]:
        cfg = self.config_bytes()
        out = {sha256(cfg): cfg, self.digest: self.manifest_bytes()}
        for layer in self.layers:
            out[layer.digest] = layer.blob
        return out

    # ---------------------------------------------------------------- writers

    def write_oci_layout(self, path: str | Path, tag: str = "latest", index_of: list["ImageBuilder"] | None = None) -> str:
        """Write an OCI image layout; with ``index_of``, an index of several platform images."""
        path = Path(path)
        (path / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        (path / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
        images = index_of or [self]
        entries = []
        for img in images:
            for digest, data in img.blobs().items():
                (path / "blobs" / "sha256" / digest.split(":")[1]).write_bytes(data)
            m = img.manifest_bytes()
            entries.append(
                {
                    "mediaType": OCI_MANIFEST,
                    "digest": sha256(m),
                    "size": len(m),
                    "platform": {"os": img.os, "architecture": img.architecture},
                    "annotations": {"org.opencontainers.image.ref.name": tag},
                }
            )
        if index_of:
            inner = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}
            inner_b = json.dumps(inner).encode()
            (path / "blobs" / "sha256" / sha256(inner_b).split(":")[1]).write_bytes(inner_b)
            entries = [{"mediaType": OCI_INDEX, "digest": sha256(inner_b), "size": len(inner_b),
                        "annotations": {"org.opencontainers.image.ref.name": tag}}]
        index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}
        (path / "index.json").write_text(json.dumps(index))
        return entries[0]["digest"]

    def write_oci_archive(self, path: str | Path, tag: str = "latest") -> None:
        tmp = Path(str(path) + ".d")
        self.write_oci_layout(tmp, tag)
        with tarfile.open(path, "w") as tar:
            for p in sorted(tmp.rglob("*")):
                tar.add(str(p), arcname=str(p.relative_to(tmp)), recursive=False)

    def write_docker_archive(self, path: str | Path, repotag: str = "test/image:latest") -> None:
        """A ``docker save`` archive: manifest.json, <config>.json, <layer>/layer.tar (uncompressed)."""
        cfg = self.config_bytes()
        cfg_name = sha256(cfg).split(":")[1] + ".json"
        members: dict[str, bytes] = {cfg_name: cfg}
        layer_paths = []
        for layer in self.layers:
            raw = _decompress(layer)
            name = layer.diff_id.split(":")[1] + "/layer.tar"
            members[name] = raw
            layer_paths.append(name)
        members["manifest.json"] = json.dumps([{"Config": cfg_name, "RepoTags": [repotag], "Layers": layer_paths}]).encode()
        with tarfile.open(path, "w") as tar:
            for name, data in members.items():
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))

    def push(self, base_url: str, repo: str, tag: str = "latest", auth: httpx.Auth | None = None,
             verify: bool | str = True) -> str:
        """Push blobs and the manifest through the Distribution API; returns the manifest digest."""
        with httpx.Client(base_url=base_url, auth=auth, verify=verify, timeout=60) as client:
            cfg = self.config_bytes()
            for digest, data in [(sha256(cfg), cfg)] + [(lyr.digest, lyr.blob) for lyr in self.layers]:
                if client.head(f"/v2/{repo}/blobs/{digest}").status_code == 200:
                    continue
                r = client.post(f"/v2/{repo}/blobs/uploads/")
                r.raise_for_status()
                loc = r.headers["Location"]
                sep = "&" if "?" in loc else "?"
                r = client.put(f"{loc}{sep}digest={digest}", content=data,
                               headers={"Content-Type": "application/octet-stream"})
                r.raise_for_status()
            r = client.put(f"/v2/{repo}/manifests/{tag}", content=self.manifest_bytes(),
                           headers={"Content-Type": OCI_MANIFEST})
            r.raise_for_status()
        return self.digest


def _decompress(layer: BuiltLayer) -> bytes:
    if layer.media_type.endswith("gzip"):
        return gzip.decompress(layer.blob)
    if layer.media_type.endswith("zstd"):
        return zstandard.ZstdDecompressor().decompressobj().decompress(layer.blob)
    return layer.blob
