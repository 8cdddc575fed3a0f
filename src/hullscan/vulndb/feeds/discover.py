"""Finding feed documents in the paths given to ``hullscan db import`` (files, zips, folders).

Each recognised unit becomes one *source* in the database (re-importing it replaces it):

* ``<Ecosystem>/all.zip`` (OSV bulk export) or any zip of OSV JSON/YAML -> ``osv:<Ecosystem>``;
* loose OSV JSON/YAML files under one import path -> ``osv:files:<path>``;
* Debian tracker JSON -> ``debian-tracker``; ``DSA/list`` / ``DLA/list`` -> ``debian-dsa`` / ``debian-dla``;
* an Alpine secdb document -> ``alpine-secdb:<distroversion>/<repo>`` (a ``.yaml`` beside a ``.json`` of
  the same name is the same document and is skipped);
* Ubuntu tracker files (``CVE-YYYY-NNNN``, loose or in a zip) -> ``ubuntu-cve-tracker``.

Anything else is reported as skipped, never silently ignored.
"""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from hullscan.errors import FeedError, InputError
from hullscan.vulndb.feeds import alpine, debian, debian_dsa, osv, ubuntu
from hullscan.vulndb.records import Record

_DOC_SUFFIXES = (".json", ".yaml", ".yml")
_SKIP_NAMES = {"README.md", "MANIFEST.sha256", "LICENSE", "LICENSE.txt", "LICENSE.md"}


@dataclass
class Unit:
    """One importable source found on disk."""

    name: str
    feed: str
    location: str
    fingerprint: str
    documents: int
    load: Callable[[], Iterator[Record]]


@dataclass
class Discovery:
    """What :func:`discover` found: units to import and paths it skipped (with why)."""

    units: list[Unit] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


def _sha256_files(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for p in sorted(paths):
        h.update(str(p).encode() + b"\0" + _sha256_file(p).encode())
    return "sha256:" + h.hexdigest()


def _zip_unit(path: Path, name: str | None = None) -> Unit | None:
    """A unit for a zip of OSV documents or Ubuntu tracker files; None when it holds neither."""
    try:
        with zipfile.ZipFile(path) as zf:
            members = [i.filename for i in zf.infolist() if not i.is_dir()]
            if any(ubuntu.is_tracker_file(m) for m in members):
                files = sorted(m for m in members if ubuntu.is_tracker_file(m))
                return Unit(name or ubuntu.SOURCE, ubuntu.NAME, str(path), _sha256_file(path), len(files),
                            lambda: _zip_records(path, files, ubuntu.parse))
            docs = sorted(m for m in members if m.endswith(_DOC_SUFFIXES))
            if not docs:
                return None
            if not osv.records_in(osv.loads(zf.read(docs[0]), f"{path}!{docs[0]}")):
                return None
    except (zipfile.BadZipFile, OSError) as exc:
        raise FeedError(f"{path}: not a readable zip ({exc})") from None
    source = name or (f"osv:{path.parent.name}" if path.name == "all.zip" else f"osv:{path.stem}")
    return Unit(source, osv.NAME, str(path), _sha256_file(path), len(docs),
                lambda: _zip_records(path, docs, lambda data, origin: osv.parse(data, origin, source)))


def _zip_records(path: Path, members: list[str], parse: Callable[[bytes, str], list[Record]]) -> Iterator[Record]:
    with zipfile.ZipFile(path) as zf:
        for member in members:
            yield from parse(zf.read(member), f"{path}!{member}")


def _files_records(paths: list[Path], parse: Callable[[bytes, str], list[Record]]) -> Iterator[Record]:
    for p in paths:
        yield from parse(p.read_bytes(), str(p))


def _single(path: Path, name: str | None, found: Discovery, loose_osv: list[Path], loose_uct: list[Path]) -> None:
    """Classify one file."""
    if path.name in _SKIP_NAMES:
        return
    if path.suffix == ".zip":
        unit = _zip_unit(path, name)
        if unit is None:
            found.skipped.append((str(path), "zip holds no OSV records or Ubuntu tracker files"))
        else:
            found.units.append(unit)
        return
    if ubuntu.is_tracker_file(path.name):
        loose_uct.append(path)
        return
    with path.open("rb") as fh:
        head = fh.read(65536)
    if debian_dsa.sniff(head):
        kind = "debian-dla" if b"] DLA-" in head.split(b"\n", 1)[0] else "debian-dsa"
        source = name or kind
        found.units.append(Unit(source, debian_dsa.NAME, str(path), _sha256_file(path), 1,
                                lambda: iter(debian_dsa.parse(path.read_bytes(), str(path), source))))
        return
    if path.suffix not in _DOC_SUFFIXES and not head.lstrip().startswith((b"{", b"[")):
        found.skipped.append((str(path), "not a recognised feed document"))
        return
    if debian.sniff(head):
        found.units.append(Unit(name or debian.SOURCE, debian.NAME, str(path), _sha256_file(path), 1,
                                lambda: iter(debian.parse(path.read_bytes(), str(path)))))
        return
    if alpine.sniff(head):
        if path.suffix in (".yaml", ".yml") and path.with_suffix(".json").is_file():
            return  # the .json beside it is the same document
        doc = osv.loads(path.read_bytes(), str(path))
        if not isinstance(doc, dict):
            found.skipped.append((str(path), "not a recognised feed document"))
            return
        source = name or alpine.source_name(doc)
        found.units.append(Unit(source, alpine.NAME, str(path), _sha256_file(path), 1,
                                lambda: alpine.records(doc)))
        return
    try:
        doc = osv.loads(path.read_bytes(), str(path))
    except FeedError as exc:
        found.skipped.append((str(path), str(exc)))
        return
    if osv.records_in(doc):
        loose_osv.append(path)
    else:
        found.skipped.append((str(path), "not a recognised feed document"))


def discover(path: Path, name: str | None = None) -> Discovery:
    """Every importable unit under ``path`` (a file, zip or folder). ``name`` forces the source name
    (``db update`` names sources after its configuration; it expects exactly one unit)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    found = Discovery()
    loose_osv: list[Path] = []
    loose_uct: list[Path] = []
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for f in files:
        _single(f, name, found, loose_osv, loose_uct)
    if loose_osv:
        source = name or f"osv:files:{path.resolve()}"
        found.units.append(Unit(source, osv.NAME, str(path), _sha256_files(loose_osv), len(loose_osv),
                                lambda: _files_records(loose_osv, lambda d, o: osv.parse(d, o, source))))
    if loose_uct:
        found.units.append(Unit(name or ubuntu.SOURCE, ubuntu.NAME, str(path), _sha256_files(loose_uct),
                                len(loose_uct), lambda: _files_records(loose_uct, ubuntu.parse)))
    return found
