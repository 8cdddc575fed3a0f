"""Which package owns which file: the one place where package file lists are joined to files.

Package databases name files as the package was built: dpkg's ``info/*.list`` still says ``/bin/mount``
on a merged-/usr image (Debian 12, current Ubuntu) where ``/bin`` is a symlink to ``usr/bin`` and the file
found in the filesystem is ``/usr/bin/mount``. Every listed path is therefore resolved through the image's
own symlinks (those of the squashed filesystem) before it is compared with a path found in the image:

* :func:`resolve` follows the symlinks of a path's *directories* (never the last component: a package that
  ships a symlink owns the link, not what it points to), the way the kernel would inside the image root
  (``..`` stops at ``/``, absolute targets start at the image root);
* :func:`join_owners` fills ``Package.files`` from the file lists the OS analyzers found (keys
  ``<ecosystem>:<name>[:<arch>]``) and resolves every package's files; :func:`hullscan.inventory.squash`
  calls it with the squashed symlinks;
* :func:`file_owners` maps each owned file to its package, for the checks that ask "installed by a
  package?" (unowned setuid files, secrets in package files).
"""

from __future__ import annotations

import dataclasses
import posixpath
from collections.abc import Iterable, Mapping, Sequence

from hullscan.model import Package

#: symlinks followed per path before giving up (the kernel's limit is 40)
MAX_LINKS = 40


def _normal(path: str) -> str:
    out = posixpath.normpath("/" + path.lstrip("/"))
    return "/" + out.lstrip("/")  # normpath keeps a leading "//"


def resolve(path: str, links: Mapping[str, str]) -> str:
    """``path`` with every symlinked directory on the way replaced by its target, inside the image root.

    ``links`` maps absolute symlink paths to their targets as stored in the image (relative or absolute).
    A loop or a chain longer than :data:`MAX_LINKS` leaves the rest of the path unresolved.
    """
    if not links:
        return path
    parts = [p for p in path.split("/") if p]
    if len(parts) < 2:
        return path
    done = ""  # the resolved directory so far ("" is the root)
    todo = parts[:-1]
    followed = 0
    while todo:
        part = todo.pop(0)
        if part in (".", ""):
            continue
        if part == "..":
            done = done.rpartition("/")[0]
            continue
        candidate = f"{done}/{part}"
        target = links.get(candidate)
        if target is None or followed >= MAX_LINKS:
            done = candidate
            continue
        followed += 1
        if target.startswith("/"):
            done = ""
        todo[:0] = [p for p in target.split("/") if p]
    return _normal(f"{done}/{parts[-1]}")


def join_owners(packages: Sequence[Package], owners: Mapping[str, Sequence[str]] | None = None,
                links: Mapping[str, str] | None = None) -> list[Package]:
    """``packages`` with their file lists joined and resolved through ``links``.

    ``owners`` (keys ``<ecosystem>:<name>:<arch>`` or ``<ecosystem>:<name>``, the arch-qualified key first)
    adds to the files a package already lists; every file is then resolved with :func:`resolve`."""
    owners = owners or {}
    links = links or {}
    out: list[Package] = []
    for p in packages:
        files = p.files
        extra = None
        if owners:
            extra = owners.get(f"{p.ecosystem}:{p.name}:{p.arch}") if p.arch else None
            if extra is None:
                extra = owners.get(f"{p.ecosystem}:{p.name}")
        if links:
            files = tuple(resolve(f, links) for f in files)
            extra = [resolve(f, links) for f in extra] if extra else extra
        if extra:  # a joined list is sorted and unique; a package's own list keeps its order
            files = tuple(sorted({*files, *extra}))
        out.append(p if files == p.files else dataclasses.replace(p, files=files))
    return out


def file_owners(packages: Iterable[Package], *, os_only: bool = False) -> dict[str, str]:
    """Owned file -> name of the first package listing it (OS packages only with ``os_only``: an application
    installed with pip or npm is the image author's own code)."""
    owned: dict[str, str] = {}
    for pkg in packages:
        if os_only and not pkg.is_os:
            continue
        for f in pkg.files:
            owned.setdefault(f, pkg.name)
    return owned
