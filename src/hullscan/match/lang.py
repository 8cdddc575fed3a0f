"""The matcher for language packages: OSV ecosystem + normalised name (PEP 503 for PyPI, lower-case
npm/NuGet/Packagist/crates.io, ``group:artifact`` for Maven, module path for Go).

Go standard library: the Go binary analyzer reports the toolchain a binary was built with as
``Package(name="stdlib", ecosystem="Go", version="1.21.3")`` (a ``go`` prefix, ``go1.21.3``, is accepted
too); it matches the ``stdlib`` package of the Go vulnerability database.
"""

from __future__ import annotations

from typing import ClassVar

from hullscan.match.base import Matcher
from hullscan.model import Distro, Package


class LanguageMatcher(Matcher):
    """Every non-OS package, looked up in the OSV ecosystem it names."""

    name: ClassVar[str] = "lang/osv"
    version: ClassVar[int] = 1

    def applies(self, pkg: Package, distro: Distro | None) -> bool:
        return not pkg.is_os and bool(pkg.ecosystem)

    def namespaces(self, pkg: Package, distro: Distro | None) -> list[str]:
        return [pkg.ecosystem]

    def label(self, pkg: Package, distro: Distro | None) -> str:
        return pkg.ecosystem

    def names(self, pkg: Package) -> list[str]:
        if pkg.ecosystem == "Maven" and ":" not in pkg.name and pkg.module:
            return [f"{pkg.module}:{pkg.name}"]
        return [pkg.name]

    def installed_version(self, pkg: Package) -> str:
        if pkg.ecosystem == "Go" and pkg.name == "stdlib" and pkg.version.startswith("go"):
            return pkg.version[2:]
        return pkg.version
