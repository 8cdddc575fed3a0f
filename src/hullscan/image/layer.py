"""Reading layers safely, as streams.

A layer blob is decompressed on the fly (gzip through ``isal`` when installed, else zlib; zstd;
uncompressed) and walked once as a tar stream. Nothing is ever written to disk here. Every entry is
normalised before anyone sees it:

* names are made relative to the image root; ``..`` components that would leave the root make the
  entry *neutralised* (dropped) with a ``path-traversal`` warning; absolute names are confined to the
  root with an ``absolute-path`` warning (what Docker does when it applies a layer);
* symlinks whose target leaves the root, and hard links pointing outside it, are recorded but never
  followed (``link-escape`` warning); hard links to files outside the archive are dropped;
* character and block devices are ignored (``device-file`` warning); FIFOs are ignored silently;
* ``.wh.<name>`` whiteouts and ``.wh..wh..opq`` opaque markers are reported as such;
* limits: bytes decompressed per layer and per image, number of entries, size of one file read.
"""

from __future__ import annotations

import io
import posixpath
import sys
import zlib
from collections.abc import Callable, Iterator
from typing import BinaryIO

from hullscan.errors import BlobError, HullscanError, LimitExceededError
from hullscan.image.tarstream import (
    BLOCKDEV,
    CHAR,
    DIRECTORY,
    FIFO,
    GNU_SPARSE,
    HARDLINK,
    REGULAR,
    SYMLINK,
    Member,
    TarReader,
)
from hullscan.model import FileInfo, ScanWarning
from hullscan.options import Limits

#: tar types walked inline (regular files and directories); the others go through ``_entry``
_PLAIN = REGULAR | {DIRECTORY}
WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"

def _zstd_errors() -> tuple[type[Exception], ...]:
    """zstandard's error type, once a zstd layer has imported the module (importing it up front only slowed the
    start of scans that have none)."""
    error = getattr(sys.modules.get("zstandard"), "ZstdError", None)  # None too while another thread imports it
    return (error,) if isinstance(error, type) and issubclass(error, Exception) else ()


GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def compressed(head: bytes) -> bool:
    """Whether a layer starting with ``head`` (its first 4 bytes) is gzip or zstd compressed (else a plain tar)."""
    return head.startswith((GZIP_MAGIC, ZSTD_MAGIC))


class Budget:
    """Bytes and entries left for the whole image; shared by every layer of one scan (thread-safe enough:
    each layer reserves what it reads through :meth:`take`)."""

    def __init__(self, limits: Limits) -> None:
        import threading

        self.limits = limits
        self._bytes = 0
        self._entries = 0
        self._lock = threading.Lock()

    def take_bytes(self, n: int, what: str) -> None:
        """Account ``n`` decompressed bytes; raise when the image total is exceeded."""
        with self._lock:
            self._bytes += n
            if self._bytes > self.limits.max_total_bytes:
                raise LimitExceededError(
                    f"{what}: more than {self.limits.max_total_bytes} uncompressed bytes in the image"
                    " (max_total_bytes; raise it with --max-image-size)"
                )

    def take_entry(self, what: str, n: int = 1) -> None:
        """Account ``n`` tar entries; raise when the image total is exceeded."""
        with self._lock:
            self._entries += n
            if self._entries > self.limits.max_entries:
                raise LimitExceededError(
                    f"{what}: more than {self.limits.max_entries} tar entries (max_entries; raise it with --max-entries)"
                )

    def take_layer(self, size: int, entries: int, what: str) -> None:
        """Account a whole layer of ``size`` decompressed bytes and ``entries`` tar entries that is not read (its
        analysis came from the cache): the limits hold for it as for a layer that is read."""
        if size > self.limits.max_layer_bytes:
            raise LimitExceededError(
                f"{what}: layer decompresses to more than {self.limits.max_layer_bytes} bytes"
                " (max_layer_bytes; raise it with --max-layer-size)"
            )
        self.take_bytes(size, what)
        self.take_entry(what, entries)

    @property
    def bytes_read(self) -> int:
        """Decompressed bytes read so far."""
        return self._bytes

    @property
    def entries(self) -> int:
        """Entries walked so far."""
        return self._entries


