"""Java: Maven artifacts in ``.jar``/``.war``/``.ear``/``.jpi``/``.hpi`` archives, including archives nested in archives.

The archive is read from the bytes the core hands over (in memory, never extracted to disk). Where each
artifact's coordinates come from, in order (recorded in ``extra`` as ``version_source``):

1. every ``META-INF/maven/<group>/<artifact>/pom.properties`` (a shaded jar yields several packages; when none
   of them is the archive itself, its own identity from 3. or 4. is added);
2. ``META-INF/maven/**/pom.xml`` when there are no properties (``parent`` fills a missing group or version);
3. ``META-INF/MANIFEST.MF``: the version from ``Implementation-Version``, ``Bundle-Version``,
   ``Plugin-Version`` (Jenkins) or ``Specification-Version``; the artifact from ``Short-Name`` (Jenkins), the file
   name, ``Implementation-Title`` or ``Bundle-SymbolicName``; the group from ``Group-Id`` (Jenkins),
   ``Implementation-Vendor-Id`` or the symbolic name;
4. the file name ``name-1.2.3.jar`` as the last resort.

Package name is ``group:artifact`` (the OSV Maven spelling), purl ``pkg:maven/group/artifact@version``.
Nested archives carry ``virtual_path`` (``/app/x.war:WEB-INF/lib/y.jar``); ``path`` stays the outer file.

Zip bombs: limits on entries, declared uncompressed bytes (across all nesting levels), nesting depth and
per-entry compression ratio; exceeding one drops that archive with a ``malformed-file`` warning.
"""

from __future__ import annotations

import functools
import io
import posixpath
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, BinaryIO

from hullscan.analyzers.base import Analyzer, EntryHint, FileInput, FileMeta
from hullscan.analyzers.os.purls import build_purl
from hullscan.model import AnalysisResult, Package, ScanWarning

if TYPE_CHECKING:  # xml.etree is imported by parse_pom_xml(), when a pom.xml is read
    from xml.etree.ElementTree import Element

ECOSYSTEM = "Maven"
ARCHIVE_SUFFIXES = (".jar", ".war", ".ear", ".jpi", ".hpi")
_SUFFIXES = frozenset(ARCHIVE_SUFFIXES)
_METADATA_CAP = 4 * 1024 * 1024  # largest pom.properties / pom.xml / MANIFEST.MF read
#: everything zipfile raises on damaged input (bad headers, bad CRC, truncated deflate streams, odd methods)
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError, struct.error,
               IndexError, KeyError, OverflowError)


@dataclass(frozen=True)
class ZipLimits:
    """Safety limits for reading (nested) archives."""

    max_entries: int = 200_000  # entries over all nesting levels
    max_total_uncompressed: int = 4 * 1024**3  # declared uncompressed bytes over all levels
    max_depth: int = 4  # nested archives deeper than this are not opened
    max_ratio: float = 100.0  # uncompressed/compressed, checked for entries over ratio_floor
    ratio_floor: int = 1024 * 1024
    max_nested_bytes: int = 256 * 1024 * 1024  # largest nested archive held in memory


class ArchiveLimitError(Exception):
    """A zip-bomb limit was hit; the message says which."""


@dataclass
class _Budget:
    """What is left of the limits while walking one outer archive."""

    limits: ZipLimits
    entries: int = 0
    declared: int = 0
    warnings: list[str] = field(default_factory=list)

    def charge(self, infos: list[zipfile.ZipInfo], label: str) -> None:
        """Account one archive's central directory; raise ArchiveLimitError on a bomb."""
        self.entries += len(infos)
        if self.entries > self.limits.max_entries:
            raise ArchiveLimitError(f"{label}: more than {self.limits.max_entries} zip entries (possible zip bomb)")
        for info in infos:
            self.declared += info.file_size
            if info.file_size > self.limits.ratio_floor:
                ratio = info.file_size / max(info.compress_size, 1)
                if ratio > self.limits.max_ratio:
                    raise ArchiveLimitError(
                        f"{label}: entry {info.filename} expands {ratio:.0f}x "
                        f"({info.compress_size} -> {info.file_size} bytes; possible zip bomb)"
                    )
        if self.declared > self.limits.max_total_uncompressed:
            raise ArchiveLimitError(
                f"{label}: more than {self.limits.max_total_uncompressed} uncompressed bytes declared (possible zip bomb)"
            )


@dataclass(frozen=True)
class Coordinates:
    """Maven coordinates and where they were read."""

    group: str
    artifact: str
    version: str
    source: str  # pom.properties | pom.xml | MANIFEST.MF:<header> | filename
    entry: str = ""


def maven_purl(group: str, artifact: str, version: str) -> str:
    """``pkg:maven/<group>/<artifact>@<version>``."""
    return build_purl("maven", group, artifact, version, {})


