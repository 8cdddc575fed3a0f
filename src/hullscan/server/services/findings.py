"""Listing findings: the filters and sort orders the API and the console's Image Security tables share."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hullscan.model import Severity
from hullscan.server.db.models import FindingRow, Image, ImageTag, Repository
from hullscan.server.services import ServiceError

#: package ecosystems of OS (distribution) packages: "system" vulnerabilities; the others are "application"
SYSTEM_ECOSYSTEMS = ("deb", "rpm", "apk")
SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "NEGLIGIBLE", "UNKNOWN")
#: sort keys -> columns (the id breaks ties so pages never overlap)
SORTS: dict[str, Any] = {
    "severity": FindingRow.severity_rank,
    "rule": FindingRow.rule_id,
    "package": FindingRow.package_name,
    "image": FindingRow.image_id,
    "first_seen": FindingRow.first_seen,
    "path": FindingRow.path,
}


@dataclass
class FindingFilter:
    """Which findings to list."""

    category: str | None = None
    severities: list[str] = field(default_factory=list)
    fix_status: str | None = None
    package: str | None = None
    repository_id: int | None = None
    image_id: int | None = None
    rule_id: str | None = None
    state: str | None = None
    include_suppressed: bool = False
    #: "system" (OS packages) or "application" (language packages); vulnerabilities only
    kind: str | None = None
    #: a repository name (exact) instead of an id
    repository: str | None = None


def filtered(q: Any, f: FindingFilter, *, with_severity: bool = True) -> Any:
    """``q`` (over FindingRow) narrowed by ``f`` (severities left out with ``with_severity=False``: for counts)."""
    if f.category:
        q = q.where(FindingRow.category == f.category)
    if with_severity and f.severities:
        # the rank too (same meaning): the severity-ordered index can then seek to these ranks
        ranks = sorted({Severity(sev).rank for sev in f.severities if sev in Severity.__members__})
        q = q.where(FindingRow.severity.in_(f.severities), FindingRow.severity_rank.in_(ranks))
    if f.fix_status:
        q = q.where(FindingRow.fix_status == f.fix_status)
    if f.package:
        q = q.where(FindingRow.package_name == f.package)
    if f.image_id is not None:
        q = q.where(FindingRow.image_id == f.image_id)
    if f.rule_id:
        q = q.where(FindingRow.rule_id == f.rule_id)
    if f.repository_id is not None:
        q = q.where(FindingRow.image_id.in_(select(ImageTag.image_id).where(ImageTag.repository_id == f.repository_id)))
    if f.repository:
        q = q.where(FindingRow.image_id.in_(select(ImageTag.image_id).join(Repository, ImageTag.repository_id == Repository.id)
                                           .where(Repository.name == f.repository)))
    if f.state:
        q = q.where(FindingRow.state == f.state)
    if f.kind == "system":
        q = q.where(FindingRow.ecosystem.in_(SYSTEM_ECOSYSTEMS))
    elif f.kind == "application":
        q = q.where(FindingRow.ecosystem.not_in(SYSTEM_ECOSYSTEMS))
    if not f.include_suppressed:
        q = q.where(FindingRow.suppressed_by.is_(None))
    return q


def default_order() -> tuple[Any, ...]:
    """The API's order: most severe first."""
    return (FindingRow.severity_rank.desc(), FindingRow.category, FindingRow.rule_id, FindingRow.id)


def list_findings(s: Session, f: FindingFilter, page: int, page_size: int, sort: str = "", descending: bool = True,
                  count: bool = True) -> tuple[list[FindingRow], int]:
    """One page of findings and the number matching (``count=False``: -1, one query less)."""
    q = filtered(select(FindingRow), f)
    if sort in SORTS:
        col = SORTS[sort]
        order: tuple[Any, ...] = (col.desc() if descending else col.asc(), FindingRow.id.desc() if descending else FindingRow.id)
    else:
        order = default_order()
    rows = list(s.scalars(q.order_by(*order).offset((page - 1) * page_size).limit(page_size)))
    total = -1
    if count:
        total = int(s.scalar(filtered(select(func.count(FindingRow.id)), f)) or 0)
    return rows, total


def severity_counts(s: Session, f: FindingFilter) -> dict[str, int]:
    """Findings matching ``f`` (its severity filter left out) per severity."""
    # grouped in the order of the console's covering index (category, state, suppressed_by, ecosystem, severity):
    # grouping by severity alone makes SQLite walk the severity index and read every row instead
    cols = (FindingRow.category, FindingRow.ecosystem, FindingRow.severity)
    q = filtered(select(*cols, func.count(FindingRow.id)), f, with_severity=False).group_by(*cols)
    out: dict[str, int] = {}
    for _, _, sev, n in s.execute(q):
        out[sev] = out.get(sev, 0) + int(n)
    return out


def image_labels(s: Session, image_ids: list[int]) -> dict[int, str]:
    """``repository:tag`` (first tag by name) or the short digest of each image, for tables."""
    out: dict[int, str] = {}
    if not image_ids:
        return out
    ids = sorted(set(image_ids))
    for image_id, repo, tag in s.execute(
        select(ImageTag.image_id, Repository.name, ImageTag.tag).join(Repository, ImageTag.repository_id == Repository.id)
        .where(ImageTag.image_id.in_(ids)).order_by(ImageTag.image_id, Repository.name, ImageTag.tag)
    ):
        out.setdefault(image_id, f"{repo}:{tag}")
    for image_id, digest in s.execute(select(Image.id, Image.digest).where(Image.id.in_(ids))):
        out.setdefault(image_id, digest[:19])
    return out


def set_state(s: Session, finding_id: int, state: str, reason: str, user: str, now: Any) -> FindingRow:
    """Mark a finding handled or ignored (a reason is required), or open again."""
    row = s.get(FindingRow, finding_id)
    if row is None:
        raise ServiceError(404, "NotFound", f"no finding with id {finding_id}")
    if state not in ("open", "handled", "ignored"):
        raise ServiceError(422, "InvalidState", f"unknown state {state!r}")
    if state != "open" and not reason.strip():
        raise ServiceError(422, "ReasonRequired", f"marking a finding {state} needs a reason")
    row.state, row.state_reason, row.state_by, row.state_at = state, reason, user, now
    return row
