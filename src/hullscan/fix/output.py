"""The patched image: the base image's layers plus the patch layer, written as an OCI image layout (which the rescan
reads), then as an OCI archive or pushed to a registry.

The config is the base image's with ``rootfs.diff_ids`` and ``history`` extended (the history entry's ``comment`` is
:data:`HISTORY_COMMENT`, how a later fix knows the top layer is a patch layer to replace). The manifest is an OCI
manifest (Docker media types of the base are mapped to their OCI equivalents; digests do not change) annotated with
the base image (``org.opencontainers.image.base.digest``/``.name``) and the fixed vulnerabilities.
"""

from __future__ import annotations

import gzip
import json
import shutil
import tarfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hullscan.image.source import ImageSource, ResolvedImage
from hullscan.oci import (
    DOCKER_LAYER_FOREIGN,
    DOCKER_LAYER_GZIP,
    OCI_CONFIG,
    OCI_INDEX,
    OCI_LAYER,
    OCI_LAYER_GZIP,
    OCI_MANIFEST,
    Descriptor,
    digest_bytes,
)

HISTORY_COMMENT = "hullscan fix patch layer"
ANN_BASE_DIGEST = "org.opencontainers.image.base.digest"
ANN_BASE_NAME = "org.opencontainers.image.base.name"
ANN_FIXED = "io.hullscan.fix.vulnerabilities"
ANN_UPGRADED = "io.hullscan.fix.packages"
_DOCKER_TO_OCI = {DOCKER_LAYER_GZIP: OCI_LAYER_GZIP, DOCKER_LAYER_FOREIGN: OCI_LAYER_GZIP,
                  "application/vnd.docker.image.rootfs.diff.tar": OCI_LAYER}


def sha256(data: bytes) -> str:
    """``sha256:<hex>``."""
    return digest_bytes(data)


@dataclass
class PatchedImage:
    """The written layout and the new image's identity."""

    layout: Path
    manifest_digest: str
    manifest: bytes
    config: bytes
    layer_digest: str
    layer_size: int
    blobs: list[Descriptor]


def is_patch(config: dict[str, Any]) -> bool:
    """Whether the image's top layer is a hullscan patch layer."""
    history = [h for h in config.get("history") or [] if isinstance(h, dict) and not h.get("empty_layer")]
    return bool(history) and history[-1].get("comment") == HISTORY_COMMENT


def trimmed(resolved: ResolvedImage, keep: int) -> ResolvedImage:
    """``resolved`` with only its first ``keep`` layers (and their diff_ids and history)."""
    config = json.loads(json.dumps(resolved.config))
    config.setdefault("rootfs", {})["diff_ids"] = resolved.diff_ids[:keep]
    history = [h for h in config.get("history") or [] if isinstance(h, dict)]
    out, layers = [], 0
    for h in history:
        if not h.get("empty_layer"):
            if layers >= keep:
                continue
            layers += 1
        out.append(h)
    config["history"] = out
    return ResolvedImage(resolved.artifact, resolved.manifest, config, resolved.layers[:keep], resolved.diff_ids[:keep],
                         resolved.layer_history[:keep])


def write_layout(source: ImageSource, base: ResolvedImage, layer_tar: bytes, annotations: dict[str, str],
                 created_by: str, folder: Path, tag: str) -> PatchedImage:
    """Write the patched image as an OCI layout in ``folder`` (base blobs copied from ``source``, verified)."""
    blobs = folder / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)
    (folder / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    descs: list[Descriptor] = []
    for desc in base.layers:
        dest = blobs / desc.digest.split(":", 1)[1]
        if not dest.exists():
            part = dest.with_suffix(".part")
            stream = source.open_blob(desc)
            try:
                with open(part, "wb") as out:
                    while chunk := stream.read(1 << 20):
                        out.write(chunk)
                drain = getattr(stream, "drain", None)
                if callable(drain):
                    drain()
            finally:
                stream.close()
            part.replace(dest)
        descs.append(Descriptor(_DOCKER_TO_OCI.get(desc.media_type, desc.media_type), desc.digest, desc.size))
    compressed = gzip.compress(layer_tar, compresslevel=6, mtime=0)
    layer_digest = sha256(compressed)
    (blobs / layer_digest.split(":", 1)[1]).write_bytes(compressed)
    descs.append(Descriptor(OCI_LAYER_GZIP, layer_digest, len(compressed)))
    config = json.loads(json.dumps(base.config))
    config.setdefault("rootfs", {"type": "layers"})["diff_ids"] = list(base.diff_ids) + [sha256(layer_tar)]
    now = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    config.setdefault("history", []).append({"created": now, "created_by": created_by, "comment": HISTORY_COMMENT})
    config["created"] = now
    config_bytes = json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
    config_digest = sha256(config_bytes)
    (blobs / config_digest.split(":", 1)[1]).write_bytes(config_bytes)
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": len(config_bytes)},
        "layers": [{"mediaType": d.media_type, "digest": d.digest, "size": d.size} for d in descs],
        "annotations": dict(sorted(annotations.items())),
    }
    manifest_bytes = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
    digest = sha256(manifest_bytes)
    (blobs / digest.split(":", 1)[1]).write_bytes(manifest_bytes)
    platform = base.artifact.platform
    entry: dict[str, Any] = {"mediaType": OCI_MANIFEST, "digest": digest, "size": len(manifest_bytes),
                             "annotations": {"org.opencontainers.image.ref.name": tag}}
    if platform.architecture:
        entry["platform"] = {"os": platform.os or "linux", "architecture": platform.architecture,
                             **({"variant": platform.variant} if platform.variant else {})}
    (folder / "index.json").write_text(json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [entry]}))
    config_desc = Descriptor(OCI_CONFIG, config_digest, len(config_bytes))
    return PatchedImage(folder, digest, manifest_bytes, config_bytes, layer_digest, len(compressed),
                        [*descs, config_desc])


def write_archive(layout: Path, path: Path) -> None:
    """An OCI archive (a tar of the layout) at ``path``, written next to it and renamed into place."""
    part = path.with_name(path.name + ".part")
    with tarfile.open(part, "w", format=tarfile.PAX_FORMAT) as tar:
        for name in ("oci-layout", "index.json"):
            tar.add(str(layout / name), arcname=name, recursive=False)
        tar.add(str(layout / "blobs"), arcname="blobs", recursive=False)
        tar.add(str(layout / "blobs" / "sha256"), arcname="blobs/sha256", recursive=False)
        for blob in sorted((layout / "blobs" / "sha256").iterdir()):
            tar.add(str(blob), arcname=f"blobs/sha256/{blob.name}", recursive=False)
    part.replace(path)


def push(image: PatchedImage, reference: str, options: Any) -> str:
    """Push the layout's blobs and manifest to ``reference`` (``registry/repo:tag``); returns the manifest digest."""
    from hullscan.registry.client import RegistryClient
    from hullscan.registry.reference import parse_reference

    ref = parse_reference(reference)
    with RegistryClient(ref, options) as client:
        for desc in image.blobs:
            if client.has_blob(ref.repository, desc.digest):
                continue
            path = image.layout / "blobs" / "sha256" / desc.digest.split(":", 1)[1]
            with open(path, "rb") as fh:
                client.upload_blob(ref.repository, desc.digest, fh, desc.size)
        return client.put_manifest(ref.repository, ref.tag or image.manifest_digest, image.manifest, OCI_MANIFEST)


def remove(folder: Path) -> None:
    """Remove a layout folder."""
    shutil.rmtree(folder, ignore_errors=True)
