"""The feed-neutral advisory record every feed parser produces and the database stores.

Every feed (OSV, Debian tracker, Alpine secdb, Ubuntu tracker, DSA/DLA lists) is turned into this one
shape, with affected entries written in OSV form (``ranges`` / ``versions``), so matching has a single
code path: :func:`hullscan.version.osvrange.is_affected` over the stored entry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

#: fix states stored per affected entry (values of :class:`hullscan.model.FixStatus`)
FIXED, AFFECTED, WILL_NOT_FIX, END_OF_LIFE, UNKNOWN = "fixed", "affected", "will_not_fix", "end_of_life", "unknown"


@dataclass(frozen=True)
class AffectedEntry:
    """One (namespace, package) an advisory affects.

    ``namespace`` is the OSV ecosystem string (``PyPI``, ``Debian:12``, ``Alpine:v3.19``, ``AlmaLinux:9``,
    ``Ubuntu:22.04:LTS``...). ``entry`` is an OSV ``affected`` object (``ranges``, ``versions``,
    ``ecosystem_specific``, ``database_specific``), also for native feeds, which are converted to it.
    ``severity`` is the distro's own rating for this package when the feed gives one (Debian urgency,
    Ubuntu priority).
    """

    namespace: str
    package: str
    entry: dict[str, Any]
    fix_status: str = AFFECTED
    severity: str = ""


@dataclass(frozen=True)
class Record:
    """One advisory of one source (a CVE of the Debian tracker, an OSV record, a DSA...)."""

    id: str
    source: str
    aliases: tuple[str, ...] = ()
    summary: str = ""
    details: str = ""
    severity: str = ""  # the record's own severity word (GHSA "HIGH", Ubuntu "medium"...)
    severity_source: str = ""
    cvss: tuple[str, ...] = ()  # CVSS vectors (v2, v3.x, v4.0)
    published: str = ""
    modified: str = ""
    withdrawn: str = ""
    references: tuple[str, ...] = ()
    affected: tuple[AffectedEntry, ...] = field(default_factory=tuple)
    native: bool = False  # True for distro-native feeds (their ids are CVE ids, their ratings the distro's)


_PEP503 = re.compile(r"[-_.]+")


def normalise_name(ecosystem: str, name: str) -> str:
    """The lookup key of a package name in ``ecosystem``.

    PyPI: PEP 503 (``Foo_Bar.baz`` -> ``foo-bar-baz``). Every other ecosystem: lower-case and
    trimmed (npm, NuGet, Packagist, crates.io, Maven ``group:artifact`` are case-insensitive in practice;
    Go module paths are compared lower-cased too, which never merges two real modules).
    """
    name = name.strip()
    base = ecosystem.split(":", 1)[0].strip().lower()
    if base == "pypi":
        return _PEP503.sub("-", name).lower()
    return name.lower()


def normalise_namespace(namespace: str) -> str:
    """The lookup key of an OSV ecosystem string: lower-cased, no spaces around ``:``."""
    return ":".join(part.strip() for part in namespace.split(":")).lower()
