"""The matcher protocol (after claircore's ``driver.Matcher``): a matcher says which packages it
handles (``applies``), where their advisories are (``namespaces`` x ``names``: one indexed query each,
``candidates``), and decides per advisory entry (``affected``) with the ecosystem's version order.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from hullscan.model import Distro, Package
from hullscan.version import osvrange
from hullscan.vulndb.db import Candidate, VulnDB


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

    def candidates(self, db: VulnDB, pkg: Package, distro: Distro | None) -> list[Candidate]:
        """Every advisory entry for the package's names in its namespaces."""
        found: list[Candidate] = []
        for ns in self.namespaces(pkg, distro):
            for name in dict.fromkeys(self.names(pkg)):
                found.extend(db.candidates(ns, name))
        return found

    def affected(self, pkg: Package, candidate: Candidate) -> bool:
        """Whether the installed version lies in the candidate entry's ranges / versions (OSV semantics).

        Raises :class:`hullscan.version.InvalidVersionError` when the versions cannot be compared.
        """
        return osvrange.is_affected(self.installed_version(pkg), candidate.entry, candidate.namespace)
