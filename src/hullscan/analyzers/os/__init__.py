"""OS detection and OS package analyzers, plus the helpers the inventory merge calls.

Analyzers (registered in :data:`hullscan.analyzers.ANALYZERS`, tag ``os``):

* ``os/release`` (:mod:`.osrelease`): one :class:`~hullscan.model.Distro` per release file;
* ``os/dpkg`` (:mod:`.dpkg`), ``os/apk`` (:mod:`.apk`), ``os/rpm`` (:mod:`.rpm`): packages.

Inventory contract (called on the squashed view, after whiteouts and "topmost wins"):

1. ``distro = resolve_distro([(path, distro) for every surviving os/release FileResult])``;
2. the merged ``AnalysisResult.owners`` of the surviving files (dpkg ``info/*.list`` and distroless
   ``status.d/*.md5sums``, keyed ``deb:<name>``) fill the packages' ``files``, resolved through the image's
   symlinks (:func:`hullscan.owners.join_owners`, the one implementation, called by the squash);
3. ``packages = attach_distro(packages, distro)`` to complete the purls of OS packages.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from hullscan.analyzers.os.osrelease import detect, resolve_distro
from hullscan.analyzers.os.purls import OS_ECOSYSTEMS, os_purl
from hullscan.model import Distro, Package


def attach_distro(packages: Sequence[Package], distro: Distro | None) -> list[Package]:
    """Rewrite the purls of OS packages with the distro namespace and qualifier; others unchanged."""
    if distro is None:
        return list(packages)
    return [replace(p, purl=os_purl(p, distro)) if p.ecosystem in OS_ECOSYSTEMS else p for p in packages]


__all__ = ["attach_distro", "detect", "resolve_distro"]
