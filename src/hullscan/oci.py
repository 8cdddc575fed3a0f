"""OCI content basics shared by the image sources and the registry client: media types, content descriptors,
digests, and verification of blob bytes (a reading stream that checks size and digest at its end, and the one
background digest check).

It sits beneath both :mod:`hullscan.image` and :mod:`hullscan.registry` (neither imports the other for these),
and imports nothing of hullscan but the errors and the model.

Background digests: ``hashlib`` releases the GIL on large updates, so the digest of a big blob is computed on
a helper thread (another core) while the scan parses the same bytes. :class:`BackgroundDigest` is the one
implementation; its bytes come either from the reading stream (:meth:`BackgroundDigest.of_stream`: the reader
queues what passes through) or from a region of a local file read by the helper thread itself
(:meth:`BackgroundDigest.of_file`, with its own file handle; the walk may skip what no analyzer wants).
"""

from __future__ import annotations

import functools
import hashlib
import mmap
import os
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from hullscan.errors import BlobError, DigestMismatchError, ManifestError
from hullscan.model import Platform

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
ACCEPT_MANIFESTS = f"{OCI_INDEX}, {DOCKER_MANIFEST_LIST}, {OCI_MANIFEST}, {DOCKER_MANIFEST}"


@dataclass(frozen=True, slots=True)
class Descriptor:
    """An OCI content descriptor."""

    media_type: str
    digest: str
    size: int
    platform: Platform | None = None
    annotations: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, raw: Any, what: str) -> Descriptor:
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


def valid_digest(digest: str) -> bool:
    """``sha256:<64 hex>`` or ``sha512:<128 hex>``."""
    algo, _, hexpart = digest.partition(":")
    lengths = {"sha256": 64, "sha512": 128}
    return algo in lengths and len(hexpart) == lengths[algo] and all(c in "0123456789abcdef" for c in hexpart)


def digest_bytes(data: bytes, algo: str = "sha256") -> str:
    """``algo:hex`` digest of ``data``."""
    return f"{algo}:{hashlib.new(algo, data).hexdigest()}"


def verify_bytes(data: bytes, digest: str, what: str) -> None:
    """Raise ManifestError for a malformed digest, DigestMismatchError when ``data`` does not hash to it."""
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


# --------------------------------------------------------------------------- background digests

#: a file region up to this size is hashed at once, outside the slots below (a few ms: never queued behind a big one)
UNSLOTTED = 32 << 20


@functools.cache
def _file_slots() -> threading.BoundedSemaphore:
    """How many file-region digests run at once: one core is left to the walk (on two cores, three checks of a
    three-layer image running together only slowed the walk down)."""
    return threading.BoundedSemaphore(max(1, (os.cpu_count() or 2) - 1))


