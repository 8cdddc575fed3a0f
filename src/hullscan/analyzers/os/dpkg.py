"""dpkg databases: ``/var/lib/dpkg/status``, distroless ``status.d/*`` and the file lists.

Format: deb822 stanzas (``Field: value``, continuation lines start with a space or tab, stanzas are
separated by blank lines), see deb-status(5) and deb-control(5). Only packages whose ``Status`` is
``<want> ok installed`` are reported; ``half-installed`` (and the other half states) are reported
too and flagged with ``extra=(("dpkg-status", "half-installed"),)`` because their files are on disk.

Installed files live elsewhere: ``/var/lib/dpkg/info/<pkg>[:<arch>].list`` (one path per line,
directories included) and, on distroless, ``/var/lib/dpkg/status.d/<pkg>.md5sums``
(``<md5>  <relative path>``). These give ``AnalysisResult.owners`` keyed ``deb:<pkg>`` (multi-arch qualifier
dropped); the inventory (:func:`hullscan.owners.join_owners`) joins them to the packages.
"""

from __future__ import annotations

import functools
import re
from dataclasses import replace

from hullscan.analyzers.base import Analyzer, EntryHint, FileInput, FileMeta
from hullscan.analyzers.os.purls import os_purl
from hullscan.model import AnalysisResult, Package, ScanWarning

STATUS = "/var/lib/dpkg/status"
STATUS_D = "/var/lib/dpkg/status.d/"
INFO = "/var/lib/dpkg/info/"

_HALF_STATES = ("half-installed", "half-configured", "unpacked", "triggers-awaited", "triggers-pending")


@functools.cache
def _source() -> re.Pattern[str]:
    """``Source: <name> [(<version>)]`` (compiled on first use: start-up stays cheap)."""
    return re.compile(r"^(?P<name>\S+)(?:\s+\((?P<version>[^)]+)\))?\s*$")


def parse_stanzas(text: str) -> tuple[list[dict[str, str]], int]:
    """Split deb822 text into stanzas; returns ``(stanzas, broken)``.

    A stanza with a line that is neither ``Field: value`` nor a continuation is dropped and counted
    in ``broken``. Field names are case-insensitive (kept as written, looked up title-cased).
    """
    stanzas: list[dict[str, str]] = []
    broken = 0
    current: dict[str, list[str]] = {}  # field -> its lines (joined once: += per line was quadratic)
    last: list[str] | None = None
    bad = False
    for line in text.splitlines() + [""]:
        if not line.strip():
            if current and not bad:
                stanzas.append({key: "\n".join(lines) for key, lines in current.items()})
            elif bad:
                broken += 1
            current, last, bad = {}, None, False
            continue
        if line[0] in " \t":
            if last is not None:
                last.append(line.strip())
            else:
                bad = True
            continue
        key, sep, value = line.partition(":")
        if not sep or not key or " " in key:
            bad = True
            continue
        last = current[key.strip().title()] = [value.strip()]
    return stanzas, broken


def _dep_names(value: str) -> list[str]:
    """Package names of a ``Depends`` value (alternatives included, versions and arch qualifiers dropped)."""
    names: list[str] = []
    for group in value.split(","):
        for alt in group.split("|"):
            word = alt.strip().split(" ")[0].split("(")[0].strip()
            word = word.split(":")[0]
            if word and word not in names:
                names.append(word)
    return names


