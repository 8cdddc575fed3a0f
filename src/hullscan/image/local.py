"""Local image sources: OCI image layout directory, OCI archive (tar of a layout), ``docker save`` archive.

(A plain root-filesystem directory is not an image: see :mod:`hullscan.image.rootfs`.)
"""

from __future__ import annotations

import errno
import functools
import io
import json
import os
import stat
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, NamedTuple

from hullscan.errors import BlobError, InputError, ManifestError
from hullscan.image.layer import compressed, decompressed
from hullscan.image.source import (
    ImageSource,
    ResolvedImage,
    config_descriptor,
    parse_image,
    parse_json,
    select_manifest,
)
from hullscan.model import Artifact, Platform
from hullscan.oci import (
    DOCKER_CONFIG,
    INDEX_TYPES,
    OCI_LAYER,
    BackgroundDigest,
    Descriptor,
    VerifyingReader,
    valid_digest,
)

if TYPE_CHECKING:  # tarfile is imported for compressed archives only
    import tarfile

REF_NAME = "org.opencontainers.image.ref.name"
#: the most members an image archive (docker save, OCI archive) may have: it is indexed in memory
MAX_ARCHIVE_MEMBERS = 100_000


class _BlobStore:
    """Reads ``blobs/<algo>/<hex>`` from somewhere (a directory or a tar)."""

    def open(self, digest: str) -> BinaryIO:  # pragma: no cover - interface
        raise NotImplementedError

    def read(self, digest: str, what: str, max_size: int = 16 * 1024 * 1024) -> bytes:
        """Read a small blob (index, manifest, config) fully and verify it."""
        fh = VerifyingReader(self.open(digest), digest, None, what)
        try:
            data = fh.read(max_size + 1)
            if len(data) > max_size:
                raise ManifestError(f"{what}: larger than {max_size} bytes")
            fh.read()  # EOF: verifies
        finally:
            fh.close()
        return data


class _DirBlobs(_BlobStore):
    def __init__(self, root: Path) -> None:
        self.root = root

    def open(self, digest: str) -> BinaryIO:
        if not valid_digest(digest):
            raise ManifestError(f"invalid digest {digest!r}")
        algo, hexpart = digest.split(":", 1)
        path = self.root / "blobs" / algo / hexpart
        try:
            return _open_regular(path)
        except FileNotFoundError:
            raise BlobError(f"blob {digest} missing from {self.root}") from None
        except OSError as exc:
            raise BlobError(f"blob {digest} in {self.root}: {exc.strerror or exc}") from None


class _Slice(io.RawIOBase):
    """An independent, bounded reader over ``size`` bytes at ``offset`` of a file (one per blob, so layers
    can be read by several threads at once)."""

    def __init__(self, path: Path, offset: int, size: int) -> None:
        self._fh = open(path, "rb", buffering=0)  # noqa: SIM115 - closed by close()
        self._fh.seek(offset)
        self._start = offset
        self._left = size
        self._size = size

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._fh.fileno()

    @property
    def start(self) -> int:
        """Where the slice starts in the file."""
        return self._start

    @property
    def size(self) -> int:
        """The slice's length."""
        return self._size

    def tell(self) -> int:
        return self._size - self._left

    def seek(self, pos: int, whence: int = 0) -> int:
        if whence == io.SEEK_CUR:
            pos += self._size - self._left
        elif whence == io.SEEK_END:
            pos += self._size
        if not 0 <= pos <= self._size:
            raise OSError(f"seek to {pos}: outside the {self._size}-byte member")
        self._fh.seek(self._start + pos)
        self._left = self._size - pos
        return pos

    def readinto(self, buf: Any) -> int:
        n = min(len(buf), self._left)
        if n <= 0:
            return 0
        got = self._fh.readinto(memoryview(buf)[:n])
        self._left -= got
        return got

    def close(self) -> None:
        self._fh.close()
        super().close()


class _CheckedBlob(io.BufferedReader):
    """A plain blob stored in a local file, readable with seeks (a tar walk skips what nobody reads), whose digest
    is checked by a :class:`BackgroundDigest`: :meth:`drain` (called by the scan after the walk) verifies it."""

    def __init__(self, raw: _Slice, check: BackgroundDigest) -> None:
        super().__init__(raw, 64 * 1024)
        self._check = check

    def drain(self) -> None:
        """Raise unless the blob's bytes are the claimed digest (waits for the helper thread)."""
        self._check.verify()

    def close(self) -> None:
        self._check.cancel()
        super().close()


class _Member(NamedTuple):
    """Where a regular member's data is in an uncompressed archive."""

    offset_data: int
    size: int


