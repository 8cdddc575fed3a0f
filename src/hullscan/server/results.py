"""Storing scan results: an image's inventory once, its current findings replaced atomically per scan.

Findings are keyed per image by a fingerprint (category, id, place, package), so a rescan updates rows in
place: handled/ignored marks and first-seen times survive, nothing is duplicated, and findings that are gone
are deleted in the same transaction.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from hullscan.model import Category, Distro, Finding, Package, ScanReport
from hullscan.serde import load, to_data
from hullscan.server.db.models import FindingRow, Image


def fingerprint(f: Finding) -> str:
    """Stable identity of a finding within one image."""
    v = f.vuln
    parts = [f.category.value, f.id, f.location.path, str(f.location.line)]
    if v is not None:
        parts += [v.ecosystem, v.package_name, v.installed_version]
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


def row_values(f: Finding) -> dict[str, Any]:
    """Column values of a finding."""
    v = f.vuln
    return {
        "category": f.category.value,
        "rule_id": f.id,
        "severity": f.severity.value,
        "severity_rank": f.severity.rank,
        "title": f.title,
        "description": f.description,
        "path": f.location.path,
        "line": f.location.line,
        "layer": f.location.layer,
        "removed_in": f.location.removed_in,
        "evidence": f.evidence,
        "remediation": f.remediation,
        "package_name": v.package_name if v else "",
        "package_version": v.installed_version if v else "",
        "ecosystem": v.ecosystem if v else "",
        "purl": v.purl if v else "",
        "fix_status": v.fix_status.value if v else "",
        "fixed_versions": list(v.fixed_versions) if v else [],
        "cvss_score": v.cvss_score if v else None,
        "data_source": v.data_source if v else "",
        "detail": to_data(f),
    }


def replace_findings(
    session: Session,
    image_id: int,
    findings: Iterable[Finding],
    now: datetime,
    scan_id: int | None = None,
    categories: set[str] | None = None,
) -> tuple[set[str], set[str]]:
    """Make ``findings`` the image's current findings (only within ``categories`` when given).

    Returns the fingerprints added and removed.
    """
    wanted: dict[str, Finding] = {}
    for f in findings:
        if categories is None or f.category.value in categories:
            wanted.setdefault(fingerprint(f), f)
    q = select(FindingRow).where(FindingRow.image_id == image_id)
    if categories is not None:
        q = q.where(FindingRow.category.in_(sorted(categories)))
    existing = {row.fingerprint: row for row in session.scalars(q)}
    removed = set(existing) - set(wanted)
    if removed:
        session.execute(delete(FindingRow).where(FindingRow.id.in_([existing[fp].id for fp in removed])))
    added: set[str] = set()
    for fp, f in wanted.items():
        values = row_values(f)
        row = existing.get(fp)
        if row is None:
            session.add(FindingRow(image_id=image_id, scan_id=scan_id, fingerprint=fp, first_seen=now, last_seen=now, **values))
            added.add(fp)
        else:
            for key, value in values.items():
                setattr(row, key, value)
            row.last_seen = now
            if scan_id is not None:
                row.scan_id = scan_id
    session.flush()
    return added, removed


def store_inventory(image: Image, report: ScanReport) -> None:
    """Keep the image's inventory (distro + packages) for re-matching without pulling."""
    image.inventory = {"os": to_data(report.os), "packages": to_data(report.packages),
                       # the blob digest of each layer beside its diff_id (findings name layers by diff_id)
                       "layers": [{"digest": lay.digest, "diff_id": lay.diff_id} for lay in report.layers]}
    image.os = f"{report.os.id} {report.os.version_id}".strip() if report.os else ""


def load_inventory(image: Image) -> tuple[Distro | None, list[Package]]:
    """The stored inventory of an image."""
    data = image.inventory or {}
    distro = load(Distro, data["os"]) if data.get("os") else None
    return distro, [load(Package, p) for p in data.get("packages") or []]


def finding_categories() -> list[str]:
    """Every finding category value."""
    return [c.value for c in Category]