#: a layer hands its counts to the shared :class:`Budget` in batches of this many bytes / entries (one lock per
#: batch instead of two per entry); a batch is handed over early when it would take the image past a limit
_BATCH_BYTES = 1 << 20
_BATCH_ENTRIES = 256


class _Accountant:
    """Counts one layer's decompressed bytes and entries as the tar reader consumes them, enforcing the per-layer
    limit exactly and the per-image ones through the shared budget (before a record is read: a bomb is stopped
    before it is decompressed)."""

    def __init__(self, limits: Limits, budget: Budget, what: str) -> None:
        self._limits = limits
        self._budget = budget
        self._what = what
        self.count = 0  # decompressed bytes of the layer
        self.entries = 0  # tar entries of the layer
        self._bytes = 0  # not yet handed to the budget
        self._entries = 0

    def __call__(self, n: int) -> None:
        self.count += n
        if self.count > self._limits.max_layer_bytes:
            raise LimitExceededError(
                f"{self._what}: layer decompresses to more than {self._limits.max_layer_bytes} bytes"
                " (max_layer_bytes; raise it with --max-layer-size)"
            )
        self._bytes += n
        if self._bytes >= _BATCH_BYTES or self._budget.bytes_read + self._bytes > self._limits.max_total_bytes:
            self._budget.take_bytes(self._bytes, self._what)
            self._bytes = 0

    def entry(self) -> None:
        """Account one entry."""
        self.entries += 1
        self._entries += 1
        if self._entries >= _BATCH_ENTRIES or self._budget.entries + self._entries > self._limits.max_entries:
            self._budget.take_entry(self._what, self._entries)
            self._entries = 0

    def flush(self) -> None:
        """Hand what is left to the budget (the end of the layer)."""
        if self._bytes:
            self._budget.take_bytes(self._bytes, self._what)
            self._bytes = 0
        if self._entries:
            self._budget.take_entry(self._what, self._entries)
            self._entries = 0


