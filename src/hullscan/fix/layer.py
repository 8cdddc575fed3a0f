"""The patch layer: one tar holding every upgraded package's files, whiteouts for the files the old versions had
and the new ones do not (unless another package owns them), and the updated package database.

Paths are written as the container sees them: a package path below a folder the image has as a symlink (``/lib`` ->
``usr/lib`` on merged-/usr systems) is written below the link's target, as dpkg would have followed it; writing the
folder itself would hide the link. The layer is deterministic: entries in a fixed order, owner root (as dpkg
extracts), modification times from the packages.
"""

from __future__ import annotations

import hashlib
import io
import posixpath
import tarfile
from dataclasses import dataclass, field

from hullscan.fix import dpkgdb
from hullscan.fix.debfile import DebFile, DebMember
from hullscan.fix.imagefs import ImageFiles


@dataclass
class LayerEntry:
    """One entry to write: a file, folder, symlink or hard link (image-absolute paths)."""

    path: str
    kind: str  # file | dir | symlink | hardlink | whiteout
    data: bytes = b""
    mode: int = 0o644
    linkname: str = ""
    mtime: int = 0
    uid: int = 0
    gid: int = 0


@dataclass
class PatchLayer:
    """What goes into the layer, and what the log says about it."""

    entries: list[LayerEntry] = field(default_factory=list)
    whiteouts: list[str] = field(default_factory=list)
    kept_conffiles: list[str] = field(default_factory=list)
    skipped_scripts: list[str] = field(default_factory=list)

    def add(self, entry: LayerEntry) -> None:
        """Add (or replace) the entry for a path."""
        self.entries = [e for e in self.entries if e.path != entry.path]
        self.entries.append(entry)

    def tar(self) -> bytes:
        """The uncompressed layer tar."""
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for path in sorted(self.whiteouts):
                head, base = posixpath.split(path)
                info = tarfile.TarInfo(posixpath.join(head, ".wh." + base).lstrip("/"))
                info.mode = 0o644
                tar.addfile(info)
            for e in sorted(self.entries, key=lambda e: e.path):
                info = tarfile.TarInfo(e.path.lstrip("/"))
                info.mode, info.mtime, info.uid, info.gid = e.mode & 0o7777, e.mtime, e.uid, e.gid
                if e.kind == "dir":
                    info.type = tarfile.DIRTYPE
                    tar.addfile(info)
                elif e.kind == "symlink":
                    info.type, info.linkname = tarfile.SYMTYPE, e.linkname
                    tar.addfile(info)
                elif e.kind == "hardlink":
                    info.type, info.linkname = tarfile.LNKTYPE, e.linkname.lstrip("/")
                    tar.addfile(info)
                else:
                    info.size = len(e.data)
                    tar.addfile(info, io.BytesIO(e.data))
        return buf.getvalue()


def root_links(files: ImageFiles) -> dict[str, str]:
    """Top-level folders the image has as symlinks (``/lib`` -> ``/usr/lib``)."""
    out = {}
    for path, f in files.files.items():
        if f.kind == "symlink" and path.count("/") == 1:
            target = f.linkname if f.linkname.startswith("/") else "/" + f.linkname
            out[path] = posixpath.normpath(target)
    return out


def canonical(path: str, links: dict[str, str]) -> str:
    """``path`` with a first component that is a symlinked folder replaced by the link's target."""
    top, sep, rest = path[1:].partition("/")
    target = links.get("/" + top)
    if target is None:
        return path
    return target + ("/" + rest if sep and rest else "")


def _member_entry(m: DebMember, links: dict[str, str]) -> LayerEntry | None:
    info = m.info
    path = canonical(m.path, links)
    if path in links.values() and info.isdir() and m.path != path:
        return None  # the folder a root link points at already exists
    if path in links:
        return None  # never replace the link itself
    kind = "dir" if info.isdir() else "symlink" if info.issym() else "hardlink" if info.islnk() else "file"
    if not (info.isdir() or info.issym() or info.islnk() or info.isfile()):
        return None
    linkname = info.linkname
    if info.islnk():
        linkname = canonical("/" + linkname.removeprefix("./").lstrip("/"), links)
    return LayerEntry(path, kind, m.data, info.mode, linkname, int(info.mtime), 0, 0)


