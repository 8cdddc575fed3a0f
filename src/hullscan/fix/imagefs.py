"""The few files a fix needs, read from an image's layers as the container would see them (whiteouts and opaque
directories applied, topmost layer wins): the package database, the apt/apk configuration and keyrings, the
os-release and ``/etc`` (for conffiles). Every other file is skipped unread."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from hullscan.image.layer import Budget, walk_layer
from hullscan.image.source import ImageSource
from hullscan.model import ScanWarning
from hullscan.oci import Descriptor
from hullscan.options import Limits

#: files larger than this are not kept (the databases and keyrings of real images are far smaller)
MAX_KEPT = 64 * 1024 * 1024


@dataclass
class ImageFile:
    """A file (or link) of the squashed image."""

    path: str
    kind: str  # file | symlink | hardlink | dir
    data: bytes = b""
    mode: int = 0o644
    linkname: str = ""
    layer: int = 0


@dataclass
class ImageFiles:
    """The kept files by path, and every non-directory path the image has (for owner checks)."""

    files: dict[str, ImageFile] = field(default_factory=dict)

    def read(self, path: str) -> bytes | None:
        """The content of a regular file (following symlinks inside the image, a few hops), or None."""
        for _ in range(8):
            f = self.files.get(path)
            if f is None:
                return None
            if f.kind in ("file", "hardlink"):
                if f.kind == "hardlink":
                    target = self.files.get(f.linkname)
                    return target.data if target is not None else None
                return f.data
            if f.kind != "symlink":
                return None
            import posixpath

            path = posixpath.normpath(f.linkname if f.linkname.startswith("/")
                                      else posixpath.join(posixpath.dirname(path), f.linkname))
        return None

    def under(self, prefix: str) -> list[str]:
        """Kept paths below ``prefix`` (a folder ending with ``/``), sorted."""
        return sorted(p for p in self.files if p.startswith(prefix))


def wanted_default(path: str) -> bool:
    """What a Debian or Alpine fix reads."""
    return path.startswith(("/etc/", "/var/lib/dpkg/", "/usr/share/keyrings/", "/lib/apk/db/", "/usr/lib/apk/db/",
                            "/usr/lib/os-release"))


def collect(source: ImageSource, layers: Sequence[Descriptor], limits: Limits,
            wanted: Callable[[str], bool] = wanted_default) -> ImageFiles:
    """Walk ``layers`` bottom to top, keeping the wanted files of the resulting root filesystem."""
    out = ImageFiles()
    files = out.files
    budget = Budget(limits)
    warnings: list[ScanWarning] = []
    for index, desc in enumerate(layers):
        stream = source.open_blob(desc)
        try:
            for entry in walk_layer(stream, desc.digest, limits, budget, warnings):
                path = entry.path
                if entry.whiteout or entry.opaque:
                    prefix = path.rstrip("/") + "/"
                    for p in [p for p in files if p.startswith(prefix) and files[p].layer < index]:
                        del files[p]
                    if entry.whiteout:
                        files.pop(path, None)
                    continue
                if entry.kind != "dir":
                    # a file replacing a folder of a lower layer hides what was below it
                    prefix = path + "/"
                    for p in [p for p in files if p.startswith(prefix) and files[p].layer < index]:
                        del files[p]
                if not wanted(path):
                    continue
                data = entry.read() if entry.kind == "file" and entry.size <= MAX_KEPT else b""
                files[path] = ImageFile(path, entry.kind, bytes(data), entry.mode, entry.linkname, index)
            drain = getattr(stream, "drain", None)
            if callable(drain):
                drain()
        finally:
            stream.close()
    return out
