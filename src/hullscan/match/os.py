"""Matchers for OS packages: by distro + release namespace and by **source** package name.

=========  ======================================  ===================================  ===================
matcher    distro (os-release ID)                  namespace                            names looked up
=========  ======================================  ===================================  ===================
debian     debian                                  ``Debian:<major>`` (codename if no    source (else binary)
                                                   VERSION_ID)
ubuntu     ubuntu                                  ``Ubuntu:<ver>[:LTS]``               source (else binary)
alpine     alpine                                  ``Alpine:v<major.minor>`` / ``edge``  origin and binary
wolfi      wolfi, chainguard                       ``Wolfi`` (+ ``Chainguard``)          origin and binary
rpm        almalinux, rocky, mageia, opensuse-     ``AlmaLinux:<major>``,               binary and source
           leap                                    ``Rocky Linux:<major>``, ...         rpm name
=========  ======================================  ===================================  ===================

Debian and Ubuntu feeds (tracker, OSV ``Debian``/``Ubuntu``, DSA lists) key on source packages and
their fixed versions are source versions, so the source version is compared when known. Alpine secdb
keys on the aport (origin); AlmaLinux/Rocky OSV records list binary rpm names.
"""

from __future__ import annotations

from typing import ClassVar

from hullscan.match.base import Matcher
from hullscan.model import Distro, Package
from hullscan.vulndb.releases import DEBIAN, ubuntu_namespace


def _label(distro: Distro | None) -> str:
    if distro is None:
        return "unknown distro"
    return f"{distro.id} {distro.version_id or distro.codename or '(no version)'}".strip()


class _OsMatcher(Matcher):
    ecosystem: ClassVar[str] = ""
    distro_ids: ClassVar[tuple[str, ...]] = ()

    def applies(self, pkg: Package, distro: Distro | None) -> bool:
        return pkg.ecosystem == self.ecosystem and distro is not None and distro.id in self.distro_ids

    def label(self, pkg: Package, distro: Distro | None) -> str:
        return _label(distro)


class DebianMatcher(_OsMatcher):
    """dpkg packages of Debian."""

    name: ClassVar[str] = "os/debian"
    version: ClassVar[int] = 1
    ecosystem: ClassVar[str] = "deb"
    distro_ids: ClassVar[tuple[str, ...]] = ("debian",)

    def namespaces(self, pkg: Package, distro: Distro | None) -> list[str]:
        assert distro is not None
        major = distro.version_id.split(".")[0] if distro.version_id else DEBIAN.get(distro.codename.lower(), "")
        return [f"Debian:{major}"] if major else []

    def names(self, pkg: Package) -> list[str]:
        return [pkg.source_name or pkg.name]

    def installed_version(self, pkg: Package) -> str:
        return pkg.source_version or pkg.version


class UbuntuMatcher(DebianMatcher):
    """dpkg packages of Ubuntu."""

    name: ClassVar[str] = "os/ubuntu"
    version: ClassVar[int] = 1
    distro_ids: ClassVar[tuple[str, ...]] = ("ubuntu",)

    def namespaces(self, pkg: Package, distro: Distro | None) -> list[str]:
        assert distro is not None
        ns = ubuntu_namespace(distro.version_id) or ubuntu_namespace(distro.codename)
        if not ns and distro.version_id:
            ns = f"Ubuntu:{distro.version_id}"
        return [ns] if ns else []


class AlpineMatcher(_OsMatcher):
    """apk packages of Alpine (secdb and OSV ``Alpine:vX.Y``)."""

    name: ClassVar[str] = "os/alpine"
    version: ClassVar[int] = 1
    ecosystem: ClassVar[str] = "apk"
    distro_ids: ClassVar[tuple[str, ...]] = ("alpine",)

    def namespaces(self, pkg: Package, distro: Distro | None) -> list[str]:
        assert distro is not None
        ver = distro.version_id
        if not ver:
            return []
        if "_alpha" in ver or "edge" in (distro.pretty_name or "").lower():
            return ["Alpine:edge"]
        return ["Alpine:v" + ".".join(ver.split(".")[:2])]

    def names(self, pkg: Package) -> list[str]:
        return [n for n in (pkg.source_name, pkg.name) if n]


class WolfiMatcher(AlpineMatcher):
    """apk packages of Wolfi and Chainguard images (rolling: one namespace, no release)."""

    name: ClassVar[str] = "os/wolfi"
    version: ClassVar[int] = 1
    distro_ids: ClassVar[tuple[str, ...]] = ("wolfi", "chainguard")

    def namespaces(self, pkg: Package, distro: Distro | None) -> list[str]:
        assert distro is not None
        return ["Chainguard", "Wolfi"] if distro.id == "chainguard" else ["Wolfi"]

    def label(self, pkg: Package, distro: Distro | None) -> str:
        return distro.id if distro else "wolfi"


#: os-release ID -> OSV ecosystem prefix; the release is the major version unless noted
_RPM_NAMESPACES = {
    "almalinux": ("AlmaLinux", "major"),
    "rocky": ("Rocky Linux", "major"),
    "mageia": ("Mageia", "full"),
    "opensuse-leap": ("openSUSE:Leap", "full"),
    "openeuler": ("openEuler", "full"),
}


class RpmMatcher(_OsMatcher):
    """rpm packages of the distros whose OSV ecosystem names a release (AlmaLinux, Rocky, ...)."""

    name: ClassVar[str] = "os/rpm"
    version: ClassVar[int] = 1
    ecosystem: ClassVar[str] = "rpm"
    distro_ids: ClassVar[tuple[str, ...]] = tuple(_RPM_NAMESPACES)

    def namespaces(self, pkg: Package, distro: Distro | None) -> list[str]:
        assert distro is not None
        prefix, part = _RPM_NAMESPACES[distro.id]
        if not distro.version_id:
            return []
        release = distro.version_id.split(".")[0] if part == "major" else distro.version_id
        return [f"{prefix} {release}" if prefix.endswith("Leap") else f"{prefix}:{release}"]

    def names(self, pkg: Package) -> list[str]:
        return [n for n in (pkg.name, pkg.source_name) if n]