def parse_properties(text: str) -> dict[str, str]:
    """Java ``.properties``: ``key=value`` / ``key: value`` lines, ``#``/``!`` comments, ``\\`` continuations."""
    props: dict[str, str] = {}
    pending = ""
    for raw in text.splitlines():
        line = pending + raw.lstrip() if pending else raw.strip()
        if line.endswith("\\") and not line.endswith("\\\\"):
            pending = line[:-1]
            continue
        pending = ""
        if not line or line[0] in "#!":
            continue
        match = re.match(r"^((?:\\.|[^=:\s])+)\s*[=:\s]\s*(.*)$", line)
        if match:
            props[match.group(1).replace("\\", "")] = match.group(2).strip()
        else:
            props[line] = ""
    return props


def parse_manifest(text: str) -> dict[str, str]:
    """The main section of a ``MANIFEST.MF`` (72-byte lines continued by a leading space)."""
    headers: dict[str, str] = {}
    last = ""
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if not line:
            if headers:
                break  # end of the main section
            continue
        if line.startswith(" ") and last:
            headers[last] += line[1:]
            continue
        key, sep, value = line.partition(":")
        if sep:
            last = key.strip()
            headers[last] = value.strip()
    return headers


def _plain(value: str | None) -> str:
    """A coordinate value, or "" when missing or an unresolved ``${property}``."""
    return "" if not value or "${" in value else value.strip()


def parse_pom_xml(data: bytes) -> tuple[str, str, str] | None:
    """(group, artifact, version) of a ``pom.xml``, with ``parent`` filling gaps; None when unusable."""
    from xml.etree import ElementTree  # on first use: start-up stays cheap

    try:
        root = ElementTree.fromstring(data)
    except ElementTree.ParseError:
        return None
    ns = root.tag[: root.tag.index("}") + 1] if root.tag.startswith("{") else ""

    def text(node: Element | None, tag: str) -> str:
        child = node.find(ns + tag) if node is not None else None
        return _plain(child.text if child is not None else None)

    parent = root.find(ns + "parent")
    group = text(root, "groupId") or text(parent, "groupId")
    version = text(root, "version") or text(parent, "version")
    artifact = text(root, "artifactId")
    return (group, artifact, version) if artifact and version else None


@functools.cache
def _filename_version() -> re.Pattern[str]:
    """``<name>-<version>`` of an archive's file name without its suffix (compiled on first use)."""
    return re.compile(r"^(?P<name>[A-Za-z0-9_.\-]+?)-(?P<version>\d[\w.\-+~]*)$")


def filename_coordinates(name: str) -> tuple[str, str]:
    """(artifact, version) from ``commons-lang3-3.12.0.jar``; version "" when the name carries none."""
    stem = posixpath.basename(name)
    for suffix in ARCHIVE_SUFFIXES:
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    match = _filename_version().match(stem)
    return (match.group("name"), match.group("version")) if match else (stem, "")


class _ArchiveReader:
    """Reads one archive level: metadata entries and nested archives, within the budget."""

    def __init__(self, zf: zipfile.ZipFile, label: str) -> None:
        self.zf = zf
        self.label = label

    def read(self, info: zipfile.ZipInfo, cap: int) -> bytes:
        """At most ``cap`` bytes of an entry; ArchiveLimitError when it is larger."""
        if info.file_size > cap:
            raise ArchiveLimitError(f"{self.label}: entry {info.filename} is larger than {cap} bytes")
        with self.zf.open(info) as stream:
            data = stream.read(cap + 1)
        if len(data) > cap:
            raise ArchiveLimitError(f"{self.label}: entry {info.filename} inflates past {cap} bytes")
        return data


def _coordinates(reader: _ArchiveReader, infos: list[zipfile.ZipInfo], archive_name: str) -> list[Coordinates]:
    """All Maven coordinates one archive level declares, by the precedence in the module docstring.

    When the Maven metadata describes only other artifacts (a fat jar shading its dependencies), the archive's own
    identity from the manifest or file name is added too, unless it carries the version of one of them.
    """
    found = _maven_metadata(reader, infos)
    own = _own_coordinates(reader, infos, archive_name)
    if own is not None and not any(c.artifact == own.artifact or c.version == own.version for c in found):
        found.append(own)
    return found


def _maven_metadata(reader: _ArchiveReader, infos: list[zipfile.ZipInfo]) -> list[Coordinates]:
    """Coordinates from every ``pom.properties``, or else from every ``pom.xml``, under ``META-INF/maven/``."""
    found: list[Coordinates] = []
    for info in infos:
        if info.filename.startswith("META-INF/maven/") and info.filename.endswith("/pom.properties"):
            values = parse_properties(reader.read(info, _METADATA_CAP).decode("utf-8", "replace"))
            group, artifact, version = (_plain(values.get(k)) for k in ("groupId", "artifactId", "version"))
            if artifact and version:
                found.append(Coordinates(group, artifact, version, "pom.properties", info.filename))
    if found:
        return found
    for info in infos:
        if info.filename.startswith("META-INF/maven/") and info.filename.endswith("/pom.xml"):
            gav = parse_pom_xml(reader.read(info, _METADATA_CAP))
            if gav:
                found.append(Coordinates(*gav, source="pom.xml", entry=info.filename))
    return found


