"""Image sources: one interface over registries, OCI layouts, docker-save and OCI archives and root
filesystem directories.

A source resolves to a :class:`ResolvedImage` (manifest, config, layer descriptors, all verified)
and streams blobs through :meth:`ImageSource.open_blob`, which verifies the digest as the bytes
flow and raises :class:`~hullscan.errors.DigestMismatchError` at the end of a blob whose bytes do
not match (or :class:`~hullscan.errors.BlobError` when it is truncated).
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from hullscan.errors import BlobError, DigestMismatchError, ManifestError
from hullscan.model import Artifact, Platform

# Media types
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
OCI_LAYER_NONDIST_GZIP = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_LAYER_FOREIGN = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"

INDEX_TYPES = (OCI_INDEX, DOCKER_MANIFEST_LIST)
MANIFEST_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
ACCEPT_MANIFESTS = ", ".join((OCI_INDEX, DOCKER_MANIFEST_LIST, OCI_MANIFEST, DOCKER_MANIFEST))


@dataclass(frozen=True, slots=True)
class Descriptor:
    """An OCI content descriptor."""

    media_type: str
    digest: str
    size: int
    platform: Platform | None = None
    annotations: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, raw: Any, what: str) -> "Descriptor":
        """Validate and build a descriptor from JSON; ``what`` names it in errors."""
        if not isinstance(raw, dict):
            raise ManifestError(f"{what}: descriptor is not an object")
        digest = raw.get("digest")
        size = raw.get("size")
        if not isinstance(digest, str) or not valid_digest(digest):
            raise ManifestError(f"{what}: invalid digest {digest!r}")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ManifestError(f"{what}: invalid size {size!r} for {digest}")
        plat = raw.get("platform")
        platform = None
        if isinstance(plat, dict):
            platform = Platform(
                os=str(plat.get("os", "")),
                architecture=str(plat.get("architecture", "")),
                variant=str(plat.get("variant", "")),
            )
        ann = raw.get("annotations") or {}
        annotations = tuple(sorted((str(k), str(v)) for k, v in ann.items())) if isinstance(ann, dict) else ()
        return cls(str(raw.get("mediaType", "")), digest, size, platform, annotations)


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
        """Whether every one of ``layers`` is walked from memory (a plain tar mapped from a local file), with no
        network, disk wait or decompression to overlap: walking such layers on several threads only makes them
        take turns holding the GIL, so the scan walks them one after another. The default: no."""
        return False

    def close(self) -> None:
        """Release connections and open files."""

    def __enter__(self) -> "ImageSource":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --------------------------------------------------------------------------- helpers shared by sources


def valid_digest(digest: str) -> bool:
    """``sha256:<64 hex>`` or ``sha512:<128 hex>``."""
    algo, _, hexpart = digest.partition(":")
    lengths = {"sha256": 64, "sha512": 128}
    return algo in lengths and len(hexpart) == lengths[algo] and all(c in "0123456789abcdef" for c in hexpart)


def digest_bytes(data: bytes, algo: str = "sha256") -> str:
    """``algo:hex`` digest of ``data``."""
    return f"{algo}:{hashlib.new(algo, data).hexdigest()}"


def verify_bytes(data: bytes, digest: str, what: str) -> None:
    """Raise DigestMismatchError unless ``data`` hashes to ``digest``."""
    if not valid_digest(digest):
        raise ManifestError(f"{what}: invalid digest {digest!r}")
    check_stream(what, digest, digest_bytes(data, digest.split(":", 1)[0]), len(data), None)


def check_stream(what: str, digest: str, actual: str, count: int, size: int | None) -> None:
    """Raise BlobError when a blob of ``size`` bytes (None: unknown) stopped after ``count``, DigestMismatchError
    when its bytes hash to ``actual`` instead of ``digest``."""
    if size is not None and count < size:
        raise BlobError(f"{what}: truncated: got {count} of {size} bytes")
    if actual != digest:
        raise DigestMismatchError(f"{what}: digest mismatch: expected {digest}, got {actual}")


_BACKGROUND_HASH_MIN = 4 * 1024 * 1024


class _BackgroundHash:
    """Hashes on a helper thread: ``hashlib`` releases the GIL on large updates, so the digest of a big blob is
    computed on another core while the reading thread parses the tar stream."""

    def __init__(self, algo: str) -> None:
        import queue
        import threading

        self._h = hashlib.new(algo)
        self._q: queue.Queue[bytes | None] = queue.Queue(maxsize=64)
        self._thread = threading.Thread(target=self._run, name="blob-hash", daemon=True)
        self._thread.start()
        self._result: str | None = None

    def _run(self) -> None:
        while (chunk := self._q.get()) is not None:
            self._h.update(chunk)

    def update(self, data: bytes) -> None:
        """Queue ``data`` for hashing."""
        self._q.put(bytes(data))

    def hexdigest(self) -> str:
        """Wait for the queued data, then return the digest."""
        if self._result is None:
            self._q.put(None)
            self._thread.join()
            self._result = self._h.hexdigest()
        return self._result

    def close(self) -> None:
        """Stop the helper thread (without a digest)."""
        if self._result is None and self._thread.is_alive():
            self._q.put(None)


class VerifyingReader:
    """Wraps a binary stream; hashes what passes through and checks size and digest at EOF."""

    def __init__(self, raw: BinaryIO, digest: str, size: int | None, what: str) -> None:
        self._raw = raw
        self._digest = digest
        self._size = size
        self._what = what
        algo = digest.split(":", 1)[0]
        self._hash: Any = _BackgroundHash(algo) if size is None or size > _BACKGROUND_HASH_MIN else hashlib.new(algo)
        self._count = 0
        self._done = False

    def read(self, n: int = -1) -> bytes:
        """Read up to ``n`` bytes; on EOF verify size and digest."""
        data = self._raw.read(n)
        if data:
            self._hash.update(data)
            self._count += len(data)
            if self._size is not None and self._count > self._size:
                raise DigestMismatchError(f"{self._what}: more bytes than the descriptor's size {self._size}")
        if not data or (n is not None and n < 0):
            self._finish()
        return data

    def readinto(self, buf: Any) -> int:
        """``io.RawIOBase`` compatibility."""
        data = self.read(len(buf))
        buf[: len(data)] = data
        return len(data)

    def readable(self) -> bool:
        """Always readable."""
        return True

    def _finish(self) -> None:
        if self._done:
            return
        self._done = True
        check_stream(self._what, self._digest, f"{self._digest.split(':', 1)[0]}:{self._hash.hexdigest()}", self._count,
                     self._size)

    def drain(self) -> None:
        """Read to the end (verifying) without keeping the bytes."""
        while self.read(1 << 20):
            pass
        self._finish()

    def close(self) -> None:
        """Close the underlying stream."""
        stop = getattr(self._hash, "close", None)
        if stop is not None:
            stop()
        close = getattr(self._raw, "close", None)
        if close:
            close()


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