def stanza_package(stanza: dict[str, str], path: str, layer: str, found_by: str) -> Package | None:
    """The :class:`Package` of one stanza, or None when the package is not (even partly) installed."""
    status = stanza.get("Status", "").split()
    state = status[2] if len(status) == 3 else ""
    if status and state not in ("installed", *_HALF_STATES):
        return None
    name, version = stanza.get("Package", ""), stanza.get("Version", "")
    if not name or not version:
        raise ValueError("stanza without Package or Version")
    source_name, source_version = name, version
    m = _source().match(stanza.get("Source", ""))
    if m:
        source_name = m.group("name")
        source_version = m.group("version") or version
    depends = _dep_names(stanza.get("Pre-Depends", "") + "," + stanza.get("Depends", ""))
    extra: list[tuple[str, str]] = []
    if stanza.get("Maintainer"):
        extra.append(("maintainer", stanza["Maintainer"]))
    if state and state != "installed":
        extra.append(("dpkg-status", state))
    pkg = Package(
        name=name, version=version, ecosystem="deb", arch=stanza.get("Architecture", ""),
        source_name=source_name, source_version=source_version, layer=layer, path=path,
        found_by=found_by, depends=tuple(depends), extra=tuple(extra),
    )
    return _with_purl(pkg)


def _with_purl(pkg: Package) -> Package:
    return replace(pkg, purl=os_purl(pkg))


def list_files(entries: list[str]) -> list[str]:
    """Paths of a ``.list`` file without the directories (entries that are a parent of another entry)."""
    paths = {e for e in entries if e.startswith("/") and e != "/."}
    parents = {p.rpartition("/")[0] for p in paths}  # dpkg lists every directory level
    return sorted(paths - parents)


def owner_key(filename: str, suffix: str) -> str:
    """``libc6:amd64.list`` -> ``deb:libc6``; ``zlib1g.md5sums`` -> ``deb:zlib1g``.

    The multi-arch qualifier is dropped so the key matches ``<ecosystem>:<name>`` of the package.
    """
    return "deb:" + filename[: -len(suffix)].split(":")[0]


class DpkgAnalyzer(Analyzer):
    """dpkg status databases and file lists (Debian, Ubuntu, distroless)."""

    name = "os/dpkg"
    version = 1
    tags = frozenset({"os"})

    def path_hint(self) -> EntryHint:
        """The status file, ``*.list`` files, anything under ``status.d/``."""
        return EntryHint((STATUS, ".list"), prefixes=(STATUS_D,))

    def wants(self, path: str, info: FileMeta) -> bool:
        """``status``, ``status.d/*`` and ``info/*.list``."""
        if info.kind not in ("file", "hardlink"):
            return False
        if path == STATUS:
            return True
        if path.startswith(STATUS_D):
            return "/" not in path[len(STATUS_D):]
        return path.startswith(INFO) and path.endswith(".list") and "/" not in path[len(INFO):]

    def analyze(self, file: FileInput) -> AnalysisResult:
        """Packages of a status file, or the owned files of a ``.list`` / ``.md5sums`` file."""
        base = file.path.rpartition("/")[2]
        text = file.text()
        if file.path.startswith(INFO):
            return AnalysisResult(owners={owner_key(base, ".list"): list_files(text.rstrip().split("\n"))})
        if file.path.startswith(STATUS_D) and base.endswith(".md5sums"):
            lines = [ln.split(None, 1) for ln in text.splitlines()]
            paths = ["/" + p[1].strip().lstrip("/") for p in lines if len(p) == 2]
            return AnalysisResult(owners={owner_key(base, ".md5sums"): sorted(set(paths))})
        return self._status(file, text)

    def _status(self, file: FileInput, text: str) -> AnalysisResult:
        stanzas, broken = parse_stanzas(text)
        result = AnalysisResult()
        for stanza in stanzas:
            try:
                pkg = stanza_package(stanza, file.path, file.layer, self.name)
            except ValueError:
                broken += 1
                continue
            if pkg is not None:
                result.packages.append(pkg)
        if broken or (text.strip() and not stanzas):
            result.warnings.append(ScanWarning(
                code="malformed-file", path=file.path, layer=file.layer,
                message=f"{file.path}: {max(broken, 1)} malformed dpkg stanza(s) skipped"))
        result.packages.sort(key=lambda p: (p.name, p.arch, p.version))
        return result