class _TarBlobs(_BlobStore):
    """The members of an image archive: an uncompressed one is indexed by the lean tar reader and read at member
    offsets by independent handles (``direct``); a compressed one (``docker save | gzip``) through ``tarfile``."""

    def __init__(self, origin: str, path: Path) -> None:
        self.origin = origin
        self.path = path
        #: an uncompressed archive can be read at member offsets by independent handles
        self.direct = _is_plain_tar(path)
        self.tar: tarfile.TarFile | None = None
        self.members: dict[str, _Member] | dict[str, tarfile.TarInfo]
        if self.direct:
            self.members = _plain_index(path)
            return
        import tarfile

        self.tar = _open_tar(path)
        members: dict[str, tarfile.TarInfo] = {}
        try:
            for count, member in enumerate(self.tar, 1):
                if count > MAX_ARCHIVE_MEMBERS:  # an image archive has a few per layer; this is something else
                    raise ManifestError(f"{origin}: more than {MAX_ARCHIVE_MEMBERS} members: not an image archive")
                if member.isreg():
                    members[member.name.lstrip("./")] = member
        except (tarfile.TarError, OSError, EOFError) as exc:
            self.tar.close()
            raise BlobError(f"{origin}: not a readable tar archive ({exc})") from None
        self.members = members

    def close(self) -> None:
        """Close the archive (a compressed one is held open by ``tarfile``)."""
        if self.tar is not None:
            self.tar.close()

    def head(self, name: str, n: int) -> bytes:
        """The first ``n`` bytes of member ``name`` (without filling a 1 MiB read buffer to get them)."""
        member = self.members.get(name.lstrip("./"))
        if member is not None and self.direct:
            with _Slice(self.path, member.offset_data, member.size) as raw:
                return raw.read(n) or b""
        with self.open_name(name) as fh:
            return fh.read(n)

    def open_name(self, name: str) -> BinaryIO:
        member = self.members.get(name.lstrip("./"))
        if member is None:
            raise BlobError(f"{name} missing from {self.origin}")
        if self.direct:
            return io.BufferedReader(_Slice(self.path, member.offset_data, member.size), 1 << 20)  # type: ignore[return-value]
        assert self.tar is not None and not isinstance(member, _Member)
        fh = self.tar.extractfile(member)
        if fh is None:  # pragma: no cover - regular members always extract
            raise BlobError(f"{name} unreadable in {self.origin}")
        return fh  # type: ignore[return-value]


    def open(self, digest: str) -> BinaryIO:
        if not valid_digest(digest):
            raise ManifestError(f"invalid digest {digest!r}")
        algo, hexpart = digest.split(":", 1)
        return self.open_name(f"blobs/{algo}/{hexpart}")

    def start_check(self, name: str, digest: str, what: str) -> BackgroundDigest:
        """Start checking that member ``name`` of an uncompressed archive has ``digest`` (on a helper thread)."""
        member = self.members.get(name.lstrip("./"))
        if member is None:
            raise BlobError(f"{name} missing from {self.origin}")
        return BackgroundDigest.of_file(self.path, member.offset_data, member.size, digest, what)

    def open_checked(self, name: str, check: BackgroundDigest) -> BinaryIO:
        """Member ``name`` as a seekable stream whose digest ``check`` verifies (:class:`_CheckedBlob`)."""
        member = self.members[name.lstrip("./")]
        return _CheckedBlob(_Slice(self.path, member.offset_data, member.size), check)  # type: ignore[return-value]


def _is_plain_tar(path: Path) -> bool:
    """Whether the archive at ``path`` is uncompressed. InputError unless it is a regular file (a FIFO would block
    the scan forever)."""
    try:
        with _open_regular(path) as fh:
            head = fh.read(4)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as exc:
        if exc.errno == errno.EINVAL:
            raise InputError(f"{path}: not a regular file (a pipe or a device?): save the archive to a file first") from None
        raise BlobError(f"{path}: cannot read ({exc.strerror or exc})") from None
    return not (head[:2] == b"\x1f\x8b" or head == b"\x28\xb5\x2f\xfd" or head[:3] == b"BZh" or head[:5] == b"\xfd7zXZ")