def build(db: dpkgdb.DpkgDatabase, files: ImageFiles, debs: dict[str, DebFile]) -> PatchLayer:
    """The patch layer for installing ``debs`` (by package name) over the image."""
    layer = PatchLayer()
    links = root_links(files)
    installed = db.installed()
    upgraded = set(debs)
    others = dpkgdb.owned_elsewhere(db, files, upgraded)
    mtime = max((int(m.info.mtime) for d in debs.values() for m in d.members), default=0)
    new_stanzas: dict[str, object] = {}
    for name in sorted(debs):
        deb = debs[name]
        old = installed.get(name)
        old_hashes = dpkgdb.old_conffiles(old) if old is not None else {}
        new_conf = set(deb.conffiles())
        # a conffile the admin changed keeps the admin's version (dpkg --force-confold)
        modified = set()
        for path in new_conf:
            if path in old_hashes:
                disk = files.read(canonical(path, links))
                if disk is not None and hashlib.md5(disk).hexdigest() != old_hashes[path][0]:
                    modified.add(path)
        layer.kept_conffiles += sorted(f"{name}: {p}" for p in modified)
        new_paths = {m.path for m in deb.members}
        for m in deb.members:
            if m.path in modified:
                continue
            entry = _member_entry(m, links)
            if entry is not None:
                layer.add(entry)
        obsolete = sorted(p for p in old_hashes if p not in new_conf and files.read(canonical(p, links)) is not None)
        if old is not None:
            previous = dpkgdb.old_files(db, files, old)
            parents = {posixpath.dirname(p) for p in previous}
            for path in previous:
                if path in new_paths or path in parents or path in others or path in old_hashes:
                    continue
                if canonical(path, links) in {canonical(p, links) for p in new_paths}:
                    continue
                layer.whiteouts.append(canonical(path, links))
        for script in sorted(dpkgdb.SCRIPTS & set(deb.control_files)):
            layer.skipped_scripts.append(f"{name} {deb.version}: {script}")
        stanza = dpkgdb.status_stanza(deb, old, obsolete)
        new_stanzas[name] = stanza
        if db.distroless:
            base = db.status_d_names.get(name, name)
            control = deb.control
            layer.add(LayerEntry(dpkgdb.STATUS_D + base, "file", control.render().encode(), 0o644, mtime=mtime))
            layer.add(LayerEntry(f"{dpkgdb.STATUS_D}{base}.md5sums", "file", dpkgdb.md5sums(deb), 0o644,
                                 mtime=mtime))
            continue
        key = dpkgdb.info_key(stanza, files)
        listing = "/.\n" + "".join(m.path + "\n" for m in deb.members)
        written = {"list": listing.encode(), "md5sums": dpkgdb.md5sums(deb)}
        for cname, data in deb.control_files.items():
            if cname != "md5sums":
                written[cname] = data
        for cname, data in written.items():
            mode = 0o755 if cname in dpkgdb.SCRIPTS else 0o644
            layer.add(LayerEntry(f"{dpkgdb.INFO}{key}.{cname}", "file", data, mode, mtime=mtime))
        if old is not None:
            old_key = dpkgdb.info_key(old, files)
            for path in files.under(f"{dpkgdb.INFO}{old_key}."):
                if path[len(dpkgdb.INFO) + len(old_key) + 1:] not in written:
                    layer.whiteouts.append(path)
    if not db.distroless:
        stanzas = [s for s in db.stanzas if s.get("Package") not in new_stanzas]
        stanzas += list(new_stanzas.values())  # type: ignore[arg-type]
        layer.add(LayerEntry(dpkgdb.STATUS, "file", dpkgdb.render_status(stanzas), 0o644, mtime=mtime))
    return layer
