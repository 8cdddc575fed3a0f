"""Vulnerability feeds: one module per feed, each with a pure ``parse(bytes, origin) -> list[Record]``.

:data:`FEEDS` is the one explicit registry. Fetching is shared (:mod:`hullscan.vulndb.feeds.fetch`:
``fetch(url, fingerprint)`` returns new bytes on disk or "unchanged"); finding feeds inside files, zips
and folders for ``hullscan db import`` is :mod:`hullscan.vulndb.feeds.discover`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

from hullscan.plugins import Entry, Registry
from hullscan.vulndb.feeds import alpine, debian, debian_dsa, osv, ubuntu
from hullscan.vulndb.records import Record


@dataclass(frozen=True)
class Feed:
    """A feed plugin: its document parser and a short description."""

    name: str
    version: int
    parse: Callable[[bytes, str], list[Record]]
    description: str


def _feed(module: ModuleType, description: str) -> Entry[Feed]:
    name, version = module.NAME, module.VERSION
    parse_fn: Callable[[bytes, str], list[Record]] = module.parse
    return Entry(name, version, lambda: Feed(name, version, parse_fn, description), frozenset({"feed"}))


FEEDS: Registry[Feed] = Registry("feed", [
    _feed(osv, "OSV records: bulk <Ecosystem>/all.zip or loose JSON/YAML files, every ecosystem"),
    _feed(debian, "Debian security tracker JSON (per source package, CVE and release)"),
    _feed(debian_dsa, "Debian DSA/DLA advisory lists"),
    _feed(alpine, "Alpine secdb (secfixes per aport and release)"),
    _feed(ubuntu, "Ubuntu CVE tracker files (status per release and source package)"),
])


def feed(name: str) -> Feed:
    """The feed called ``name``."""
    return FEEDS.get(name).factory()