class OCILayoutSource(ImageSource):
    """An OCI image layout (``oci-layout``, ``index.json``, ``blobs/``), in a directory or a tar."""

    kind = "oci-layout"

    def __init__(self, path: str | Path, tag: str | None = None) -> None:
        self.path = Path(path)
        self.tag = tag
        self._archive: _TarBlobs | None = None
        if self.path.is_dir():
            self.blobs: _BlobStore = _DirBlobs(self.path)
            index_bytes = _read_file(self.path / "index.json", f"{self.path}/index.json")
        else:
            self.kind = "oci-archive"
            tblobs = self._archive = _TarBlobs(str(self.path), self.path)
            self.parallel = tblobs.direct
            self.blobs = tblobs
            with tblobs.open_name("index.json") as fh:
                index_bytes = fh.read()
        self.index = parse_json(index_bytes, f"{self.path}: index.json")

    def resolve(self, platform: Platform | None = None) -> ResolvedImage:
        where = str(self.path)
        desc = self._pick(self.index, platform, where)
        while desc.media_type in INDEX_TYPES:
            inner = parse_json(self.blobs.read(desc.digest, f"{where} index {desc.digest}"), f"{where} index")
            desc = select_manifest(inner, platform, f"{where} index {desc.digest}")
        manifest_bytes = self.blobs.read(desc.digest, f"{where} manifest {desc.digest}")
        manifest = parse_json(manifest_bytes, f"{where} manifest {desc.digest}")
        if manifest.get("mediaType") in INDEX_TYPES or "manifests" in manifest:
            inner_desc = select_manifest(manifest, platform, f"{where} index {desc.digest}")
            desc = inner_desc
            manifest_bytes = self.blobs.read(desc.digest, f"{where} manifest {desc.digest}")
            manifest = parse_json(manifest_bytes, f"{where} manifest {desc.digest}")
        cfg_desc = config_descriptor(manifest, f"{where} manifest {desc.digest}")
        config_bytes = self.blobs.read(cfg_desc.digest, f"{where} config {cfg_desc.digest}")
        tag = dict(desc.annotations).get(REF_NAME, self.tag or "")
        artifact = Artifact(name=where, kind=self.kind, digest=desc.digest, config_digest=cfg_desc.digest, tag=tag)
        return parse_image(artifact, manifest_bytes, config_bytes, where)

    def _pick(self, index: dict[str, Any], platform: Platform | None, where: str) -> Descriptor:
        manifests = index.get("manifests")
        if not isinstance(manifests, list) or not manifests:
            raise ManifestError(f"{where}: index.json lists no manifests")
        descs = [Descriptor.parse(m, f"{where} index.json manifests[{i}]") for i, m in enumerate(manifests)]
        if self.tag:
            tagged = [d for d in descs if dict(d.annotations).get(REF_NAME) == self.tag]
            if not tagged:
                names = sorted({dict(d.annotations).get(REF_NAME, "") for d in descs} - {""})
                raise InputError(f"{where}: no image tagged {self.tag!r} (tags: {', '.join(names) or 'none'})")
            descs = tagged
        if len(descs) == 1:
            return descs[0]
        if all(d.platform for d in descs):
            return select_manifest({"manifests": [m for m in manifests if _in(m, descs)]}, platform, where)
        raise InputError(f"{where}: the layout holds {len(descs)} images: name one with oci:{where}:TAG")

    def open_blob(self, desc: Descriptor) -> BinaryIO:
        return VerifyingReader(self.blobs.open(desc.digest), desc.digest, desc.size, f"blob {desc.digest}")  # type: ignore[return-value]

    def close(self) -> None:
        if self._archive is not None:
            self._archive.close()


def _in(raw: dict[str, Any], descs: list[Descriptor]) -> bool:
    return any(raw.get("digest") == d.digest for d in descs)


