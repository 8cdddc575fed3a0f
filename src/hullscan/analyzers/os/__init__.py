"""OS detection and OS package analyzers, plus the helpers the inventory merge calls.

Analyzers (registered in :data:`hullscan.analyzers.CATALOG`, tag ``os``):

* ``os/release`` (:mod:`.osrelease`): one :class:`~hullscan.model.Distro` per release file;
* ``os/dpkg`` (:mod:`.dpkg`), ``os/apk`` (:mod:`.apk`), ``os/rpm`` (:mod:`.rpm`): packages.

Inventory contract (called on the squashed view, after whiteouts and "topmost wins"):

1. ``distro = resolve_distro([(path, distro) for every surviving os/release FileResult])``;
2. the merged ``AnalysisResult.owners`` of the surviving files (dpkg ``info/*.list`` and distroless
   ``status.d/*.md5sums``, keyed ``deb:<name>``) fill the packages' ``files``;
   :func:`attach_owners` does that for callers other than :func:`hullscan.inventory.squash`, which
   joins them itself;
3. ``packages = attach_distro(packages, distro)`` to complete the purls of OS packages.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from hullscan.analyzers.os.osrelease import detect, resolve_distro
from hullscan.analyzers.os.purls import OS_ECOSYSTEMS, os_purl
from hullscan.model import Distro, Package


def attach_distro(packages: Sequence[Package], distro: Distro | None) -> list[Package]:
    """Rewrite the purls of OS packages with the distro namespace and qualifier; others unchanged."""
    if distro is None:
        return list(packages)
    return [replace(p, purl=os_purl(p, distro)) if p.ecosystem in OS_ECOSYSTEMS else p for p in packages]


def attach_owners(packages: Sequence[Package], owners: Mapping[str, Sequence[str]]) -> list[Package]:
    """Fill ``files`` of packages that have none from ``owners`` (keys ``<eco>:<name>[:<arch>]``).

    The arch-qualified key (``deb:libc6:amd64``, from a multi-arch ``.list`` file) wins over the
    plain one.
    """
    out = []
    for p in packages:
        if not p.files:
            files = owners.get(f"{p.ecosystem}:{p.name}:{p.arch}") or owners.get(f"{p.ecosystem}:{p.name}")
            if files:
                p = replace(p, files=tuple(sorted(set(files))))
        out.append(p)
    return out


__all__ = ["attach_distro", "attach_owners", "detect", "resolve_distro"]
