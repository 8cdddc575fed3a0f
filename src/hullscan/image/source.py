"""Image sources: one interface over registries, OCI layouts, docker-save and OCI archives and root
filesystem directories.

A source resolves to a :class:`ResolvedImage` (manifest, config, layer descriptors, all verified)
and streams blobs through :meth:`ImageSource.open_blob`, which verifies the digest as the bytes
flow (:class:`hullscan.oci.VerifyingReader`; media types, descriptors and digests are :mod:`hullscan.oci`) and raises :class:`~hullscan.errors.DigestMismatchError` at the end of a blob whose bytes do
not match (or :class:`~hullscan.errors.BlobError` when it is truncated).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from hullscan.errors import ManifestError
from hullscan.model import Artifact, Platform
from hullscan.oci import INDEX_TYPES, OCI_MANIFEST, Descriptor, valid_digest


@dataclass(slots=True)
class ResolvedImage:
    """A single-platform image, resolved and verified: manifest, config and layer descriptors."""

    artifact: Artifact
    manifest: dict[str, Any]
    config: dict[str, Any]
    layers: list[Descriptor]
    diff_ids: list[str]
    #: per-layer history entries aligned with ``layers`` (created_by, or "")
    layer_history: list[str] = field(default_factory=list)


class ImageSource(ABC):
    """Where an image comes from. Use as a context manager."""

    kind: str = ""
    #: whether ``open_blob`` streams may be read by several threads at once
    parallel: bool = True

    @abstractmethod
    def resolve(self, platform: Platform | None = None) -> ResolvedImage:
        """Find the image (choosing ``platform`` from an index; default the host's) and verify manifest and config."""

    @abstractmethod
    def open_blob(self, desc: Descriptor) -> BinaryIO:
        """A stream of the blob's stored (compressed) bytes, verified against ``desc.digest`` as it is read."""

    def prefetch(self, layers: Sequence[Descriptor]) -> None:
        """Start any work on ``layers`` that can run ahead of the walk (a local source checks digests on helper
        threads while the scan is still importing its analyzers). Optional: the default does nothing."""

    def in_memory(self, layers: Sequence[Descriptor]) -> bool:
        """Whether every one of ``layers`` is a plain tar read from a local file (the page cache), with no network,
        disk wait or decompression to overlap: walking such layers on several threads only makes them
        take turns holding the GIL, so the scan walks them one after another. The default: no."""
        return False

    def close(self) -> None:
        """Release connections and open files."""

    def __enter__(self) -> ImageSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --------------------------------------------------------------------------- helpers shared by sources


def parse_json(data: bytes, what: str) -> dict[str, Any]:
    """Parse a JSON object or raise ManifestError naming ``what``."""
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{what}: not valid JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise ManifestError(f"{what}: expected a JSON object")
    return doc


def host_platform() -> Platform:
    """The platform of this machine, in OCI spelling."""
    import platform as _platform

    machine = _platform.machine().lower()
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64", "armv7l": "arm", "i686": "386",
            "i386": "386", "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64"}.get(machine, machine)
    variant = "v7" if machine == "armv7l" else ""
    return Platform("linux", arch, variant)


def parse_platform(text: str) -> Platform:
    """``os/arch[/variant]`` as given to ``--platform``."""
    parts = text.strip().split("/")
    if len(parts) not in (2, 3) or not all(parts):
        from hullscan.errors import InputError

        raise InputError(f"invalid platform {text!r}: expected os/arch[/variant], e.g. linux/arm64")
    return Platform(parts[0], parts[1], parts[2] if len(parts) == 3 else "")


def select_manifest(index: dict[str, Any], platform: Platform | None, what: str) -> Descriptor:
    """Choose the manifest for ``platform`` (default: the host's) from an image index / manifest list."""
    manifests = index.get("manifests")
    if not isinstance(manifests, list) or not manifests:
        raise ManifestError(f"{what}: image index has no manifests")
    descs = [Descriptor.parse(m, f"{what} manifests[{i}]") for i, m in enumerate(manifests)]
    want = platform or host_platform()
    candidates = [d for d in descs if d.platform and d.platform.os == want.os and d.platform.architecture == want.architecture]
    if want.variant:
        exact = [d for d in candidates if d.platform and d.platform.variant == want.variant]
        candidates = exact
    elif len(candidates) > 1 and want.architecture == "arm64":
        pref = [d for d in candidates if d.platform and d.platform.variant in ("", "v8")]
        candidates = pref or candidates
    if not candidates:
        available = ", ".join(str(d.platform) for d in descs if d.platform) or "none"
        raise ManifestError(f"{what}: no manifest for platform {want} (available: {available})")
    return candidates[0]


def config_descriptor(manifest: dict[str, Any], what: str) -> Descriptor:
    """Check a single-platform manifest's schema version and return its config descriptor."""
    if manifest.get("schemaVersion") != 2:
        raise ManifestError(f"{what}: unsupported schemaVersion {manifest.get('schemaVersion')!r} (schema 1 is not supported)")
    if manifest.get("mediaType") in INDEX_TYPES or "manifests" in manifest:
        raise ManifestError(f"{what}: expected an image manifest, got an index")
    return Descriptor.parse(manifest.get("config"), f"{what} config")


def parse_image(
    artifact: Artifact, manifest_bytes: bytes, config_bytes: bytes, what: str
) -> ResolvedImage:
    """Validate a single-platform manifest and its (already verified) config into a ResolvedImage."""
    manifest = parse_json(manifest_bytes, f"{what} manifest")
    if manifest.get("schemaVersion") != 2:
        raise ManifestError(f"{what} manifest: unsupported schemaVersion {manifest.get('schemaVersion')!r}")
    media = manifest.get("mediaType", OCI_MANIFEST)
    if media in INDEX_TYPES or "manifests" in manifest:
        raise ManifestError(f"{what} manifest: expected an image manifest, got an index")
    raw_layers = manifest.get("layers")
    if not isinstance(raw_layers, list):
        raise ManifestError(f"{what} manifest: 'layers' missing or not a list")
    layers = [Descriptor.parse(layer, f"{what} manifest layers[{i}]") for i, layer in enumerate(raw_layers)]
    config = parse_json(config_bytes, f"{what} config")
    rootfs = config.get("rootfs") or {}
    diff_ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
    if not isinstance(diff_ids, list) or len(diff_ids) != len(layers):
        raise ManifestError(
            f"{what} config: rootfs.diff_ids has {len(diff_ids) if isinstance(diff_ids, list) else 'no'} entries "
            f"for {len(layers)} layers"
        )
    for d in diff_ids:
        if not isinstance(d, str) or not valid_digest(d):
            raise ManifestError(f"{what} config: invalid diff_id {d!r}")
    history = [h for h in config.get("history") or [] if isinstance(h, dict)]
    layer_history = [str(h.get("created_by", "")) for h in history if not h.get("empty_layer")]
    if len(layer_history) != len(layers):
        layer_history = [""] * len(layers)
    plat = Platform(str(config.get("os", "linux")), str(config.get("architecture", "")), str(config.get("variant", "")))
    from dataclasses import replace

    artifact = replace(artifact, platform=plat)
    return ResolvedImage(artifact, manifest, config, layers, list(diff_ids), layer_history)