class DockerArchiveSource(ImageSource):
    """A ``docker save`` archive: ``manifest.json`` + config JSON + one tar per layer (legacy or OCI-style paths)."""

    kind = "docker-archive"

    def __init__(self, path: str | Path, tag: str | None = None) -> None:
        self.path = Path(path)
        self.tag = tag
        self._blobs = _TarBlobs(str(self.path), self.path)
        self.parallel = self._blobs.direct
        with self._blobs.open_name("manifest.json") as fh:
            raw = fh.read()
        try:
            entries = json.loads(raw)
        except ValueError as exc:
            raise ManifestError(f"{self.path}: manifest.json is not valid JSON ({exc})") from None
        if not isinstance(entries, list) or not entries or not all(isinstance(e, dict) for e in entries):
            raise ManifestError(f"{self.path}: manifest.json must be a non-empty list of images")
        self.entries: list[dict[str, Any]] = entries
        self._layer_names: dict[str, str] = {}
        self._checks: dict[str, BackgroundDigest] = {}
        self._plain_layers: dict[str, bool] = {}

    def resolve(self, platform: Platform | None = None) -> ResolvedImage:
        where = str(self.path)
        entry = self.entries[0]
        if self.tag:
            match = [e for e in self.entries if self.tag in (e.get("RepoTags") or [])]
            if not match:
                raise InputError(f"{where}: no image tagged {self.tag!r}")
            entry = match[0]
        elif len(self.entries) > 1:
            raise InputError(f"{where}: the archive holds {len(self.entries)} images: name one with docker-archive:{where}:TAG")
        cfg_name = entry.get("Config")
        layer_names = entry.get("Layers")
        if not isinstance(cfg_name, str) or not isinstance(layer_names, list) or not all(isinstance(n, str) for n in layer_names):
            raise ManifestError(f"{where}: manifest.json entry needs 'Config' and 'Layers'")
        with self._blobs.open_name(cfg_name) as fh:
            config_bytes = fh.read()
        config = parse_json(config_bytes, f"{where} config {cfg_name}")
        diff_ids = (config.get("rootfs") or {}).get("diff_ids") if isinstance(config.get("rootfs"), dict) else None
        if not isinstance(diff_ids, list) or len(diff_ids) != len(layer_names):
            raise ManifestError(f"{where} config: rootfs.diff_ids does not match the {len(layer_names)} layers of manifest.json")
        layers = []
        for name, diff_id in zip(layer_names, diff_ids):
            member = self._blobs.members.get(name.lstrip("./"))
            if member is None:
                raise BlobError(f"{where}: layer {name} missing from the archive")
            if not isinstance(diff_id, str) or not valid_digest(diff_id):
                raise ManifestError(f"{where} config: invalid diff_id {diff_id!r}")
            self._layer_names[diff_id] = name
            layers.append({"mediaType": OCI_LAYER, "digest": diff_id, "size": member.size})
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"mediaType": DOCKER_CONFIG, "digest": _sha256(config_bytes), "size": len(config_bytes)},
            "layers": layers,
        }
        tags = entry.get("RepoTags") or []
        tag = self.tag or (tags[0] if tags else "")
        artifact = Artifact(name=where, kind=self.kind, config_digest=_sha256(config_bytes), tag=tag)
        return parse_image(artifact, json.dumps(manifest).encode(), config_bytes, where)

    def _plain(self, name: str) -> bool:
        """Whether layer member ``name`` is an uncompressed tar (sniffed once per member)."""
        plain = self._plain_layers.get(name)
        if plain is None:
            plain = self._plain_layers[name] = not compressed(self._blobs.head(name, 4))
        return plain

    def prefetch(self, layers: Sequence[Descriptor]) -> None:
        """Start checking the digests of the uncompressed layers now, on helper threads (the walk finds them
        under way or done)."""
        if not self._blobs.direct:
            return
        for desc in layers:
            name = self._layer_names.get(desc.digest)
            if name is not None and desc.digest not in self._checks and self._plain(name):
                self._checks[desc.digest] = self._blobs.start_check(name, desc.digest, f"layer {name}")

    def in_memory(self, layers: Sequence[Descriptor]) -> bool:
        """Uncompressed layers of an uncompressed archive are read from the local file (the page cache), with no
        decompression to overlap."""
        names = [self._layer_names.get(desc.digest) for desc in layers]
        return self._blobs.direct and all(name is not None and self._plain(name) for name in names)

    def open_blob(self, desc: Descriptor) -> BinaryIO:
        name = self._layer_names.get(desc.digest)
        if name is None:
            raise BlobError(f"{self.path}: unknown layer {desc.digest}")
        if not self._plain(name):
            # compressed layer: nothing else vouches for it, so its tar bytes are verified against the
            # diff_id (else a hostile archive could claim a known layer's diff_id and poison the cache)
            return VerifyingReader(_Decompressed(self._blobs.open_name(name), name), desc.digest, None, f"layer {name}")  # type: ignore[return-value,arg-type]
        # uncompressed (the usual case): the stored bytes are the diff itself, verify against diff_id
        if self._blobs.direct:
            check = self._checks.pop(desc.digest, None) or self._blobs.start_check(name, desc.digest, f"layer {name}")
            return self._blobs.open_checked(name, check)
        return VerifyingReader(self._blobs.open_name(name), desc.digest, desc.size, f"layer {name}")  # type: ignore[return-value]

    def close(self) -> None:
        for check in self._checks.values():  # prefetched but never walked (a cached layer, an error)
            check.cancel()
        self._checks.clear()
        self._blobs.close()


