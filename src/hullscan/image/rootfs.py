"""A plain root-filesystem directory as a one-layer "image".

Entries are produced like a layer walk (same :class:`~hullscan.image.layer.Entry`), without ever following a
symlink: files are opened with ``O_NOFOLLOW`` and links are reported, not resolved.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

from hullscan.errors import InputError
from hullscan.image.layer import Budget, Entry, link_escapes
from hullscan.image.tarstream import printable
from hullscan.model import ScanWarning
from hullscan.options import Limits


def walk_dir(root: str | Path, layer_id: str, limits: Limits, budget: Budget, warnings: list[ScanWarning]) -> Iterator[Entry]:
    """Yield every entry below ``root`` (depth first, sorted) as image-absolute paths."""
    root = Path(root)
    try:
        st = root.stat()
    except OSError as exc:  # missing, too long a name, a loop...
        raise InputError(f"{root}: {exc.strerror or exc}") from None
    if not stat.S_ISDIR(st.st_mode):
        raise InputError(f"{root}: not a directory")
    root_dev = st.st_dev
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        rel_dir = os.path.relpath(dirpath, root)
        for name in sorted(dirnames) + sorted(filenames):
            full = os.path.join(dirpath, name)
            path = "/" + os.path.normpath(os.path.join(rel_dir, name)).lstrip("./") if rel_dir != "." else "/" + name
            path = printable(path)  # undecodable bytes as \xff: reports are UTF-8
            try:
                st = os.lstat(full)
            except OSError as exc:
                warnings.append(ScanWarning("unreadable", f"{path}: {exc.strerror}", path, layer_id))
                continue
            budget.take_entry(str(root))
            mode = stat.S_IMODE(st.st_mode)
            if stat.S_ISLNK(st.st_mode):
                target = printable(os.readlink(full))
                if link_escapes(path, target):
                    warnings.append(ScanWarning("link-escape", f"symlink {path} -> {target!r} points outside the root: not followed", path, layer_id))
                    target = ""
                yield Entry(path, "symlink", 0, mode, st.st_uid, st.st_gid, target)
            elif stat.S_ISDIR(st.st_mode):
                if st.st_dev != root_dev and name in dirnames:
                    dirnames.remove(name)  # do not cross into other filesystems (/proc, /sys when scanning /)
                yield Entry(path, "dir", 0, mode, st.st_uid, st.st_gid)
            elif stat.S_ISREG(st.st_mode):
                yield Entry(path, "file", st.st_size, mode, st.st_uid, st.st_gid, reader=_reader(full, budget, path))
            elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                warnings.append(ScanWarning("device-file", f"device file {path} ignored", path, layer_id))


def _reader(full: str, budget: Budget, path: str):  # type: ignore[no-untyped-def]
    def read() -> bytes:
        fd = os.open(full, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd, "rb") as fh:
            data = fh.read()
        budget.take_bytes(len(data), path)
        return data

    return read