class BackgroundDigest:
    """The digest of a blob computed on a helper thread, then checked by :meth:`verify`."""

    def __init__(self, digest: str, what: str, size: int | None,
                 chunks: Callable[[BackgroundDigest], Iterator[memoryview | bytes]]) -> None:
        self.digest, self.what, self.size = digest, what, size
        self._algo = digest.split(":", 1)[0]
        self._chunks = chunks
        self._queue: queue.Queue[bytes | None] | None = None
        self._stop = threading.Event()
        self._seen = 0
        self._actual = ""
        self._error = ""
        self._thread = threading.Thread(target=self._run, name="hullscan-digest", daemon=True)

    @classmethod
    def of_stream(cls, digest: str, what: str, size: int | None) -> BackgroundDigest:
        """A digest of the bytes given to :meth:`update` (by a reader, as they pass through)."""
        job = cls(digest, what, size, cls._queued)
        job._queue = queue.Queue(maxsize=64)
        job._thread.start()
        return job

    @classmethod
    def of_file(cls, path: Path, offset: int, size: int, digest: str, what: str) -> BackgroundDigest:
        """A digest of bytes ``[offset, offset + size)`` of ``path``, read by the helper thread."""

        def region(job: BackgroundDigest) -> Iterator[memoryview]:
            # big reads: between two, this thread needs the GIL back. The buffer is an anonymous mapping, not a
            # bytearray: a fresh 16 MiB bytearray is zero-filled while holding the GIL, the mapping's pages are
            # faulted in by the first read, outside it
            with mmap.mmap(-1, min(16 << 20, max(size, 1))) as mem, open(path, "rb", buffering=0) as fh:
                buf = memoryview(mem)
                try:
                    fh.seek(offset)
                    left = size
                    while left > 0 and not job._stop.is_set():
                        got = fh.readinto(buf[: min(left, len(buf))])
                        if not got:
                            break
                        view = buf[:got]
                        try:
                            yield view
                        finally:
                            view.release()  # else the map cannot be closed
                        left -= got
                finally:
                    buf.release()

        job = cls(digest, what, size, region)
        job._slotted = size > UNSLOTTED
        job._thread.start()
        return job

    _slotted = False

    def _queued(self) -> Iterator[bytes]:
        assert self._queue is not None
        while (chunk := self._queue.get()) is not None:
            yield chunk

    def _run(self) -> None:
        slots = _file_slots() if self._slotted else None
        if slots is not None:
            slots.acquire()
        try:
            h = hashlib.new(self._algo)
            for chunk in self._chunks(self):
                h.update(chunk)
                self._seen += len(chunk)
            self._actual = f"{self._algo}:{h.hexdigest()}"
        except (OSError, ValueError, BufferError) as exc:
            self._error = str(exc)
        finally:
            if slots is not None:
                slots.release()

    def update(self, data: bytes | memoryview) -> None:
        """Queue ``data`` (a stream's next bytes) for hashing."""
        assert self._queue is not None, "update() is for a stream's digest"
        self._queue.put(bytes(data))

    def result(self) -> str:
        """Wait for the digest (``algo:hex``); "" when the bytes could not be read."""
        if self._queue is not None and self._thread.is_alive():
            self._queue.put(None)
        self._thread.join()
        return self._actual

    def verify(self) -> None:
        """Wait for the digest; BlobError when the bytes could not be read or were fewer than the size,
        DigestMismatchError when they differ."""
        actual = self.result()
        if self._error:
            raise BlobError(f"{self.what}: cannot read: {self._error}")
        check_stream(self.what, self.digest, actual, self._seen, self.size)

    def cancel(self) -> None:
        """Stop early (without a digest)."""
        self._stop.set()
        if self._queue is not None and self._thread.is_alive():
            self._queue.put(None)


#: blobs above this size (or of unknown size) are hashed on a helper thread as they are read
BACKGROUND_HASH_MIN = 4 * 1024 * 1024


class VerifyingReader:
    """Wraps a binary stream; hashes what passes through and checks size and digest at EOF."""

    def __init__(self, raw: BinaryIO, digest: str, size: int | None, what: str) -> None:
        self._raw = raw
        self._digest = digest
        self._size = size
        self._what = what
        self._background = (BackgroundDigest.of_stream(digest, what, size)
                            if size is None or size > BACKGROUND_HASH_MIN else None)
        self._hash = hashlib.new(digest.split(":", 1)[0])
        self._count = 0
        self._done = False

    def read(self, n: int = -1) -> bytes:
        """Read up to ``n`` bytes; on EOF verify size and digest."""
        data = self._raw.read(n)
        if data:
            if self._background is not None:
                self._background.update(data)
            else:
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
        if self._background is not None:
            self._background.verify()
            return
        check_stream(self._what, self._digest, f"{self._digest.split(':', 1)[0]}:{self._hash.hexdigest()}", self._count,
                     self._size)

    def drain(self) -> None:
        """Read to the end (verifying) without keeping the bytes."""
        while self.read(1 << 20):
            pass
        self._finish()

    def close(self) -> None:
        """Close the underlying stream (and stop a background digest not waited for)."""
        if self._background is not None and not self._done:
            self._background.cancel()
        close = getattr(self._raw, "close", None)
        if close:
            close()
