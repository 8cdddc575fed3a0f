"""The analyzer contract.

The scan core walks each layer once. For every entry it asks each analyzer ``wants(path, info)``;
only when one says yes is the file's content read, and then ``analyze(file)`` is called with a
:class:`FileInput`. Analyzers never walk the filesystem themselves and never touch the disk
outside what the core hands them. Results are cached per layer, keyed by the layer's diff_id
plus every analyzer's ``name`` and ``version``: bump ``version`` whenever the output changes.
"""

from __future__ import annotations

import io
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO, ClassVar, Protocol

from hullscan.model import AnalysisResult, FileInfo


class FileMeta(Protocol):
    """What ``wants`` is shown of an entry: its metadata, as :class:`~hullscan.model.FileInfo` holds it (the core
    passes the layer entry itself, so that entries nobody wants never become a FileInfo)."""

    @property
    def path(self) -> str: ...

    @property
    def size(self) -> int: ...

    @property
    def mode(self) -> int: ...

    @property
    def uid(self) -> int: ...

    @property
    def gid(self) -> int: ...

    @property
    def kind(self) -> str: ...

    @property
    def linkname(self) -> str: ...


@dataclass
class FileInput:
    """One file handed to an analyzer.

    ``read()`` returns the content (at most ``limit`` bytes, the core's per-file limit).
    ``layer`` is the diff_id of the layer being analysed.
    """

    path: str
    info: FileInfo
    layer: str
    _reader: Callable[[], bytes]
    _content: bytes | None = None

    def read(self) -> bytes:
        """The whole content (bounded by the core's per-file size limit). Read once, then kept."""
        if self._content is None:
            self._content = self._reader()
        return self._content

    def view(self) -> memoryview:
        """The content as a view (of :meth:`read`), for analyzers that look at a few parts of a big file (an
        executable's headers and one section) without copying them."""
        return memoryview(self.read())

    def open(self) -> BinaryIO:
        """A seekable binary stream over the content (for zip readers and the like)."""
        return io.BytesIO(self.read())

    def text(self, errors: str = "replace") -> str:
        """The content decoded as UTF-8."""
        return self.read().decode("utf-8", errors=errors)

    @classmethod
    def from_bytes(cls, path: str, data: bytes, layer: str = "", mode: int = 0o644) -> FileInput:
        """A FileInput over in-memory bytes (tests, SBOM and directory sources)."""
        info = FileInfo(path=path, size=len(data), mode=mode)
        return cls(path=path, info=info, layer=layer, _reader=lambda: data)


@dataclass(frozen=True)
class EntryHint:
    """A cheap pre-filter over entries, a superset of what an analyzer's ``wants`` accepts: the lower-cased path ends
    with one of ``suffixes`` or starts with one of ``prefixes``, or the entry is at least ``min_size`` bytes."""

    suffixes: tuple[str, ...] = ()
    prefixes: tuple[str, ...] = ()
    min_size: int | None = None


class Analyzer(ABC):
    """A per-file plugin that turns files into packages, a distro, findings or facts.

    Subclasses set ``name`` (stable, e.g. ``os/dpkg``), ``version`` (bump on output change) and
    ``tags`` (selection: ``os``, ``lang``, ``python``, ``secret``, ``malware``, ``baseline``...).
    ``max_size`` is the largest file (bytes) the analyzer will accept; larger files are skipped
    with a warning by the core.
    """

    name: ClassVar[str]
    version: ClassVar[int]
    tags: ClassVar[frozenset[str]] = frozenset()
    max_size: ClassVar[int] = 64 * 1024 * 1024
    #: True when ``analyze`` needs only the metadata (``info``), never the content
    metadata_only: ClassVar[bool] = False
    #: entry kinds ``wants`` is asked about (``file``, ``hardlink``, ``dir``, ``symlink``): the core skips the call
    #: for other kinds, which keeps the per-entry cost low on images with 100,000s of entries
    kinds: ClassVar[frozenset[str]] = frozenset({"file", "hardlink"})

    @abstractmethod
    def wants(self, path: str, info: FileMeta) -> bool:
        """Whether this analyzer needs ``path``. Must be cheap: it is called for every entry."""

    @abstractmethod
    def analyze(self, file: FileInput) -> AnalysisResult | None:
        """Analyse one file. Raise nothing for malformed input: return a result with a warning."""

    def path_hint(self) -> EntryHint | None:
        """What every entry :meth:`wants` may accept has in common (see :class:`EntryHint`): the core checks the hints
        of all analyzers at once and asks ``wants`` only about the entries that match one (most entries of a layer
        match none). None (the default): ``wants`` is asked about every entry."""
        return None

    def cache_salt(self) -> str:
        """Extra text folded into the cache key (e.g. a digest of the rule files in use)."""
        return ""


#: text files are sniffed for a NUL byte in this many leading bytes
SNIFF_BYTES = 8192


def is_binary(data: bytes) -> bool:
    """True when a NUL byte occurs in the first :data:`SNIFF_BYTES` bytes."""
    return b"\0" in data[:SNIFF_BYTES]
