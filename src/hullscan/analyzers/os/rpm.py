"""rpm databases in all three formats, by parsing the rpm headers they hold.

=============================  =================  ================================
file                           backend            used by
=============================  =================  ================================
``rpmdb.sqlite``               SQLite             RHEL/Alma/Rocky 9, Fedora >= 33, AL2023
``Packages``                   Berkeley DB hash   RHEL/CentOS 7-8, Amazon Linux 2
``Packages.db``                NDB                SLES 15 SP3+, openSUSE Leap/Tumbleweed
=============================  =================  ================================

each under ``/var/lib/rpm/`` or ``/usr/lib/sysimage/rpm/``. Header tags used: NAME, VERSION,
RELEASE, EPOCH, ARCH, SOURCERPM (``openssl-3.0.7-24.el9.src.rpm`` -> source name ``openssl``,
source version ``[epoch:]3.0.7-24.el9``), LICENSE, VENDOR, MODULARITYLABEL, BASENAMES/DIRNAMES/
DIRINDEXES (+FILEMODES to leave out directories), REQUIRENAME/PROVIDENAME (dependencies resolved to
the installed package that provides them). ``gpg-pubkey`` pseudo-packages are skipped.
"""

from __future__ import annotations

import stat
import struct
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace

from hullscan.analyzers.base import Analyzer, EntryHint, FileInput, FileMeta
from hullscan.analyzers.os import rpmheader as h
from hullscan.analyzers.os.purls import os_purl
from hullscan.analyzers.os.rpmheader import HeaderError, RpmDbError, RpmHeader
from hullscan.model import AnalysisResult, Package, ScanWarning

_DIRS = ("/var/lib/rpm/", "/usr/lib/sysimage/rpm/")
_FILES = ("rpmdb.sqlite", "Packages", "Packages.db")
DB_PATHS = tuple(d + f for d in _DIRS for f in _FILES)


def _reader(filename: str) -> Callable[[bytes], Iterable[bytes | RpmDbError]]:
    """The blob reader of a database file name; its backend module is imported here, when an image has one."""
    if filename == "rpmdb.sqlite":
        from hullscan.analyzers.os import rpmdb_sqlite

        return rpmdb_sqlite.iter_blobs
    if filename == "Packages":
        from hullscan.analyzers.os import rpmdb_bdb

        return rpmdb_bdb.iter_blobs
    if filename == "Packages.db":
        from hullscan.analyzers.os import rpmdb_ndb

        return rpmdb_ndb.iter_blobs
    raise KeyError(filename)


@dataclass(frozen=True)
class _Parsed:
    """One package plus what dependency resolution needs."""

    package: Package
    requires: tuple[str, ...]
    provides: tuple[str, ...]


def split_source_rpm(sourcerpm: str) -> tuple[str, str]:
    """``openssl-3.0.7-24.el9.src.rpm`` -> ``("openssl", "3.0.7-24.el9")``; ``("", "")`` if unparsable."""
    for suffix in (".src.rpm", ".nosrc.rpm"):
        if sourcerpm.endswith(suffix):
            sourcerpm = sourcerpm[: -len(suffix)]
            break
    else:
        return "", ""
    parts = sourcerpm.rsplit("-", 2)
    if len(parts) != 3 or not all(parts):
        return "", ""
    return parts[0], f"{parts[1]}-{parts[2]}"


def header_files(hdr: RpmHeader) -> list[str]:
    """Installed file paths (directories left out when FILEMODES says so)."""
    basenames = hdr.strings(h.BASENAMES)
    if not basenames:
        return hdr.strings(h.OLDFILENAMES)
    dirnames, dirindexes, modes = hdr.strings(h.DIRNAMES), hdr.ints(h.DIRINDEXES), hdr.ints(h.FILEMODES)
    if len(dirindexes) != len(basenames):
        raise HeaderError("BASENAMES and DIRINDEXES differ in length")
    files = []
    for i, base in enumerate(basenames):
        if dirindexes[i] >= len(dirnames):
            raise HeaderError("DIRINDEXES points past DIRNAMES")
        if i < len(modes) and stat.S_ISDIR(modes[i]):
            continue
        files.append(dirnames[dirindexes[i]] + base)
    return files


