"""Alpine / Wolfi / Chainguard apk database: ``/lib/apk/db/installed`` (``/usr/lib/...`` when usr-merged).

Format (apk-tools ``database.c``, https://wiki.alpinelinux.org/wiki/Apk_spec): one stanza per
package, separated by blank lines; each line is ``<letter>:<value>``. The letters used here:

``P`` name, ``V`` version, ``A`` arch, ``o`` origin (the source package), ``L`` license,
``m`` maintainer, ``t`` build time, ``c`` aports commit, ``D`` dependencies (space separated,
``!x`` = conflict), ``p`` provides (``so:libc.musl-x86_64.so.1=1``), ``F`` a directory and ``R``
a file inside the last ``F``. Dependencies on virtual names (``so:``, ``cmd:``...) are resolved to
the package that provides them.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field, replace

from hullscan.analyzers.base import Analyzer, EntryHint, FileInput, FileMeta
from hullscan.analyzers.os.purls import os_purl
from hullscan.model import AnalysisResult, Package, ScanWarning

INSTALLED = "/lib/apk/db/installed"
#: the database paths: Wolfi/Chainguard (usr-merged, ``/lib`` -> ``usr/lib``) keep it under /usr/lib
PATHS = frozenset({INSTALLED, "/usr/lib/apk/db/installed"})


@dataclass
class _Entry:
    """One stanza as read, before dependency resolution."""

    fields: dict[str, str] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    depends: list[str] = field(default_factory=list)
    provides: list[str] = field(default_factory=list)


def parse_installed(text: str) -> tuple[list[_Entry], int]:
    """Stanzas of an ``installed`` file; returns ``(entries, broken)``."""
    entries: list[_Entry] = []
    broken = 0
    cur, bad, directory = _Entry(), False, ""
    for line in text.splitlines() + [""]:
        if not line.strip():
            if cur.fields or bad:
                if bad or not cur.fields.get("P") or not cur.fields.get("V"):
                    broken += 1
                else:
                    entries.append(cur)
            cur, bad, directory = _Entry(), False, ""
            continue
        if len(line) < 2 or line[1] != ":":
            bad = True
            continue
        key, value = line[0], line[2:]
        if key == "F":
            directory = value.strip("/")
        elif key == "R":
            cur.files.append("/" + (f"{directory}/{value}" if directory else value))
        elif key == "D":
            cur.depends.extend(value.split())
        elif key == "p":
            cur.provides.extend(value.split())
        else:
            cur.fields.setdefault(key, value)
    return entries, broken


@functools.cache
def _op() -> re.Pattern[str]:
    """A version operator of a dependency token (compiled on first use: start-up stays cheap)."""
    return re.compile(r"[<>=~]")


def _dep_name(token: str) -> str:
    return _op().split(token, maxsplit=1)[0]


def build_packages(entries: list[_Entry], path: str, layer: str, found_by: str) -> list[Package]:
    """Turn parsed stanzas into packages, resolving virtual dependencies through ``p:`` provides."""
    provider: dict[str, str] = {}
    for e in entries:
        provider.setdefault(e.fields["P"], e.fields["P"])
        for prov in e.provides:
            provider.setdefault(_dep_name(prov), e.fields["P"])
    packages: list[Package] = []
    for e in entries:
        f = e.fields
        deps: list[str] = []
        for token in e.depends:
            if token.startswith("!"):
                continue
            name = _dep_name(token)
            resolved = provider.get(name, "" if ":" in name else name)
            if resolved and resolved != f["P"] and resolved not in deps:
                deps.append(resolved)
        extra = tuple((k, f[c]) for k, c in (("maintainer", "m"), ("build-time", "t"), ("commit", "c")) if f.get(c))
        pkg = Package(
            name=f["P"], version=f["V"], ecosystem="apk", arch=f.get("A", ""),
            source_name=f.get("o") or f["P"], source_version=f["V"], layer=layer, path=path,
            found_by=found_by, files=tuple(sorted(set(e.files))), depends=tuple(sorted(deps)),
            licenses=(f["L"],) if f.get("L") else (), extra=extra,
        )
        packages.append(replace(pkg, purl=os_purl(pkg)))
    packages.sort(key=lambda p: (p.name, p.version))
    return packages


class ApkAnalyzer(Analyzer):
    """The apk installed-packages database."""

    name = "os/apk"
    version = 1
    tags = frozenset({"os"})

    def path_hint(self) -> EntryHint:
        """The database paths."""
        return EntryHint(tuple(sorted(p.lower() for p in PATHS)))

    def wants(self, path: str, info: FileMeta) -> bool:
        """Only the database (``/lib/apk/db/installed`` or ``/usr/lib/apk/db/installed``)."""
        return path in PATHS and info.kind in ("file", "hardlink")

    def analyze(self, file: FileInput) -> AnalysisResult:
        """All packages of the database; broken stanzas are skipped with one warning."""
        text = file.text()
        entries, broken = parse_installed(text)
        result = AnalysisResult(packages=build_packages(entries, file.path, file.layer, self.name))
        if broken:
            result.warnings.append(ScanWarning(
                code="malformed-file", path=file.path, layer=file.layer,
                message=f"{file.path}: {broken} malformed apk stanza(s) skipped"))
        return result