class _Decompressed(io.RawIOBase):
    """The tar bytes of a compressed archive member; closing it closes the member too."""

    def __init__(self, member: BinaryIO, name: str) -> None:
        super().__init__()
        self._member = member
        self._name = name
        self._stream = decompressed(member)

    def readable(self) -> bool:
        return True

    def readinto(self, buf: Any) -> int:
        try:
            data = self._stream.read(len(buf))
        except (OSError, EOFError, ValueError, zlib.error) as exc:
            raise BlobError(f"layer {self._name}: truncated or corrupt compressed stream ({exc})") from None
        buf[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._stream.close()
        self._member.close()
        super().close()


def _sha256(data: bytes) -> str:
    import hashlib

    return "sha256:" + hashlib.sha256(data).hexdigest()


def _open_tar(path: Path) -> tarfile.TarFile:
    import tarfile  # (only for compressed archives: plain ones are indexed by the lean tar reader)

    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # a pipe would block (no writer) or cannot seek
            raise InputError(f"{path}: not a regular file (a pipe or a device?): save the archive to a file first")
        return tarfile.open(path, "r:*")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except tarfile.ReadError:  # its message lists every method tried, over several lines
        raise BlobError(f"{path}: not a readable tar archive (plain, gzip, bzip2 or xz)") from None
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise BlobError(f"{path}: not a readable tar archive ({exc})") from None


def _open_regular(path: Path) -> BinaryIO:
    """Open a file of an image layout for reading; OSError unless it is a regular file (a FIFO would block
    the scan forever, a directory or a symlink loop would fail later with a less clear message)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "rb")


def _read_file(path: Path, what: str) -> bytes:
    try:
        with _open_regular(path) as fh:
            return fh.read()
    except FileNotFoundError:
        raise ManifestError(f"{what}: missing") from None
    except OSError as exc:
        raise InputError(f"{what}: {exc.strerror}") from None


@functools.lru_cache(maxsize=8)
def _plain_index_of(path: str, identity: tuple[int, ...], limit: int) -> dict[str, _Member]:
    """The regular members of an uncompressed tar archive, by name (``identity``: the file's, so that sniffing
    the archive and opening it list it once)."""
    from hullscan.image.tarstream import REGULAR, TarReader

    members: dict[str, _Member] = {}
    count = 0
    try:
        with _open_regular(Path(path)) as fh:
            reader = TarReader(fh, "archive", seek=True)
            for count, (name, kind, size, *_rest) in enumerate(reader.records(), 1):
                if count > limit:  # an image archive has a few per layer; this is something else
                    raise ManifestError(f"{path}: more than {limit} members: not an image archive")
                if kind in REGULAR:
                    members[name.lstrip("./")] = _Member(reader.position, size)
    except BlobError as exc:
        if not count:  # not a tar at all (the words tarfile used for it)
            raise BlobError(f"{path}: not a readable tar archive (plain, gzip, bzip2 or xz)") from None
        raise BlobError(f"{path}: not a readable tar archive ({str(exc).removeprefix('archive: ')})") from None
    except OSError as exc:
        raise BlobError(f"{path}: not a readable tar archive ({exc.strerror or exc})") from None
    return members


def _plain_index(path: Path) -> dict[str, _Member]:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    if not stat.S_ISREG(st.st_mode):  # a pipe would block (no writer) or cannot seek
        raise InputError(f"{path}: not a regular file (a pipe or a device?): save the archive to a file first")
    if not st.st_size:
        raise BlobError(f"{path}: not a readable tar archive (plain, gzip, bzip2 or xz)")
    return dict(_plain_index_of(str(path), (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns), MAX_ARCHIVE_MEMBERS))


def sniff_archive(path: Path) -> str:
    """``docker-archive`` or ``oci-archive`` for a tar file (by its top-level members)."""
    if _is_plain_tar(path):
        return _kind_of(set(_plain_index(path)), path)
    import tarfile

    tar = _open_tar(path)
    names: set[str] = set()
    try:  # the first members only: getmembers() would index a hostile archive's millions of entries
        for _ in range(10000):
            member = tar.next()
            if member is None:
                break
            names.add(member.name.lstrip("./"))
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise BlobError(f"{path}: not a readable tar archive ({exc})") from None
    finally:
        tar.close()
    return _kind_of(names, path)


def _kind_of(names: set[str], path: Path) -> str:
    if "manifest.json" in names:
        return "docker-archive"
    if "index.json" in names or "oci-layout" in names:
        return "oci-archive"
    raise InputError(f"{path}: a tar file but neither a docker-save archive (manifest.json) nor an OCI archive (index.json)")