def _own_coordinates(reader: _ArchiveReader, infos: list[zipfile.ZipInfo], archive_name: str) -> Coordinates | None:
    """The archive's own identity from ``MANIFEST.MF``, else from its file name (None when neither has a version)."""
    file_artifact, file_version = filename_coordinates(archive_name)
    manifest = next((i for i in infos if i.filename.upper() == "META-INF/MANIFEST.MF"), None)
    if manifest is not None:
        headers = parse_manifest(reader.read(manifest, _METADATA_CAP).decode("utf-8", "replace"))
        for key in ("Implementation-Version", "Bundle-Version", "Plugin-Version", "Specification-Version"):
            version = _plain(headers.get(key))
            if version:
                symbolic = _plain(headers.get("Bundle-SymbolicName", "").split(";")[0])
                short_name = _plain(headers.get("Short-Name"))  # Jenkins plugins (.jpi/.hpi)
                artifact = short_name or file_artifact or _plain(headers.get("Implementation-Title")) or symbolic
                group = _plain(headers.get("Group-Id")) or _plain(headers.get("Implementation-Vendor-Id"))
                if not group and symbolic.endswith("." + artifact):
                    group = symbolic[: -len(artifact) - 1]
                if artifact:
                    return Coordinates(group, artifact, version, f"MANIFEST.MF:{key}", manifest.filename)
    if file_artifact and file_version:
        return Coordinates("", file_artifact, file_version, "filename")
    return None


class JavaArchiveAnalyzer(Analyzer):
    """Maven artifacts inside Java archives, recursively through nested archives."""

    name = "lang/java-archive"
    version = 4
    tags = frozenset({"lang", "java"})
    max_size = 1024 * 1024 * 1024

    def __init__(self, limits: ZipLimits | None = None) -> None:
        self.limits = limits or ZipLimits()

    def path_hint(self) -> EntryHint:
        """The archive suffixes."""
        return EntryHint(tuple(sorted(_SUFFIXES)))

    def wants(self, path: str, info: FileMeta) -> bool:
        """Regular files ending in a Java archive suffix."""
        return path[-4:].lower() in _SUFFIXES and info.kind == "file"

    def analyze(self, file: FileInput) -> AnalysisResult | None:
        """Walk the archive and its nested archives; limits and corruption become warnings naming the file."""
        budget = _Budget(self.limits)
        packages: list[Package] = []
        self._walk(file, file.open(), file.path, 0, budget, packages)
        warnings = [
            ScanWarning(code="malformed-file", message=msg, path=file.path, layer=file.layer) for msg in budget.warnings
        ]
        unique = {p.key(): p for p in packages}
        return AnalysisResult(packages=sorted(unique.values(), key=Package.key), warnings=warnings)

    def _walk(
        self, file: FileInput, stream: BinaryIO, label: str, depth: int, budget: _Budget, out: list[Package]
    ) -> None:
        try:
            with zipfile.ZipFile(stream) as zf:
                infos = zf.infolist()
                budget.charge(infos, label)
                reader = _ArchiveReader(zf, label)
                for coords in _coordinates(reader, infos, label):
                    out.append(self._package(file, coords, label))
                for info in sorted(infos, key=lambda i: i.filename):
                    if info.is_dir() or not info.filename.lower().endswith(ARCHIVE_SUFFIXES):
                        continue
                    nested_label = f"{label}:{info.filename}"
                    if depth + 1 > self.limits.max_depth:
                        budget.warnings.append(f"{nested_label}: nested deeper than {self.limits.max_depth} archives")
                        continue
                    try:
                        data = reader.read(info, self.limits.max_nested_bytes)
                    except ArchiveLimitError as exc:
                        budget.warnings.append(f"{nested_label}: {exc}")
                        continue
                    except _ZIP_ERRORS as exc:
                        budget.warnings.append(f"{nested_label}: cannot be read ({type(exc).__name__}: {exc})")
                        continue
                    self._walk(file, io.BytesIO(data), nested_label, depth + 1, budget, out)
        except ArchiveLimitError as exc:
            budget.warnings.append(str(exc))
        except _ZIP_ERRORS as exc:
            budget.warnings.append(f"{label}: truncated or corrupt archive ({type(exc).__name__}: {exc})")

    def _package(self, file: FileInput, coords: Coordinates, label: str) -> Package:
        name = f"{coords.group}:{coords.artifact}" if coords.group else coords.artifact
        extra: list[tuple[str, str]] = [("version_source", coords.source)]
        if coords.entry:
            extra.append(("archive_entry", coords.entry))
        if not coords.group:
            extra.append(("note", "groupId unknown: cannot be matched against Maven advisories"))
        if label != file.path:
            extra.append(("virtual_path", label))
        return Package(
            name=name,
            version=coords.version,
            ecosystem=ECOSYSTEM,
            purl=maven_purl(coords.group, coords.artifact, coords.version),
            layer=file.layer,
            path=file.path,
            found_by=self.name,
            module=coords.group,
            extra=tuple(extra),
        )