class _Peekable(io.RawIOBase):
    """A stream with a few bytes pushed back in front (to sniff the compression)."""

    def __init__(self, head: bytes, inner: BinaryIO) -> None:
        self._head = head
        self._inner = inner

    def readable(self) -> bool:
        return True

    def readinto(self, buf: memoryview) -> int:  # type: ignore[override]
        if self._head:
            n = min(len(buf), len(self._head))
            buf[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._inner.read(len(buf))
        buf[: len(data)] = data
        return len(data)


def decompressed(raw: BinaryIO) -> BinaryIO:
    """A stream of the layer's tar bytes: the compression is sniffed from the magic bytes (media types lie:
    docker-save layers are plain tars, some registries serve zstd under a gzip type)."""
    head = raw.read(4)
    stream = io.BufferedReader(_Peekable(head, raw), buffer_size=1 << 20)
    if head.startswith(GZIP_MAGIC):
        try:
            from isal import igzip

            return igzip.IGzipFile(fileobj=stream, mode="rb")  # type: ignore[return-value]
        except ImportError:  # pragma: no cover - isal is an optional speed-up
            import gzip

            return gzip.GzipFile(fileobj=stream, mode="rb")  # type: ignore[return-value]
    if head.startswith(ZSTD_MAGIC):
        import zstandard

        return zstandard.ZstdDecompressor(max_window_size=1 << 31).stream_reader(  # type: ignore[return-value]
            stream, read_across_frames=True, closefd=False
        )
    return stream  # type: ignore[return-value]


class Entry:
    """One normalised layer entry. ``whiteout``/``opaque`` entries carry only the path they affect.

    The metadata is kept as plain slots: the :class:`~hullscan.model.FileInfo` that analyzers see is made on first
    use of :attr:`info` (most entries of a layer are never shown to an analyzer)."""

    __slots__ = ("_info", "gid", "kind", "linkname", "mode", "opaque", "path", "reader", "size", "uid", "whiteout")

    def __init__(self, path: str, kind: str = "file", size: int = 0, mode: int = 0o644, uid: int = 0, gid: int = 0,
                 linkname: str = "", *, whiteout: bool = False, opaque: bool = False,
                 reader: Callable[[], bytes] | None = None) -> None:
        self.path, self.kind, self.size, self.mode, self.uid, self.gid, self.linkname = path, kind, size, mode, uid, gid, linkname
        self.whiteout, self.opaque, self.reader = whiteout, opaque, reader
        self._info: FileInfo | None = None

    @property
    def info(self) -> FileInfo:
        """The entry's metadata as the analyzers' FileInfo."""
        if self._info is None:
            self._info = FileInfo(self.path, self.size, self.mode, self.uid, self.gid, self.kind, self.linkname)
        return self._info

    def read(self) -> bytes:
        """The file's content (for tar streams: call only while the walk is positioned on this entry)."""
        return self.reader() if self.reader is not None else b""


def normalise(name: str) -> tuple[str | None, str]:
    """Map a tar name to an absolute path inside the root.

    Returns ``(path, problem)``: ``path`` is None when the entry must be dropped; ``problem`` is
    ``""``, ``"absolute-path"`` or ``"path-traversal"``.
    """
    rel = name[2:] if name.startswith("./") else name  # most layer tars name entries ./usr/...
    if not rel.startswith(("/", ".")) and "/." not in rel and "//" not in rel:
        return "/" + rel.rstrip("/"), ""  # the common case: already clean and relative
    problem = ""
    if name.startswith("/"):
        problem = "absolute-path"
    stripped = name.lstrip("/")
    if stripped.startswith("./"):
        stripped = stripped[2:]
    if stripped in ("", "."):
        return "/", problem
    parts = stripped.split("/")
    depth = 0
    for part in parts:
        if part == "..":
            depth -= 1
            if depth < 0:
                return None, "path-traversal"
        elif part not in ("", "."):
            depth += 1
    norm = posixpath.normpath("/" + stripped)
    return norm, problem


def link_escapes(path: str, target: str) -> bool:
    """Whether a symlink at ``path`` pointing at ``target`` resolves outside the root when taken literally
    (absolute targets are inside the root by definition: they are resolved against the image root)."""
    if target.startswith("/"):
        return False
    depth = len([p for p in posixpath.dirname(path).split("/") if p])
    for part in target.split("/"):
        if part == "..":
            depth -= 1
            if depth < 0:
                return True
        elif part not in ("", "."):
            depth += 1
    return False


def walk_layer(
    raw: BinaryIO, layer_id: str, limits: Limits, budget: Budget, warnings: list[ScanWarning],
    totals: Callable[[int, int], None] | None = None,
) -> Iterator[Entry]:
    """Walk a layer blob stream once, yielding normalised entries; problems go to ``warnings``; at the end,
    ``totals`` (when given) is told the layer's decompressed size and number of entries.

    ``raw`` is the stored (possibly compressed) blob. Raises BlobError for a stream that is not a
    valid tar / compressed tar, LimitExceededError when a limit is exceeded.
    """
    what = f"layer {layer_id}"
    try:
        seek = _plain_seekable(raw)
        stream = raw if seek else decompressed(raw)
        accountant = _Accountant(limits, budget, what)
        reader = TarReader(stream, what, accountant, seek=seek)
        read = _guarded(reader.read, layer_id)
        count = accountant.entry
        for name, t, size, mode, uid, gid, linkname in reader.records():
            count()
            # the common case inline: a clean relative name ("./usr/x" or "usr/x", no "." component, no whiteout),
            # a regular file or a directory; everything else (and every warning) goes through _entry
            rel = name[2:] if name[:2] == "./" else name
            if t in _PLAIN and rel and rel[0] not in "/." and "/." not in rel and "//" not in rel:
                if t == DIRECTORY or rel[-1] == "/":
                    yield Entry("/" + rel.rstrip("/"), "dir", 0, mode & 0o7777, uid, gid)
                else:
                    yield Entry("/" + rel, "file", size, mode & 0o7777, uid, gid, reader=read)
                continue
            entry = _entry(read, Member(name, t, size, mode, uid, gid, linkname), layer_id, warnings)
            if entry is not None:
                yield entry
        accountant.flush()
        if totals is not None:
            totals(accountant.count, accountant.entries)
        if not seek:
            # read what is left (tar padding, compression trailer) so the caller's digest check sees every byte
            while stream.read(1 << 20):
                pass
    except (EOFError, OSError, ValueError, zlib.error) as exc:
        if isinstance(exc, HullscanError):
            raise
        raise BlobError(f"{what}: truncated or corrupt compressed stream ({_cause(exc)})") from None
    except _zstd_errors() as exc:
        raise BlobError(f"{what}: corrupt zstd stream ({_cause(exc)})") from None


def _plain_seekable(raw: BinaryIO) -> bool:
    """Whether ``raw`` is an uncompressed tar that can be walked with seeks (skipping the data nobody reads). Only
    streams that say they are seekable qualify: a blob being verified while it streams is not (its digest check
    must see every byte), a local blob checked by other means is (see ``image.local._CheckedBlob``)."""
    seekable = getattr(raw, "seekable", None)
    if not callable(seekable) or not seekable():
        return False
    head = raw.read(4)
    raw.seek(0)
    return not compressed(head)


def _cause(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text[:200]


def _entry(read: Callable[[], bytes], m: Member, layer_id: str, warnings: list[ScanWarning]) -> Entry | None:
    path, problem = normalise(m.name)
    if path is None:
        warnings.append(ScanWarning("path-traversal", f"entry {m.name!r} leaves the image root: ignored", m.name, layer_id))
        return None
    if problem:
        warnings.append(ScanWarning(problem, f"entry {m.name!r} has an absolute path: confined to the root as {path}", path, layer_id))
    base = path.rpartition("/")[2]
    if base == OPAQUE_MARKER:
        return Entry(posixpath.dirname(path), "dir", opaque=True)
    if base.startswith(WHITEOUT_PREFIX):
        target = posixpath.join(posixpath.dirname(path), base[len(WHITEOUT_PREFIX):])
        return Entry(target, "file", whiteout=True)
    t = m.type
    if t in (CHAR, BLOCKDEV):
        warnings.append(ScanWarning("device-file", f"device file {path} ignored", path, layer_id))
        return None
    if t == FIFO:
        return None
    mode = m.mode & 0o7777
    if t == SYMLINK:
        target = m.linkname
        if link_escapes(path, target):
            warnings.append(
                ScanWarning("link-escape", f"symlink {path} -> {target!r} points outside the image root: not followed", path, layer_id)
            )
            target = ""
        return Entry(path, "symlink", 0, mode, m.uid, m.gid, target)
    if t == HARDLINK:
        target_path, _ = normalise(m.linkname)
        if target_path is None:
            warnings.append(
                ScanWarning("link-escape", f"hard link {path} -> {m.linkname!r} points outside the image root: ignored", path, layer_id)
            )
            return None
        return Entry(path, "hardlink", 0, mode, m.uid, m.gid, target_path)
    if m.isdir():
        return Entry(path, "dir", 0, mode, m.uid, m.gid)
    if m.isreg() or t == GNU_SPARSE:
        return Entry(path, "file", m.size, mode, m.uid, m.gid, reader=read)
    return None


def _guarded(read: Callable[[], bytes], layer_id: str) -> Callable[[], bytes]:
    """``read`` with decompression errors turned into BlobError (it runs in the consumer, outside the walk)."""

    def guarded() -> bytes:
        try:
            return read()
        except Exception as exc:  # noqa: BLE001  the decompressors' errors, zstandard's known only once it is loaded
            if not isinstance(exc, (EOFError, OSError, ValueError, zlib.error, *_zstd_errors())):
                raise
            if isinstance(exc, HullscanError):
                raise
            raise BlobError(f"layer {layer_id}: truncated or corrupt compressed stream ({_cause(exc)})") from None

    return guarded
