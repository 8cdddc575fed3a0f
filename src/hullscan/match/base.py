"""The matcher protocol (after claircore's ``driver.Matcher``): a matcher says which packages it
handles (``applies``), where their advisories are (``namespaces`` x ``names``: ``lookups``, batched over the
inventory; ``candidates`` for one package), and decides per affected entry (``affected``) with the
ecosystem's version order.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from hullscan.model import Distro, Package
from hullscan.vulndb.db import AffectedRow, VulnDB
from hullscan.vulndb.records import normalise_name


class Matcher(ABC):
    """Base of every matcher. Subclasses set ``name``/``version`` and implement the abstract methods."""

    name: ClassVar[str]
    version: ClassVar[int]

    @abstractmethod
    def applies(self, pkg: Package, distro: Distro | None) -> bool:
        """True when this matcher handles ``pkg`` (first matcher that applies wins)."""

    @abstractmethod
    def namespaces(self, pkg: Package, distro: Distro | None) -> list[str]:
        """The OSV ecosystems / distro releases to look in (empty: the release is unknown)."""

    @abstractmethod
    def label(self, pkg: Package, distro: Distro | None) -> str:
        """What the data is about, for notes: ``debian 12``, ``PyPI``."""

    def names(self, pkg: Package) -> list[str]:
        """The package names the feeds key this package on (default: the package's own name)."""
        return [pkg.name]

    def installed_version(self, pkg: Package) -> str:
        """The version compared against the ranges (default: the package's version)."""
        return pkg.version

    def lookups(self, pkg: Package, distro: Distro | None) -> list[tuple[str, str]]:
        """The (namespace, name) pairs to look up, in order: each namespace with each distinct name."""
        names = list(dict.fromkeys(self.names(pkg)))
        return [(ns, name) for ns in self.namespaces(pkg, distro) for name in names]

    def candidates(self, db: VulnDB, pkg: Package, distro: Distro | None) -> list[AffectedRow]:
        """Every affected entry for the package's names in its namespaces (matching batches these lookups
        over a whole inventory with :meth:`VulnDB.rows`; this is the one-package form)."""
        found: list[AffectedRow] = []
        for ns, name in self.lookups(pkg, distro):
            found.extend(db.rows(ns, [name]).get(normalise_name(ns, name), ()))
        return found

    def affected(self, installed: str, row: AffectedRow, parsed: dict[Any, Any] | None = None) -> bool:
        """Whether the installed version (:meth:`installed_version`) lies in the entry's ranges / versions (OSV
        semantics, :func:`hullscan.version.osvrange.is_affected`). Decided on the version alone: packages
        with the same lookups and installed version share the answer. ``parsed``: the installed version's
        parsed keys, shared by the entries checked for one package (one empty dict per package).

        Raises :class:`hullscan.version.InvalidVersionError` when the versions cannot be compared.
        """
        return row.compiled.affected(installed, parsed)