def parse_header(blob: bytes, path: str, layer: str, found_by: str) -> _Parsed | None:
    """One header blob -> package (None for ``gpg-pubkey``); :class:`HeaderError` when malformed."""
    hdr = RpmHeader.parse(blob)
    name = hdr.string(h.NAME)
    if not name:
        raise HeaderError("header without NAME")
    if name == "gpg-pubkey":
        return None
    epochs = hdr.ints(h.EPOCH)
    epoch = f"{epochs[0]}:" if epochs else ""
    version = f"{epoch}{hdr.string(h.VERSION)}-{hdr.string(h.RELEASE)}"
    src_name, src_version = split_source_rpm(hdr.string(h.SOURCERPM))
    extra = (("vendor", hdr.string(h.VENDOR)),) if hdr.string(h.VENDOR) else ()
    pkg = Package(
        name=name, version=version, ecosystem="rpm", arch=hdr.string(h.ARCH),
        source_name=src_name or name, source_version=f"{epoch}{src_version}" if src_name else version,
        layer=layer, path=path, found_by=found_by, files=tuple(sorted(set(header_files(hdr)))),
        licenses=(hdr.string(h.LICENSE),) if hdr.string(h.LICENSE) else (),
        module=hdr.string(h.MODULARITYLABEL), extra=extra,
    )
    return _Parsed(replace(pkg, purl=os_purl(pkg)), tuple(hdr.strings(h.REQUIRENAME)),
                   tuple(hdr.strings(h.PROVIDENAME)))


def resolve_depends(parsed: list[_Parsed]) -> list[Package]:
    """Set each package's ``depends`` to the installed packages providing its requirements."""
    provider: dict[str, str] = {}
    for p in parsed:
        for capability in (p.package.name, *p.provides, *p.package.files):
            provider.setdefault(capability, p.package.name)
    out = []
    for p in parsed:
        deps = {provider[r] for r in p.requires if r in provider} - {p.package.name}
        out.append(replace(p.package, depends=tuple(sorted(deps))))
    return out


class RpmAnalyzer(Analyzer):
    """rpm package databases (SQLite, Berkeley DB, NDB)."""

    name = "os/rpm"
    version = 1
    tags = frozenset({"os"})
    max_size = 512 * 1024 * 1024

    def path_hint(self) -> EntryHint:
        """The database paths."""
        return EntryHint(tuple(p.lower() for p in DB_PATHS))

    def wants(self, path: str, info: FileMeta) -> bool:
        """The six database paths."""
        return path in DB_PATHS and info.kind in ("file", "hardlink")

    def analyze(self, file: FileInput) -> AnalysisResult:
        """Every package in the database; unreadable databases and headers give warnings."""
        reader = _reader(file.path.rpartition("/")[2])
        result = AnalysisResult()
        parsed: list[_Parsed] = []
        bad = 0
        try:
            for blob in _guarded(reader(file.read())):
                if isinstance(blob, RpmDbError):
                    bad += 1
                    continue
                try:
                    item = parse_header(blob, file.path, file.layer, self.name)
                except (HeaderError, struct.error, IndexError):
                    bad += 1
                    continue
                if item is not None:
                    parsed.append(item)
        except RpmDbError as exc:
            result.warnings.append(_warning(file, f"{file.path}: unreadable rpm database: {exc}"))
        if bad:
            result.warnings.append(_warning(file, f"{file.path}: {bad} malformed rpm header(s) skipped"))
        result.packages = sorted(resolve_depends(parsed), key=lambda p: (p.name, p.version, p.arch))
        return result


def _guarded(blobs: Iterable[bytes | RpmDbError]) -> Iterator[bytes | RpmDbError]:
    """Iterate a reader, turning low-level surprises in hostile files into :class:`RpmDbError`."""
    iterator = iter(blobs)
    while True:
        try:
            yield next(iterator)
        except StopIteration:
            return
        except (struct.error, IndexError, OverflowError, MemoryError) as exc:
            raise RpmDbError(f"{type(exc).__name__}: {exc}") from None


def _warning(file: FileInput, message: str) -> ScanWarning:
    return ScanWarning(code="malformed-file", message=message, path=file.path, layer=file.layer)

