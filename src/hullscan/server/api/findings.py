"""``/api/findings``: findings per category with filters and pagination; marking them handled or ignored."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select

from hullscan.server import whitelist
from hullscan.server.api.deps import (
    RT,
    Operator,
    PathId,
    QueryId,
    Store,
    Viewer,
    get_or_404,
    page_of,
)
from hullscan.server.db.models import FindingRow, ImageTag, Repository
from hullscan.server.services import findings as svc
from hullscan.server.timeutil import iso

router = APIRouter(prefix="/api/findings", tags=["findings"])

CategoryName = Literal["vulnerability", "baseline", "malicious", "sensitive", "history"]
SeverityName = Literal["UNKNOWN", "NEGLIGIBLE", "LOW", "MEDIUM", "HIGH", "CRITICAL"]
FixName = Literal["fixed", "affected", "will_not_fix", "end_of_life", "unknown"]


def finding_out(f: FindingRow) -> dict[str, Any]:
    """Public view of a finding."""
    return {
        "id": f.id, "image_id": f.image_id, "category": f.category, "rule_id": f.rule_id, "severity": f.severity,
        "title": f.title, "description": f.description, "path": f.path, "line": f.line, "layer": f.layer,
        "removed_in": f.removed_in, "evidence": f.evidence, "remediation": f.remediation,
        "package": {"name": f.package_name, "version": f.package_version, "ecosystem": f.ecosystem, "purl": f.purl}
        if f.package_name else None,
        "fix_status": f.fix_status or None, "fixed_versions": f.fixed_versions, "cvss_score": f.cvss_score,
        "data_source": f.data_source, "state": f.state, "state_reason": f.state_reason, "state_by": f.state_by,
        "state_at": iso(f.state_at), "suppressed_by": f.suppressed_by, "first_seen": iso(f.first_seen),
        "last_seen": iso(f.last_seen),
    }


@router.get("", summary="List findings (filters: category, severity, fix status, package, repository, image, state)")
def list_findings(
    s: Store, rt: RT, _: Viewer,
    category: CategoryName | None = None,
    severity: list[SeverityName] = Query(default=[]),
    fix_status: FixName | None = None,
    package: str | None = Query(None, max_length=300),
    repository_id: QueryId = None,
    image_id: QueryId = None,
    rule_id: str | None = Query(None, max_length=200),
    state: Literal["open", "handled", "ignored"] | None = None,
    include_suppressed: bool = False,
    page: int = Query(1, ge=1, le=1_000_000),
    page_size: int = Query(50, ge=1, le=500),
) -> dict[str, Any]:
    whitelist.expire_due(s, rt.now())
    f = svc.FindingFilter(category=category, severities=list(severity), fix_status=fix_status, package=package,
                          repository_id=repository_id, image_id=image_id, rule_id=rule_id, state=state,
                          include_suppressed=include_suppressed)
    rows, total = svc.list_findings(s, f, page, page_size)
    return page_of([finding_out(r) for r in rows], total, page, page_size)


@router.get("/summary", summary="Open finding counts per category and severity (optionally for one repository)")
def summary(s: Store, rt: RT, _: Viewer, repository_id: QueryId = None) -> dict[str, dict[str, int]]:
    whitelist.expire_due(s, rt.now())
    q = (select(FindingRow.category, FindingRow.severity, func.count())
         .where(FindingRow.suppressed_by.is_(None), FindingRow.state == "open"))
    if repository_id is not None:
        get_or_404(s, Repository, repository_id, "repository")
        q = q.where(FindingRow.image_id.in_(select(ImageTag.image_id).where(ImageTag.repository_id == repository_id)))
    out: dict[str, dict[str, int]] = {}
    for cat, sev, n in s.execute(q.group_by(FindingRow.category, FindingRow.severity)):
        out.setdefault(cat, {})[sev] = n
    return out


@router.get("/{finding_id}", summary="Show one finding with its full detail")
def get_finding(finding_id: PathId, s: Store, _: Viewer) -> dict[str, Any]:
    row = get_or_404(s, FindingRow, finding_id, "finding")
    out = finding_out(row)
    out["detail"] = row.detail
    return out


class StateIn(BaseModel):
    """Mark a finding handled or ignored (with a reason), or open again."""

    model_config = ConfigDict(extra="forbid")
    state: Literal["open", "handled", "ignored"]
    reason: str = Field(default="", max_length=2000)


@router.put("/{finding_id}/state", summary="Mark a finding handled/ignored with a reason")
def set_state(finding_id: PathId, body: StateIn, s: Store, rt: RT, user: Operator) -> dict[str, Any]:
    return finding_out(svc.set_state(s, finding_id, body.state, body.reason, user.username, rt.now()))
