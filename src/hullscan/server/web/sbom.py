"""An image's stored inventory as an SBOM, written by the same report writers as ``hullscan image -f``."""

from __future__ import annotations

import io

from hullscan.model import Artifact, ScanReport
from hullscan.report import writer
from hullscan.server.db.models import Image
from hullscan.server.results import load_inventory


def sbom_document(img: Image, fmt: str) -> tuple[str, str]:
    """(JSON text, file name) of ``img``'s packages in ``fmt`` (``cyclonedx`` or ``spdx``)."""
    distro, packages = load_inventory(img)
    report = ScanReport(Artifact(name=img.digest, kind="registry", digest=img.digest), os=distro, packages=packages,
                        scanned_at=img.last_scanned_at.isoformat() if img.last_scanned_at else "")
    out = io.StringIO()
    writer("spdx-json" if fmt == "spdx" else "cyclonedx")(report, out)
    short = img.digest.split(":")[-1][:12]
    return out.getvalue(), f"image-{short}.{'cdx' if fmt == 'cyclonedx' else 'spdx'}.json"
